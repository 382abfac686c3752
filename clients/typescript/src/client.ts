/**
 * The daemon's client: typed calls, whole and streamed executions, and the state event feed.
 * It never logs, throws or exposes its token.
 */
import type { components } from "./api.js";
import { bindMethods } from "./bind.js";
import { KataAbortError, KataConnectionError, KataError, errorBody } from "./errors.js";
import { readSse } from "./sse.js";

type Schemas = components["schemas"];
export type ProviderId = Schemas["ProviderId"];
export type ProviderList = Schemas["ProviderList"];
export type ProviderStatus = Schemas["ProviderStatus"];
export type ProviderSettingsUpdate = Schemas["ProviderSettingsUpdate"];
export type EndpointAdd = Schemas["EndpointAdd"];
export type DaemonSettings = Schemas["DaemonSettings"];
export type DaemonSettingsUpdate = Schemas["DaemonSettingsUpdate"];
export type ModelList = Schemas["ModelList"];
export type HealthResponse = Schemas["HealthResponse"];
export type ExecutionRequest = Schemas["ExecutionRequest"];
export type ExecutionResult = Schemas["ExecutionResult"];
export type ExecutionStreamEvent = Schemas["ExecutionStreamEvent"];
export type StateEvent = Schemas["StateEvent"];
export type CancelResult = Schemas["CancelResult"];
export type UsageReport = Schemas["UsageReport"];
export type ExecutionPage = Schemas["ExecutionPage"];
/** What a message holds and a model returns (thinking carries its provider and proof). */
export type ContentBlock = ExecutionResult["content"][number];
export type ImageBlock = Schemas["ImageBlock"];
export type DocumentBlock = Schemas["DocumentBlock"];
export type ThinkingBlock = Schemas["ThinkingBlock"];
export type RedactedThinkingBlock = Schemas["RedactedThinkingBlock"];
/** How hard the model reasons, the shape of its answer, and prompt caching. */
export type Reasoning = Schemas["Reasoning"];
export type JsonSchemaFormat = Schemas["JsonSchemaFormat"];
export type CacheSettings = Schemas["CacheSettings"];
export type ModelCapabilities = Schemas["ModelCapabilities"];
/** Routes: targets tried in order, falling through before any output. */
export type Route = Schemas["Route"];
export type RouteSpec = Schemas["RouteSpec"];
export type RouteList = Schemas["RouteList"];
export type RoutePlan = Schemas["RoutePlan"];
export type TargetNow = Schemas["TargetNow"];
export type PassedOver = Schemas["PassedOver"];

/** Where the daemon listens and the token it wants. */
export interface Endpoint {
  url: string;
  token: string;
}

/** Where the client writes what it does (never a token or a key). */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface ClientOptions {
  /** The daemon's URL and token, or a function giving them (a supervisor's, across restarts). */
  endpoint: Endpoint | (() => Promise<Endpoint>);
  /** Retries of a call that never reached the daemon, or of an idempotent one cut off. Default 2. */
  maxRetries?: number;
  /** How long a whole call may take, in ms. Default 10 minutes, as the official SDKs. */
  timeoutMs?: number;
  logger?: Logger;
  fetch?: typeof fetch;
}

export interface CallOptions {
  signal?: AbortSignal;
}

const QUIET: Logger = { debug: () => undefined, warn: () => undefined };

export class KataClient {
  readonly #endpoint: () => Promise<Endpoint>;
  readonly #fetch: typeof fetch;
  readonly #maxRetries: number;
  readonly #timeoutMs: number;
  readonly #log: Logger;

  constructor(options: ClientOptions) {
    const endpoint = options.endpoint;
    this.#endpoint = typeof endpoint === "function" ? endpoint : async () => endpoint;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#maxRetries = options.maxRetries ?? 2;
    this.#timeoutMs = options.timeoutMs ?? 600_000;
    this.#log = options.logger ?? QUIET;
    bindMethods(this, KataClient.prototype);
  }

  /** Liveness: version, pid, uptime, problems. */
  health(options?: CallOptions): Promise<HealthResponse> {
    return this.#json("GET", "/v1/health", undefined, options);
  }

  /** Every provider's status: auth mode, health, capabilities, budget. */
  providers(options?: CallOptions): Promise<ProviderList> {
    return this.#json("GET", "/v1/providers", undefined, options);
  }

  provider(provider: ProviderId, options?: CallOptions): Promise<ProviderStatus> {
    return this.#json("GET", `/v1/providers/${provider}`, undefined, options);
  }

