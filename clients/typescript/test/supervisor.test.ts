/** The supervisor's own rules, with stand-in daemons (small Node scripts): the command line it
 * runs, bounded restarts, and why a start failed. And the SSE reader on awkward chunking. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DaemonStartError, spawnDaemon, type RestartInfo } from "../src/index.js";
import { readSse } from "../src/sse.js";

/** A stand-in daemon: `node -e <script>`; the script sees the supervisor's arguments. */
function standIn(script: string): { command: string; args: string[] } {
  return { command: process.execPath, args: ["-e", script, "--"] };
}

const READY_THEN_DIE = `
  const argv = process.argv.slice(1);
  console.log(JSON.stringify({ event: "ready", url: "http://127.0.0.1:9", port: 9, pid: process.pid,
    version: argv.join(" "), token: "stand-in-token" }));
  setTimeout(() => process.exit(3), 50);
`;

test("runs serve --port 0 --parent-pid, restarts a dying daemon with backoff, then gives up", async () => {
  const restarts: RestartInfo[] = [];
  let gaveUp: Error | undefined;
  const started = Date.now();
  const daemon = await spawnDaemon({
    ...standIn(READY_THEN_DIE),
    serveArgs: ["--demo"],
    parentPid: 4242,
    maxRestarts: 3,
    onRestart: (info) => restarts.push(info),
    onGiveUp: (error) => (gaveUp = error),
  });
  assert.equal(daemon.info.version, "serve --port 0 --parent-pid 4242 --demo");
  while (!gaveUp && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
  assert.ok(gaveUp, "the supervisor gave up");
  assert.match(gaveUp.message, /died 4 times/);
  assert.deepEqual(
    restarts.map((r) => r.delayMs),
    [250, 500, 1000],
  );
  assert.ok(restarts.every((r) => r.exitCode === 3));
  await assert.rejects(daemon.client.health(), /died 4 times/);
  await daemon.stop();
});

test("a daemon that cannot start says why", async () => {
  await assert.rejects(
    spawnDaemon(standIn("process.stderr.write('data folder locked\\n'); process.exit(4)")),
    (error: unknown) => {
      assert.ok(error instanceof DaemonStartError);
      assert.equal(error.exitCode, 4);
      assert.match(error.message, /another daemon already runs on this data folder/);
      assert.deepEqual(error.stderr, ["data folder locked"]);
      return true;
    },
  );
  await assert.rejects(spawnDaemon(standIn("console.log('hello')")), /not its JSON ready line/);
  await assert.rejects(
    spawnDaemon({ ...standIn("setTimeout(() => {}, 60000)"), readyTimeoutMs: 300 }),
    /no ready line within 300 ms/,
  );
  await assert.rejects(spawnDaemon({ command: "/nonexistent/kata-providers" }), DaemonStartError);
});

test("the SSE reader survives any chunking", async () => {
  const wire =
    ": ping\r\n\r\nevent: start\r\nid: 7\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n" +
    "data: plain\n\nevent: done\rdata: {}\r\r";
  for (const size of [1, 2, 3, 5, 8, wire.length]) {
    const bytes = new TextEncoder().encode(wire);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
        controller.close();
      },
    });
    const messages = [];
    for await (const message of readSse(body)) messages.push(message);
    assert.deepEqual(
      messages,
      [
        { event: "start", data: '{"a":\n1}', id: "7" },
        { event: "message", data: "plain", id: "7" },
        { event: "done", data: "{}", id: "7" },
      ],
      `chunks of ${size}`,
    );
  }
});
