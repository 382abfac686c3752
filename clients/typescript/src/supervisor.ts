/**
 * The supervisor: start `kata-providers serve --port 0 --parent-pid <pid>`, read its JSON ready
 * line, and restart it (with backoff, a bounded number of times) when it dies.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { KataClient, type ClientOptions, type Endpoint, type Logger } from "./client.js";
import { bindMethods } from "./bind.js";
import { KataConnectionError } from "./errors.js";

/** What the daemon's ready line says (its token stays inside the supervisor). */
export interface DaemonInfo {
  url: string;
  port: number;
  pid: number;
  version: string;
}

export interface RestartInfo {
  /** The restart's number since the last stable run. */
  attempt: number;
  delayMs: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The daemon that died. */
  previous: DaemonInfo;
}

export interface SpawnOptions {
  /** The daemon's executable: `kata-providers` (default), a built one, or a Python. */
  command?: string;
  /** Arguments before `serve`, e.g. `["-m", "service.process.cli"]` for a Python. */
  args?: string[];
  /** More arguments after `serve`, e.g. `["--demo"]`. */
  serveArgs?: string[];
  /** Added to this process's environment. */
  env?: Record<string, string | undefined>;
  /** The daemon's data folder (`KATA_PROVIDERS_HOME`). */
  dataDir?: string;
  /** The daemon exits when this process does. Default: this process. */
  parentPid?: number;
  cwd?: string;
  /** How long to wait for the ready line. Default 30 s. */
  readyTimeoutMs?: number;
  /** Restarts allowed within `restartWindowMs` before the supervisor gives up. Default 5. */
  maxRestarts?: number;
  restartWindowMs?: number;
  /** Told about each restart, before it happens. */
  onRestart?: (info: RestartInfo) => void;
  /** Told when the supervisor gives up (the daemon keeps dying or cannot start). */
  onGiveUp?: (error: Error) => void;
  /** Each line the daemon writes to stderr (its log, already redacted by the daemon). */
  onLog?: (line: string) => void;
  logger?: Logger;
  /** Options for the client (`endpoint` is the supervisor's). */
  client?: Omit<ClientOptions, "endpoint">;
}

export interface DaemonHandle {
  client: KataClient;
  /** The daemon now running (after a restart, the new one). */
  readonly info: DaemonInfo;
  /**
   * The running daemon's URL and token, for pointing an official SDK at its compatible routes
   * (`${url}/anthropic`, `${url}/openai/v1`, the token as the API key). After a restart, ask
   * again: the new daemon has a new port and token.
   */
  endpoint(): Promise<Endpoint>;
  /** Stop the daemon (SIGTERM, then SIGKILL after `graceMs`) and stop supervising it. */
  stop(graceMs?: number): Promise<void>;
}

/** Why a daemon could not start. */
export class DaemonStartError extends Error {
  override readonly name = "DaemonStartError";
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string[],
  ) {
    super(message);
  }
}

const EXIT_MEANING: Record<number, string> = {
  1: "it could not start (port taken, or its parent is gone)",
  2: "its arguments were refused",
  3: "its data folder cannot be created or written",
  4: "another daemon already runs on this data folder",
};

interface Running {
  child: ChildProcess;
  info: DaemonInfo;
  endpoint: Endpoint;
  exited: Promise<void>;
}

/** Start the daemon and supervise it; resolves once it is ready. */
export async function spawnDaemon(options: SpawnOptions = {}): Promise<DaemonHandle> {
  const supervisor = new Supervisor(options);
  await supervisor.start();
  return supervisor;
}

class Supervisor implements DaemonHandle {
  readonly client: KataClient;
  readonly #options: SpawnOptions;
  readonly #log: Logger | undefined;
  #running: Running | undefined;
  #pending: Promise<Running> | undefined;
  #stopping = false;
  #restarts: number[] = [];
  #failure: Error | undefined;