  /** Models of one provider (or both), with where the list came from. */
  models(
    provider?: ProviderId,
    options?: CallOptions & { refresh?: boolean },
  ): Promise<ModelList> {
    const query = new URLSearchParams();
    if (provider) query.set("provider", provider);
    if (options?.refresh) query.set("refresh", "true");
    const suffix = query.size ? `?${query}` : "";
    return this.#json("GET", `/v1/models${suffix}`, undefined, options);
  }

  /** Store an API key (kept in the OS keyring or a 0600 file; never shown again). */
  setApiKey(
    provider: ProviderId,
    apiKey: string,
    options?: CallOptions & { verify?: boolean },
  ): Promise<ProviderStatus> {
    const body = { api_key: apiKey, verify: options?.verify ?? false };
    return this.#json("PUT", `/v1/providers/${provider}/api-key`, body, options);
  }

  /** Add a provider: a local or hosted endpoint that speaks the OpenAI or Anthropic wire. Its
   * key, if given, is stored like any other and never comes back. */
  addProvider(provider: EndpointAdd, options?: CallOptions): Promise<ProviderStatus> {
    return this.#json("POST", "/v1/providers", provider, options);
  }

  /** Remove a provider you added, and its key. */
  async removeProvider(provider: ProviderId, options?: CallOptions): Promise<void> {
    const signal = withTimeout(options?.signal, this.#timeoutMs);
    const response = await this.#open("DELETE", `/v1/providers/${provider}`, undefined, signal, true);
    await response.body?.cancel();
  }

  /** Every route (a named list of targets a request may name instead of a provider). */
  routes(options?: CallOptions): Promise<RouteList> {
    return this.#json("GET", "/v1/routes", undefined, options);
  }

  /** Store or replace a route: its targets, tried in order. */
  putRoute(name: string, route: RouteSpec, options?: CallOptions): Promise<Route> {
    return this.#json("PUT", `/v1/routes/${encodeURIComponent(name)}`, route, options);
  }

  /** Where the route's next text request would go now, and why each target before it would
   * be passed over (its breaker, a pause after a 429, a spent budget, no credential). */
  planRoute(name: string, options?: CallOptions): Promise<RoutePlan> {
    return this.#json("GET", `/v1/routes/${encodeURIComponent(name)}/plan`, undefined, options);
  }

  /** Forget a route. */
  async deleteRoute(name: string, options?: CallOptions): Promise<void> {
    const signal = withTimeout(options?.signal, this.#timeoutMs);
    const response = await this.#open("DELETE", `/v1/routes/${encodeURIComponent(name)}`, undefined, signal, true);
    await response.body?.cancel();
  }

  deleteApiKey(provider: ProviderId, options?: CallOptions): Promise<ProviderStatus> {
    return this.#json("DELETE", `/v1/providers/${provider}/api-key`, undefined, options);
  }

  /** Change a provider's settings (auth mode, fallback, default model, budget, cap). */
  providerSettings(
    provider: ProviderId,
    update: ProviderSettingsUpdate,
    options?: CallOptions,
  ): Promise<ProviderStatus> {
    return this.#json("PUT", `/v1/providers/${provider}/settings`, update, options);
  }

  /** The daemon-wide settings; with `update`, change them first. */
  settings(update?: DaemonSettingsUpdate, options?: CallOptions): Promise<DaemonSettings> {
    if (update === undefined) return this.#json("GET", "/v1/settings", undefined, options);
    return this.#json("PUT", "/v1/settings", update, options);
  }

  /** Re-read credentials and probe the provider with a models call. */
  check(provider: ProviderId, options?: CallOptions): Promise<ProviderStatus> {
    return this.#json("POST", `/v1/providers/${provider}/check`, undefined, options);
  }

  /** Run one request and return the whole result; a failure throws `KataError`. */
  execute(request: ExecutionRequest, options?: CallOptions): Promise<ExecutionResult> {
    return this.#json("POST", "/v1/executions", { ...request, stream: false }, options);
  }

  /**
   * Run one request, streamed: `start`, deltas, retries, and exactly one terminal `done` or
   * `error` event. Aborting `signal` (or leaving the loop) closes the connection, and the daemon
   * cancels the upstream request.
   */
  stream(request: ExecutionRequest, options?: CallOptions): ExecutionStream {
    return new ExecutionStream((signal) =>
      this.#open("POST", "/v1/executions", { ...request, stream: true }, signal, false),
    options?.signal);
  }

  cancel(executionId: string, options?: CallOptions): Promise<CancelResult> {
    return this.#json("POST", `/v1/executions/${executionId}/cancel`, undefined, options);
  }

  /** Tokens and cost from the ledger. */
  usage(
    query?: { since?: string; until?: string; group_by?: string },
    options?: CallOptions,
  ): Promise<UsageReport> {
    return this.#json("GET", `/v1/usage${toQuery(query)}`, undefined, options);
  }

  /** Recent executions from the ledger, newest first. */
  executions(
    query?: { limit?: number; cursor?: string; provider?: string; agent?: string; outcome?: string },
    options?: CallOptions,
  ): Promise<ExecutionPage> {
    return this.#json("GET", `/v1/executions${toQuery(query)}`, undefined, options);
  }

  /**
   * State events: a `snapshot` first, then each change. The feed reconnects on its own when the
   * connection drops (a daemon restart included), resuming from the last event id: missed
   * events are replayed, or a fresh `snapshot` comes when they are gone.
   */
  events(options?: { lastEventId?: string; signal?: AbortSignal }): EventFeed {
    return new EventFeed(
      (lastEventId, signal) =>
        this.#open(
          "GET",
          "/v1/events",
          undefined,
          signal,
          true,
          lastEventId ? { "Last-Event-ID": lastEventId } : {},
        ),
      options?.lastEventId,
      options?.signal,
      this.#log,
    );
  }

  async #json<T>(method: string, path: string, body: unknown, options?: CallOptions): Promise<T> {
    const signal = withTimeout(options?.signal, this.#timeoutMs);
    const response = await this.#open(method, path, body, signal, method !== "POST");
    try {
      return (await response.json()) as T;
    } catch (cause) {
      if (signal.aborted) throw abortOrTimeout(options?.signal, cause);
      throw new KataConnectionError(`The daemon's answer to ${method} ${path} was cut off.`, {
        cause,
      });
    }
  }

  /** Send one request; an error answer throws `KataError`. Connection failures are retried
   * (after asking the endpoint again: a restarted daemon has a new port and token) when the
   * request cannot have reached the daemon, or when it is idempotent. */
  async #open(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    idempotent: boolean,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const { url, token } = await this.#endpoint();
      const started = performance.now();
      let response: Response;
      try {
        response = await this.#fetch(`${url}${path}`, {
          method,
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: path === "/v1/events" || isStreamed(body) ? "text/event-stream" : "application/json",
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
            ...headers,
          },
          body: body === undefined ? null : JSON.stringify(body),
          signal: signal ?? null,
        });
      } catch (cause) {
        if (signal?.aborted) throw abortOrTimeout(signal, cause);
        const refused = connectionRefused(cause);
        if (attempt < this.#maxRetries && (refused || idempotent)) {
          this.#log.debug("daemon unreachable; retrying", { method, path, attempt: attempt + 1 });
          await sleep(backoff(attempt), signal);
          continue;
        }
        throw new KataConnectionError(`The daemon could not be reached (${method} ${path}).`, {
          cause,
        });
      }
      const elapsedMs = Math.round(performance.now() - started);
      this.#log.debug("daemon call", { method, path, status: response.status, elapsedMs });
      if (response.ok) return response;
      const text = await response.text().catch(() => "");
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const error = new KataError(errorBody(parsed, response.status), response.status);
      this.#log.warn("daemon error", { method, path, status: response.status, code: error.code });
      throw error;
    }
  }
}

