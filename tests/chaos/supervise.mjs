// The shell's side in a chaos run: the TypeScript client's supervisor (built in
// clients/typescript/dist) starts the daemon and restarts it when the run kills it (kill -9).
// Prints one JSON line each time a daemon is ready: {"event": "ready", url, token, pid}.
// Arguments: the daemon's command and its arguments before `serve`. Ends when stdin closes.
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const [command, ...args] = process.argv.slice(2);
const client = pathToFileURL(resolve(process.env.KATA_TS_CLIENT, "dist/src/index.js"));
const { spawnDaemon } = await import(client.href);

function announce(handle) {
  return handle.endpoint().then(({ url, token }) => {
    process.stdout.write(JSON.stringify({ event: "ready", url, token, pid: handle.info.pid }) + "\n");
  });
}

let handle;
handle = await spawnDaemon({
  command,
  args,
  maxRestarts: 1000,
  restartWindowMs: 1000,
  onRestart: (info) => {
    process.stdout.write(JSON.stringify({ event: "restart", previous: info.previous.pid }) + "\n");
    // The handle's endpoint() waits for the new daemon's ready line.
    setTimeout(() => announce(handle).catch((e) => console.error(String(e))), 0);
  },
  onGiveUp: (error) => {
    process.stdout.write(JSON.stringify({ event: "gave_up", reason: error.message }) + "\n");
  },
  onLog: (line) => process.stderr.write(line + "\n"),
});
await announce(handle);
process.stdin.resume();
process.stdin.on("end", async () => {
  await handle.stop(5000);
  process.exit(0);
});