  constructor(options: SpawnOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.client = new KataClient({ ...options.client, endpoint: () => this.#endpoint() });
    bindMethods(this, Supervisor.prototype);
  }

  get info(): DaemonInfo {
    if (!this.#running) throw new Error("The daemon is not running.");
    return this.#running.info;
  }

  async start(): Promise<void> {
    this.#pending = this.#launch();
    this.#running = await this.#pending;
  }

  endpoint(): Promise<Endpoint> {
    return this.#endpoint();
  }

  async #endpoint(): Promise<Endpoint> {
    if (this.#failure) throw new KataConnectionError(this.#failure.message, { cause: this.#failure });
    if (this.#stopping) throw new KataConnectionError("The daemon was stopped.");
    const running = this.#running ?? (await this.#pending);
    if (!running) throw new KataConnectionError("The daemon is not running.");
    if (running.child.exitCode !== null || running.child.signalCode !== null) {
      // Died and not yet replaced: wait for the restart under way.
      const next = await this.#pending;
      if (!next || next === running) throw new KataConnectionError("The daemon is not running.");
      return next.endpoint;
    }
    return running.endpoint;
  }

  #launch(): Promise<Running> {
    const o = this.#options;
    const argv = [
      ...(o.args ?? []),
      "serve",
      "--port",
      "0",
      "--parent-pid",
      String(o.parentPid ?? process.pid),
      ...(o.serveArgs ?? []),
    ];
    const env: Record<string, string> = {};
    // A variable given as undefined is removed (e.g. a session the daemon must not see).
    for (const [name, value] of Object.entries({ ...process.env, ...o.env })) {
      if (value !== undefined) env[name] = value;
    }
    if (o.dataDir) env.KATA_PROVIDERS_HOME = o.dataDir;
    env.KATA_PROVIDERS_LOG_FORMAT ??= "json";
    const child = spawn(o.command ?? "kata-providers", argv, {
      env,
      cwd: o.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on("line", (line) => {
      stderr.push(line);
      if (stderr.length > 50) stderr.shift();
      o.onLog?.(line);
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const timeoutMs = o.readyTimeoutMs ?? 30_000;
    return new Promise<Running>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        fail(new DaemonStartError(`The daemon sent no ready line within ${timeoutMs} ms.`, null, stderr));
      }, timeoutMs);
      child.once("error", (error) =>
        fail(new DaemonStartError(`The daemon could not be started: ${error.message}`, null, stderr)),
      );
      child.once("exit", (code, signal) => {
        const meaning = code !== null ? EXIT_MEANING[code] : undefined;
        fail(
          new DaemonStartError(
            `The daemon exited before it was ready (${signal ?? `exit code ${code}`}${meaning ? `: ${meaning}` : ""}).`,
            code,
            stderr,
          ),
        );
      });
      const lines = createInterface({ input: child.stdout! });
      lines.once("line", (line) => {
        let ready: { event?: string; url: string; port: number; pid: number; version: string; token: string };
        try {
          ready = JSON.parse(line);
        } catch {
          fail(new DaemonStartError("The daemon's first line was not its JSON ready line.", null, stderr));
          child.kill("SIGKILL");
          return;
        }
        if (ready.event !== "ready") {
          fail(new DaemonStartError("The daemon's first line was not its ready line.", null, stderr));
          child.kill("SIGKILL");
          return;
        }
        settled = true;
        clearTimeout(timer);
        const info: DaemonInfo = { url: ready.url, port: ready.port, pid: ready.pid, version: ready.version };
        const running: Running = { child, info, endpoint: { url: ready.url, token: ready.token }, exited };
        child.once("exit", (code, signal) => this.#died(running, code, signal));
        this.#log?.debug("daemon ready", { url: info.url, pid: info.pid, version: info.version });
        resolve(running);
      });
    });
  }

  #died(running: Running, exitCode: number | null, signal: NodeJS.Signals | null): void {
    if (this.#stopping || running !== this.#running) return;
    const maxRestarts = this.#options.maxRestarts ?? 5;
    const windowMs = this.#options.restartWindowMs ?? 60_000;
    const now = Date.now();
    this.#restarts = this.#restarts.filter((at) => now - at < windowMs);
    if (this.#restarts.length >= maxRestarts) {
      this.#giveUp(
        new Error(`The daemon died ${this.#restarts.length + 1} times within ${windowMs} ms; not restarting it.`),
      );
      return;
    }
    this.#restarts.push(now);
    const attempt = this.#restarts.length;
    const delayMs = Math.min(250 * 2 ** (attempt - 1), 8_000);
    this.#log?.warn("daemon died; restarting", { pid: running.info.pid, exitCode, signal, attempt, delayMs });
    this.#options.onRestart?.({ attempt, delayMs, exitCode, signal, previous: running.info });
    this.#pending = (async () => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (this.#stopping) return running;
      for (;;) {
        try {
          const next = await this.#launch();
          this.#running = next;
          return next;
        } catch (error) {
          // A start that fails counts as one more death.
          const at = Date.now();
          this.#restarts = this.#restarts.filter((t) => at - t < windowMs);
          if (this.#restarts.length >= maxRestarts || this.#stopping) {
            this.#giveUp(error as Error);
            throw error;
          }
          this.#restarts.push(at);
          await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** this.#restarts.length, 8_000)));
        }
      }
    })();
    this.#pending.catch(() => undefined);
  }

  #giveUp(error: Error): void {
    this.#failure = error;
    this.#log?.warn("daemon supervisor gave up", { reason: error.message });
    this.#options.onGiveUp?.(error);
  }

  async stop(graceMs = 12_000): Promise<void> {
    this.#stopping = true;
    const running = this.#running;
    if (!running || running.child.exitCode !== null || running.child.signalCode !== null) return;
    running.child.kill("SIGTERM");
    const killer = setTimeout(() => running.child.kill("SIGKILL"), graceMs);
    await running.exited;
    clearTimeout(killer);
  }
}