/** A streamed execution: iterate it once for its events, or await `result()`. */
export class ExecutionStream implements AsyncIterable<ExecutionStreamEvent> {
  readonly #open: (signal: AbortSignal) => Promise<Response>;
  readonly #controller = new AbortController();
  readonly #signal: AbortSignal | undefined;
  #used = false;
  /** The execution's id, once the `start` (or `queued`) event has arrived. */
  executionId: string | undefined;

  constructor(open: (signal: AbortSignal) => Promise<Response>, signal?: AbortSignal) {
    this.#open = open;
    this.#signal = signal;
    bindMethods(this, ExecutionStream.prototype);
  }

  /** Close the connection; the daemon cancels the upstream request. */
  abort(): void {
    this.#controller.abort();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ExecutionStreamEvent> {
    if (this.#used) throw new Error("An execution stream can be read once.");
    this.#used = true;
    const signal = this.#signal
      ? AbortSignal.any([this.#signal, this.#controller.signal])
      : this.#controller.signal;
    let response: Response;
    try {
      response = await this.#open(signal);
    } catch (error) {
      if (error instanceof KataAbortError) {
        yield terminal(error);
        return;
      }
      throw error; // refused before it started (no credential, bad request, budget): KataError
    }
    try {
      for await (const message of readSse(response.body!)) {
        const event = JSON.parse(message.data) as ExecutionStreamEvent;
        if ((event.type === "start" || event.type === "queued") && "id" in event) {
          this.executionId = event.id;
        }
        yield event;
        if (event.type === "done" || event.type === "error") return;
      }
      yield terminal(
        new KataConnectionError("The daemon's stream ended before the execution finished."),
      );
    } catch (cause) {
      if (signal.aborted) {
        yield terminal(new KataAbortError({ cause }));
        return;
      }
      yield terminal(
        new KataConnectionError("The connection to the daemon broke mid-stream.", { cause }),
      );
    } finally {
      this.#controller.abort(); // a consumer that leaves early closes the connection
    }
  }

  /** Read to the end: the whole result, or the `KataError` the stream ended with. */
  async result(): Promise<ExecutionResult> {
    for await (const event of this) {
      if (event.type === "done") return event.result;
      if (event.type === "error") throw new KataError(event.error);
    }
    throw new KataConnectionError("The stream ended without a result.");
  }
}

/** The state event feed; `lastEventId` is where a new feed would resume. */
export class EventFeed implements AsyncIterable<StateEvent> {
  readonly #open: (lastEventId: string | undefined, signal: AbortSignal) => Promise<Response>;
  readonly #signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #log: Logger;
  lastEventId: string | undefined;
  /** How many times the feed has reconnected. */
  reconnects = 0;

  constructor(
    open: (lastEventId: string | undefined, signal: AbortSignal) => Promise<Response>,
    lastEventId: string | undefined,
    signal: AbortSignal | undefined,
    log: Logger,
  ) {
    this.#open = open;
    this.lastEventId = lastEventId;
    this.#signal = signal
      ? AbortSignal.any([signal, this.#controller.signal])
      : this.#controller.signal;
    this.#log = log;
    bindMethods(this, EventFeed.prototype);
  }

  /** Stop the feed; the loop over it ends. */
  close(): void {
    this.#controller.abort();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<StateEvent> {
    let failures = 0;
    while (!this.#signal.aborted) {
      try {
        const response = await this.#open(this.lastEventId, this.#signal);
        failures = 0;
        for await (const message of readSse(response.body!)) {
          if (message.id !== undefined) this.lastEventId = message.id;
          yield JSON.parse(message.data) as StateEvent;
        }
      } catch (error) {
        if (this.#signal.aborted) return;
        if (error instanceof KataError && !(error instanceof KataConnectionError)) {
          if (error.status === 401 && failures === 0) {
            failures++; // a restarted daemon has a new token: ask the endpoint once more
            continue;
          }
          throw error;
        }
        failures++;
      }
      if (this.#signal.aborted) return;
      this.reconnects++;
      this.#log.debug("event feed reconnecting", { attempt: this.reconnects });
      try {
        await sleep(Math.min(250 * 2 ** Math.min(failures, 5), 5_000), this.#signal);
      } catch {
        return;
      }
    }
  }
}

function terminal(error: KataError): ExecutionStreamEvent {
  return { type: "error", error: error.body, partial_content: [] } as ExecutionStreamEvent;
}

function isStreamed(body: unknown): boolean {
  return typeof body === "object" && body !== null && (body as { stream?: unknown }).stream === true;
}

function connectionRefused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return cause?.code === "ECONNREFUSED";
}

function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

function abortOrTimeout(signal: AbortSignal | undefined, cause: unknown): KataError {
  const reason = signal?.reason as { name?: unknown } | undefined;
  if (reason?.name !== "TimeoutError") return new KataAbortError({ cause });
  return new KataError(
    {
      code: "timeout",
      message: "The daemon did not answer in time.",
      remediation: "Retry, or raise the client's timeoutMs for long answers.",
      action: "retry",
      retryable: true,
    },
    undefined,
    { cause },
  );
}

function backoff(attempt: number): number {
  return Math.min(200 * 2 ** attempt, 2_000);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new KataAbortError());
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted(): void {
      clearTimeout(timer);
      reject(new KataAbortError());
    }
    signal?.addEventListener("abort", aborted, { once: true });
  });
}

function toQuery(query: Record<string, string | number | undefined> | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined) params.set(name, String(value));
  }
  return params.size ? `?${params}` : "";
}

/**
 * The provider list after `event`: the list changes at run time as a user adds and removes
 * providers (`provider_added`, `provider_removed`) and as each one's status changes
 * (`provider_status`); a `snapshot` replaces it whole. Other events leave it as it is.
 */
export function foldProviders(providers: ProviderStatus[], event: StateEvent): ProviderStatus[] {
  switch (event.type) {
    case "snapshot":
      return event.providers;
    case "provider_added":
      return [...providers.filter((p) => p.id !== event.provider.id), event.provider];
    case "provider_removed":
      return providers.filter((p) => p.id !== event.provider);
    case "provider_status":
      return providers.map((p) => (p.id === event.provider.id ? event.provider : p));
    default:
      return providers;
  }
}
