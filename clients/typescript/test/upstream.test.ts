/** Against the loopback fakes (`python -m adapters.fakes`), which report how each request ended:
 * aborting a stream closes the upstream request within a second. */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { spawnDaemon, type DaemonHandle, type ExecutionStreamEvent } from "../src/index.js";
import { FROM_SOURCE, PYTHON, ROOT, dataDir } from "./helpers.js";

interface RequestEnd {
  event: "request_end";
  method: string;
  path: string;
  complete: boolean;
  at: number;
}

describe("a daemon in front of the fakes", () => {
  let fakes: ChildProcess;
  let daemon: DaemonHandle;
  const ends: RequestEnd[] = [];
  const waiters: Array<() => void> = [];

  before(async () => {
    // Each stream event is 0.2 s apart: a long answer takes seconds, an abort shows at once.
    fakes = spawn(PYTHON, ["-m", "adapters.fakes", "--drip-s", "0.2", "--report"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = createInterface({ input: fakes.stdout! });
    const ready = await new Promise<{ anthropic: string; openai: string }>((resolve) => {
      lines.on("line", (line) => {
        const message = JSON.parse(line) as { event: string };
        if (message.event === "ready") resolve(message as never);
        if (message.event === "request_end") {
          ends.push({ ...(message as RequestEnd), at: performance.now() });
          waiters.splice(0).forEach((wake) => wake());
        }
      });
    });
    daemon = await spawnDaemon({
      ...FROM_SOURCE,
      dataDir: dataDir(),
      env: {
        ANTHROPIC_BASE_URL: ready.anthropic,
        ANTHROPIC_API_KEY: "sk-ant-api03-fake-key",
        OPENAI_BASE_URL: ready.openai,
        OPENAI_API_KEY: "sk-proj-fake-key",
        ANTHROPIC_AUTH_TOKEN: undefined,
        ANTHROPIC_PROFILE: undefined,
      },
    });
  });

  after(async () => {
    await daemon?.stop();
    fakes?.kill("SIGTERM");
  });

  async function streamEnded(path: string, ms: number): Promise<RequestEnd> {
    const deadline = performance.now() + ms;
    for (;;) {
      const found = ends.find((end) => end.path === path && end.method === "POST");
      if (found) return found;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`the fake saw no end of ${path} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, left);
      });
    }
  }

  for (const [provider, path] of [
    ["anthropic", "/v1/messages"],
    ["openai", "/v1/responses"],
  ] as const) {
    test(`aborting a ${provider} stream ends it and closes the upstream within 1 s`, async () => {
      ends.length = 0;
      const controller = new AbortController();
      const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");
      const events: ExecutionStreamEvent[] = [];
      let abortedAt = 0;
      for await (const event of daemon.client.stream(
        { provider, messages: [{ role: "user", content: words }] },
        { signal: controller.signal },
      )) {
        events.push(event);
        if (event.type === "text_delta" && abortedAt === 0) {
          abortedAt = performance.now();
          controller.abort();
        }
      }
      const endedAt = performance.now();
      const last = events.at(-1);
      assert.ok(last?.type === "error", "the stream ends with one terminal error");
      assert.equal(last.error.code, "cancelled");
      assert.equal(events.filter((e) => e.type === "done" || e.type === "error").length, 1);
      assert.ok(endedAt - abortedAt < 1000, `the stream ended ${endedAt - abortedAt} ms after the abort`);
      const upstream = await streamEnded(path, 1500);
      assert.equal(upstream.complete, false, "the fake saw the request closed early");
      assert.ok(
        upstream.at - abortedAt < 1000,
        `the upstream closed ${Math.round(upstream.at - abortedAt)} ms after the abort`,
      );
      const status = await daemon.client.provider(provider);
      assert.equal(status.usable, true, "an abort says nothing against the provider");
    });
  }

  test("a stream read to its end is whole upstream too", async () => {
    ends.length = 0;
    const result = await daemon.client
      .stream({ provider: "anthropic", messages: [{ role: "user", content: "two words" }] })
      .result();
    assert.equal(
      result.content.map((b) => (b.type === "text" ? b.text : "")).join(""),
      "Echo: two words",
    );
    const upstream = await streamEnded("/v1/messages", 3000);
    assert.equal(upstream.complete, true);
  });
});
