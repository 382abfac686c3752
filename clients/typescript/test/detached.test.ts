/** Every method of every exported class works taken off its object (issue 26): the shell
 * destructures handles and passes methods as callbacks. Each method is called detached; none
 * may fail because it lost `this` (a TypeError about private members or undefined). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EventFeed, ExecutionStream, KataClient, spawnDaemon } from "../src/index.js";

const READY = `
  console.log(JSON.stringify({ event: "ready", url: "http://127.0.0.1:9", port: 9,
    pid: process.pid, version: "stand-in", token: "stand-in-token" }));
  process.on("SIGTERM", () => process.exit(0));
  setInterval(() => {}, 1000);
`;

/** A fetch that answers every call with an empty JSON object, or an SSE stream that ends. */
const answering: typeof fetch = async (input) => {
  const url = String(input instanceof Request ? input.url : input);
  if (url.includes("/v1/events") || url.includes("stream")) {
    return new Response("event: done\ndata: {\"type\":\"done\",\"result\":{}}\n\n", {
      headers: { "content-type": "text/event-stream" },
    });
  }
  return Response.json({}, { status: 200 });
};

function methods(prototype: object): string[] {
  return Reflect.ownKeys(prototype).filter(
    (key): key is string =>
      typeof key === "string" &&
      key !== "constructor" &&
      typeof Object.getOwnPropertyDescriptor(prototype, key)?.value === "function",
  );
}

/** Call a detached method; whatever it returns or rejects with, it must not be a lost `this`. */
async function callDetached(owner: string, name: string, method: unknown, args: unknown[]) {
  assert.equal(typeof method, "function", `${owner}.${name}`);
  try {
    let value = (method as (...a: unknown[]) => unknown)(...args);
    if (value && typeof (value as Promise<unknown>).then === "function") value = await value;
  } catch (error) {
    assert.ok(
      !(error instanceof TypeError),
      `${owner}.${name} called detached threw ${String(error)}`,
    );
  }
}

test("KataClient's methods work detached", { timeout: 10_000 }, async () => {
  const client = new KataClient({
    endpoint: { url: "http://127.0.0.1:9", token: "t" },
    fetch: answering,
    maxRetries: 0,
  });
  const names = methods(KataClient.prototype);
  assert.ok(names.length >= 15, `found ${names.length} methods`);
  for (const name of names) {
    const { [name]: method } = client as unknown as Record<string, unknown>;
    const args: unknown[] = name === "settings" || name === "events" ? [] : ["anthropic", undefined];
    if (name === "execute" || name === "stream") args[0] = { messages: [] };
    await callDetached("KataClient", name, method, args);
  }
  const { events } = client;
  const feed = events();
  const { close } = feed;
  close();
});

test("ExecutionStream's and EventFeed's methods work detached", { timeout: 10_000 }, async () => {
  const stream = new ExecutionStream(async () => answering("http://x/stream"));
  const { result, abort } = stream;
  const ended = await result();
  assert.deepEqual(ended, {});
  abort();
  for (const name of methods(ExecutionStream.prototype)) {
    await callDetached("ExecutionStream", name, (stream as unknown as Record<string, unknown>)[name], []);
  }
  const quiet = { debug() {}, warn() {} };
  const feed = new EventFeed(async () => answering("http://x/v1/events"), undefined, undefined, quiet);
  const { close } = feed;
  const iterate = feed[Symbol.asyncIterator];
  const iterator = iterate();
  const first = await iterator.next();
  assert.equal(first.done, false);
  close();
  for (const name of methods(EventFeed.prototype)) {
    await callDetached("EventFeed", name, (feed as unknown as Record<string, unknown>)[name], []);
  }
});

test("the daemon handle's methods work detached: const { client, stop } = await spawnDaemon()", { timeout: 10_000 }, async () => {
  const handle = await spawnDaemon({ command: process.execPath, args: ["-e", READY, "--"] });
  // The stand-in ends with this process even if `stop` fails.
  const child = (handle as unknown as { info: { pid: number } }).info.pid;
  process.once("exit", () => { try { process.kill(child, "SIGKILL"); } catch {} });
  const { client, endpoint, stop } = handle;
  assert.ok(client instanceof KataClient);
  const where = await endpoint();
  assert.equal(where.token, "stand-in-token");
  for (const name of methods(Object.getPrototypeOf(handle) as object)) {
    if (name === "stop" || name === "start") continue; // stop is called below; start ran
    await callDetached("DaemonHandle", name, (handle as unknown as Record<string, unknown>)[name], []);
  }
  await stop(2000);
  await stop(); // twice is harmless
});
