/** The self-contained daemon that `make dist` builds (no Python needed), spawned through
 * `spawnDaemon`: it starts, answers, and runs one execution, streamed and whole. */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { spawnDaemon } from "../src/index.js";
import { ROOT, dataDir } from "./helpers.js";

const EXECUTABLE =
  process.env.KATA_DIST_EXECUTABLE ?? join(ROOT, "dist", "kata-providers", "kata-providers");

test("the built executable serves an execution through spawnDaemon", async () => {
  assert.ok(existsSync(EXECUTABLE), `${EXECUTABLE} is missing: run \`make dist\` first`);
  const started = performance.now();
  const daemon = await spawnDaemon({
    command: EXECUTABLE,
    serveArgs: ["--demo"],
    dataDir: dataDir(),
    // No Python on the way: the daemon finds nothing of the checkout or the virtualenv.
    env: { PATH: "/usr/bin:/bin", PYTHONPATH: undefined, VIRTUAL_ENV: undefined },
  });
  try {
    const readyMs = performance.now() - started;
    const health = await daemon.client.health();
    assert.equal(health.demo, true);
    const result = await daemon.client.execute({
      provider: "anthropic",
      messages: [{ role: "user", content: "frozen and still talking" }],
    });
    const firstMs = performance.now() - started;
    const text = result.content.map((b) => (b.type === "text" ? b.text : "")).join("");
    assert.equal(text, "Echo: frozen and still talking");
    const streamed = await daemon.client
      .stream({ provider: "openai", messages: [{ role: "user", content: "and streaming" }] })
      .result();
    assert.equal(streamed.provider, "openai");
    console.log(
      `# built executable: ready line ${Math.round(readyMs)} ms, first execution done ${Math.round(firstMs)} ms after spawn`,
    );
  } finally {
    await daemon.stop();
  }
});
