/** The official TypeScript SDKs, as published on npm, pointed at the daemon's compatible routes
 * (in front of the loopback fakes): the same results as pointed at the fakes directly, and the
 * SDKs' own exception types for a 401 and a 429. (openai 6.30.1: v7 needs Node 22.) */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { spawnDaemon, type DaemonHandle } from "../src/index.js";
import { FROM_SOURCE, PYTHON, ROOT, dataDir } from "./helpers.js";

const ANTHROPIC_KEY = "sk-ant-api03-fake-key";
const OPENAI_KEY = "sk-proj-fake-key";
const MODEL = "claude-sonnet-5-5";
const WEATHER = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: { type: "object" as const, properties: { city: { type: "string" } } },
};

function withoutIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).filter(([k]) => k !== "id").map(([k, v]) => [k, withoutIds(v)]),
    );
  }
  return value;
}

describe("the official SDKs through the daemon", () => {
  let fakes: ChildProcess;
  let daemon: DaemonHandle;
  let urls: { anthropic: string; openai: string };
  let via: { anthropic: Anthropic; openai: OpenAI };
  let direct: { anthropic: Anthropic; openai: OpenAI };

  before(async () => {
    fakes = spawn(PYTHON, ["-m", "adapters.fakes"], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] });
    urls = await new Promise((resolve) => {
      createInterface({ input: fakes.stdout! }).once("line", (line) => resolve(JSON.parse(line)));
    });
    daemon = await spawnDaemon({
      ...FROM_SOURCE,
      dataDir: dataDir(),
      env: {
        ANTHROPIC_BASE_URL: urls.anthropic,
        ANTHROPIC_API_KEY: ANTHROPIC_KEY,
        OPENAI_BASE_URL: urls.openai,
        OPENAI_API_KEY: OPENAI_KEY,
        ANTHROPIC_AUTH_TOKEN: undefined,
        ANTHROPIC_PROFILE: undefined,
      },
    });
    const { url, token } = await daemon.endpoint();
    via = {
      anthropic: new Anthropic({ baseURL: `${url}/anthropic`, apiKey: token, maxRetries: 0 }),
      openai: new OpenAI({ baseURL: `${url}/openai/v1`, apiKey: token, maxRetries: 0 }),
    };
    direct = {
      anthropic: new Anthropic({ baseURL: urls.anthropic, apiKey: ANTHROPIC_KEY, maxRetries: 0 }),
      openai: new OpenAI({ baseURL: urls.openai, apiKey: OPENAI_KEY, maxRetries: 0 }),
    };
  });

  after(async () => {
    await daemon?.stop();
    fakes?.kill("SIGTERM");
  });

  test("Anthropic: whole, streamed (finalMessage) and tool use, as direct", async () => {
    const ask = { model: MODEL, max_tokens: 100, messages: [{ role: "user" as const, content: "hi there" }] };
    const whole = await via.anthropic.messages.create(ask);
    assert.deepEqual(withoutIds(whole), withoutIds(await direct.anthropic.messages.create(ask)));
    const stream = via.anthropic.messages.stream(ask);
    const texts: string[] = [];
    stream.on("text", (text) => texts.push(text));
    const final = await stream.finalMessage();
    assert.equal(texts.join(""), "Echo: hi there");
    assert.deepEqual(withoutIds(final), withoutIds(await direct.anthropic.messages.stream(ask).finalMessage()));
    const tools = { ...ask, tools: [WEATHER], messages: [{ role: "user" as const, content: "Lisbon" }] };
    const called = await via.anthropic.messages.stream(tools).finalMessage();
    assert.equal(called.stop_reason, "tool_use");
    const use = called.content.find((block) => block.type === "tool_use");
    assert.ok(use && use.type === "tool_use");
    assert.deepEqual(use.input, { city: "Lisbon" });
  });

  test("OpenAI: responses whole and streamed, chat streamed, as direct", async () => {
    const whole = await via.openai.responses.create({ model: "gpt-5.4", input: "hello there" });
    assert.equal(whole.output_text, (await direct.openai.responses.create({ model: "gpt-5.4", input: "hello there" })).output_text);
    const kinds: string[] = [];
    const stream = via.openai.responses.stream({ model: "gpt-5.4", input: "hello there" });
    for await (const event of stream) kinds.push(event.type);
    const final = await stream.finalResponse();
    const said = final.output.flatMap((item) => (item.type === "message" ? item.content : []));
    assert.deepEqual(
      said.map((part) => (part.type === "output_text" ? part.text : "")),
      ["Echo: hello there"],
    );
    const directKinds: string[] = [];
    for await (const event of direct.openai.responses.stream({ model: "gpt-5.4", input: "hello there" })) {
      directKinds.push(event.type);
    }
    assert.deepEqual(kinds, directKinds);
    const chunks = await via.openai.chat.completions.create({
      model: "gpt-5.4",
      messages: [{ role: "user", content: "two words" }],
      stream: true,
    });
    let text = "";
    for await (const chunk of chunks) text += chunk.choices[0]?.delta.content ?? "";
    assert.equal(text, "Echo: two words");
  });

  test("a 401 and a 429 are the SDKs' own exception types", async () => {
    const { url } = await daemon.endpoint();
    const stranger = new Anthropic({ baseURL: `${url}/anthropic`, apiKey: "not-the-token", maxRetries: 0 });
    await assert.rejects(
      stranger.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: "x" }] }),
      Anthropic.AuthenticationError,
    );
    const strangerOpenAI = new OpenAI({ baseURL: `${url}/openai/v1`, apiKey: "not-the-token", maxRetries: 0 });
    await assert.rejects(strangerOpenAI.models.list(), OpenAI.AuthenticationError);
    // The fake answers `!status 429` with the provider's own 429; the daemon passes it on.
    await assert.rejects(
      via.anthropic.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: "user", content: "!status 429" }] }),
      Anthropic.RateLimitError,
    );
    await assert.rejects(
      via.openai.responses.create({ model: "gpt-5.4", input: "!status 429" }),
      OpenAI.RateLimitError,
    );
  });
});
