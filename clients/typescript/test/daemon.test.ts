/** The client and supervisor against the real daemon in demo mode (built-in fakes). */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { inspect } from "node:util";
import {
  KataError,
  foldProviders,
  spawnDaemon,
  type DaemonHandle,
  type ExecutionStreamEvent,
  type ImageBlock,
  type JsonSchemaFormat,
  type RestartInfo,
  type ThinkingBlock,
  type StateEvent,
} from "../src/index.js";
import { Collected, FROM_SOURCE, dataDir, first } from "./helpers.js";

const WEATHER = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

describe("a supervised demo daemon", () => {
  const log = new Collected();
  const daemonLog: string[] = [];
  const restarts: RestartInfo[] = [];
  const errors: unknown[] = [];
  // The tokens the client sent, seen by its fetch: the test's only way to know them.
  const tokens = new Set<string>();
  const spy: typeof fetch = (input, init) => {
    const auth = new Headers(init?.headers).get("authorization");
    if (auth) tokens.add(auth.replace(/^Bearer /, ""));
    return fetch(input, init);
  };
  let daemon: DaemonHandle;

  before(async () => {
    daemon = await spawnDaemon({
      ...FROM_SOURCE,
      serveArgs: ["--demo", "--log-level", "DEBUG"],
      dataDir: dataDir(),
      logger: log,
      onLog: (line) => daemonLog.push(line),
      onRestart: (info) => restarts.push(info),
      client: { logger: log, fetch: spy },
    });
  });

  after(async () => {
    await daemon?.stop();
  });

  test("spawns, reads the ready line and answers status", async () => {
    assert.match(daemon.info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await daemon.client.health();
    assert.equal(health.pid, daemon.info.pid);
    assert.equal(health.demo, true);
    const listing = await daemon.client.providers();
    assert.deepEqual(
      listing.providers.map((p) => p.id),
      ["anthropic", "openai"],
    );
    assert.ok(listing.providers.every((p) => p.usable));
    const models = await daemon.client.models("anthropic");
    assert.equal(models.providers[0]?.provider, "anthropic");
    assert.ok((models.providers[0]?.models.length ?? 0) > 0);
  });

  test("runs a whole execution", async () => {
    const result = await daemon.client.execute({
      provider: "openai",
      messages: [{ role: "user", content: "Hello from the shell" }],
    });
    const text = result.content.map((block) => (block.type === "text" ? block.text : "")).join("");
    assert.equal(text, "Echo: Hello from the shell");
    assert.equal(result.provider, "openai");
    assert.ok((result.usage?.total_tokens ?? 0) > 0);
  });

  test("streams a tool call, ending in exactly one done", async () => {
    const events: ExecutionStreamEvent[] = [];
    const stream = daemon.client.stream({
      provider: "anthropic",
      messages: [{ role: "user", content: "Lisbon" }],
      tools: [WEATHER],
    });
    for await (const event of stream) events.push(event);
    const types = events.map((event) => event.type);
    assert.equal(types[0], "start");
    assert.ok(types.includes("tool_call_start"));
    assert.ok(types.includes("tool_call_end"));
    assert.deepEqual(
      types.filter((type) => type === "done" || type === "error"),
      ["done"],
    );
    const done = events.at(-1);
    assert.ok(done?.type === "done");
    const call = done.result.content.find((block) => block.type === "tool_call");
    assert.ok(call?.type === "tool_call");
    assert.equal(call.name, "get_weather");
    assert.deepEqual(call.arguments, { city: "Lisbon" });
    assert.equal(done.result.stop_reason, "tool_call");
    assert.ok(stream.executionId);
  });

  test("an agent-grade request: reasoning, an image and a structured answer", async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(32)]);
    const image: ImageBlock = {
      type: "image",
      source: { type: "base64", media_type: "image/png", data: png.toString("base64") },
    };
    const format: JsonSchemaFormat = {
      type: "json_schema",
      name: "caption",
      schema: {
        type: "object",
        properties: { caption: { type: "string" } },
        required: ["caption"],
        additionalProperties: false,
      },
    };
    for (const provider of ["anthropic", "openai"]) {
      const result = await daemon.client.execute({
        provider,
        messages: [{ role: "user", content: [{ type: "text", text: "Caption this" }, image] }],
        reasoning: { effort: "high" },
        response_format: format,
      });
      assert.deepEqual(result.parsed, { caption: "Echo: Caption this" });
      const thinking = result.content.find((block): block is ThinkingBlock => block.type === "thinking");
      assert.equal(thinking?.provider, provider);
    }
    await assert.rejects(
      daemon.client.execute({ provider: "anthropic", messages: [{ role: "user", content: "hi" }], top_p: 0.5 }),
      (error: unknown) => error instanceof KataError && error.status === 422,
    );
  });

  test("routes: made, named instead of a provider, falling through before any output", async () => {
    await daemon.client.putRoute("claude-else-gpt", {
      // The demo's Anthropic fake has no such model: it answers 404, and the route goes on.
      targets: [{ provider: "anthropic", model: "claude-retired-1" }, { provider: "openai" }],
      description: "Claude, else GPT",
    });
    const listed = await daemon.client.routes();
    assert.deepEqual(listed.routes.map((route) => route.name), ["claude-else-gpt"]);
    const plan = await daemon.client.planRoute("claude-else-gpt");
    assert.equal(plan.serves, 0);
    assert.deepEqual(plan.targets.map((target) => target.serves_now), [true, true]);
    const events: ExecutionStreamEvent[] = [];
    for await (const event of daemon.client.stream({
      route: "claude-else-gpt",
      messages: [{ role: "user", content: "hello" }],
    })) events.push(event);
    const fallback = events.find((event) => event.type === "fallback");
    assert.ok(fallback?.type === "fallback");
    assert.equal(fallback.passed_over.provider, "anthropic");
    assert.equal(fallback.passed_over.code, "model_not_found");
    assert.equal(fallback.provider, "openai");
    const last = events.at(-1);
    assert.ok(last?.type === "done");
    assert.equal(last.result.provider, "openai");
    assert.equal(last.result.route, "claude-else-gpt");
    await daemon.client.deleteRoute("claude-else-gpt");
    assert.deepEqual((await daemon.client.routes()).routes, []);
  });

  test("errors are KataErrors carrying the taxonomy body", async () => {
    await assert.rejects(
      daemon.client.setApiKey("anthropic", "sk-ant-oat01-not-an-api-key-000000000000"),
      (error: unknown) => {
        errors.push(error);
        assert.ok(error instanceof KataError);
        assert.equal(error.code, "invalid_request");
        assert.equal(error.status, 422);
        assert.match(error.remediation, /API key/);
        assert.equal(error.action, "fix_request");
        return true;
      },
    );
    const failing = { provider: "openai" as const, messages: [{ role: "user" as const, content: "!status 400" }] };
    await assert.rejects(daemon.client.execute(failing), (error: unknown) => {
      errors.push(error);
      assert.ok(error instanceof KataError);
      assert.equal(error.code, "invalid_request");
      assert.equal(error.retryable, false);
      return true;
    });
    const events: ExecutionStreamEvent[] = [];
    for await (const event of daemon.client.stream(failing)) events.push(event);
    const last = events.at(-1);
    assert.ok(last?.type === "error");
    assert.equal(last.error.code, "invalid_request");
    await assert.rejects(daemon.client.stream(failing).result(), KataError);
  });

  test("settings change and come back as state events", async () => {
    const feed = daemon.client.events();
    const events = feed[Symbol.asyncIterator]();
    const snapshot = await first(events, (e) => e.type === "snapshot", 10_000);
    assert.ok(snapshot.type === "snapshot");
    const status = await daemon.client.providerSettings("openai", { default_model: "gpt-5.4" });
    assert.equal(status.settings.default_model, "gpt-5.4");
    const changed = await first(
      events,
      (e) => e.type === "provider_status" && e.provider.id === "openai",
      10_000,
    );
    assert.ok(changed.type === "provider_status");
    assert.equal(changed.provider.settings.default_model, "gpt-5.4");
    const settings = await daemon.client.settings();
    assert.equal(typeof settings.openai_chatgpt_backend, "boolean");
    feed.close();
    await events.return?.(undefined);
  });

  test("a provider list that changes at run time: added and removed, folded from events", async () => {
    const feed = daemon.client.events();
    const events = feed[Symbol.asyncIterator]();
    const snapshot = await first(events, (e) => e.type === "snapshot", 10_000);
    let providers = foldProviders([], snapshot);
    const added = await daemon.client.addProvider({
      id: "local-llm",
      display_name: "Local LLM",
      wire: "openai-chat",
      base_url: "http://127.0.0.1:9/v1",
      auth: "none",
    });
    assert.equal(added.resolved_mode, "none");
    const announced = await first(events, (e) => e.type === "provider_added", 10_000);
    providers = foldProviders(providers, announced);
    assert.deepEqual(
      providers.map((p) => p.id),
      ["anthropic", "openai", "local-llm"],
    );
    await daemon.client.removeProvider("local-llm");
    const gone = await first(events, (e) => e.type === "provider_removed", 10_000);
    providers = foldProviders(providers, gone);
    assert.deepEqual(
      providers.map((p) => p.id),
      ["anthropic", "openai"],
    );
    await assert.rejects(daemon.client.removeProvider("local-llm"), (error: unknown) => {
      assert.ok(error instanceof KataError);
      assert.equal(error.status, 404);
      return true;
    });
    feed.close();
    await events.return?.(undefined);
  });

  test("kill -9: the supervisor restarts the daemon and events() goes on", async () => {
    const feed = daemon.client.events();
    const events = feed[Symbol.asyncIterator]();
    const before = await first(events, (e) => e.type === "snapshot", 10_000);
    assert.ok(before.type === "snapshot");
    const oldPid = daemon.info.pid;
    process.kill(oldPid, "SIGKILL");
    const after: StateEvent = await first(
      events,
      (e) => e.type === "snapshot" && e.daemon.pid !== oldPid,
      30_000,
    );
    assert.ok(after.type === "snapshot");
    assert.equal(restarts.length, 1);
    assert.equal(restarts[0]?.previous.pid, oldPid);
    assert.equal(restarts[0]?.signal, "SIGKILL");
    assert.notEqual(daemon.info.pid, oldPid);
    assert.equal(after.daemon.pid, daemon.info.pid);
    assert.ok(feed.reconnects >= 1);
    // The client follows the new daemon (new port, new token) without being told.
    const listing = await daemon.client.providers();
    assert.equal(listing.providers.length, 2);
    feed.close();
    await events.return?.(undefined);
  });

  test("the token never appears in anything the client logs, throws or shows", () => {
    assert.ok(log.lines.length > 5, "the client logged its calls");
    assert.ok(daemonLog.length > 5, "the daemon's log reached onLog");
    const shown = [
      ...log.lines,
      ...daemonLog,
      ...errors.map((error) => inspect(error, { depth: 5 })),
      inspect(daemon, { depth: 5, showHidden: true }),
      inspect(daemon.client, { depth: 5, showHidden: true }),
      JSON.stringify(daemon.info),
    ].join("\n");
    assert.equal(tokens.size, 2, "a new daemon, a new token");
    for (const token of tokens) {
      assert.ok(token.length >= 20);
      assert.ok(!shown.includes(token), "a daemon token leaked");
    }
  });
});
