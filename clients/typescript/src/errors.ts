/**
 * Errors: every failure the daemon reports carries the same body (the taxonomy), and a
 * `KataError` carries it whole. Failures that never reached the daemon are `KataConnectionError`s.
 */
import type { components } from "./api.js";

export type ErrorBody = components["schemas"]["ErrorBody"];
export type ErrorCode = components["schemas"]["ErrorCode"];
export type ErrorAction = components["schemas"]["ErrorAction"];

/** An error the daemon reported (or, for a stream, an `error` event), with its taxonomy body. */
export class KataError extends Error {
  override readonly name: string = "KataError";
  /** The taxonomy code: `missing_auth`, `rate_limited`, `budget_exceeded`, … */
  readonly code: ErrorCode;
  /** A sentence a person can follow. */
  readonly remediation: string;
  /** What a program can do about it: `set_api_key`, `wait`, `retry`, … */
  readonly action: ErrorAction;
  readonly retryable: boolean;
  /** Seconds to wait before retrying, when the daemon or the provider said. */
  readonly retryAfterS: number | null;
  readonly provider: string | null;
  /** The daemon's HTTP status (absent for an error that arrived as a stream event). */
  readonly status: number | undefined;
  readonly requestId: string | null;
  /** The whole body, as the daemon sent it. */
  readonly body: ErrorBody;

  constructor(body: ErrorBody, status?: number, options?: { cause?: unknown }) {
    super(body.message, options);
    this.code = body.code;
    this.remediation = body.remediation;
    this.action = body.action ?? "none";
    this.retryable = body.retryable;
    this.retryAfterS = body.retry_after_s ?? null;
    this.provider = body.provider ?? null;
    this.status = status;
    this.requestId = body.request_id ?? null;
    this.body = body;
  }
}

/** The daemon could not be reached, or the connection broke before an answer. */
export class KataConnectionError extends KataError {
  override readonly name: string = "KataConnectionError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(
      {
        code: "unexpected_error",
        message,
        remediation:
          "Check that the daemon is running (a supervised daemon is restarted on its own), then retry.",
        action: "retry",
        retryable: true,
      },
      undefined,
      options,
    );
  }
}

/** The caller aborted the request with its signal. */
export class KataAbortError extends KataError {
  override readonly name: string = "KataAbortError";

  constructor(options?: { cause?: unknown }) {
    super(
      {
        code: "cancelled",
        message: "The request was aborted by the caller.",
        remediation: "Send the request again if needed.",
        action: "none",
        retryable: false,
      },
      undefined,
      options,
    );
  }
}

/** A body from the daemon that is not the taxonomy's shape becomes an `unexpected_error`. */
export function errorBody(value: unknown, status: number): ErrorBody {
  if (isErrorBody(value)) return value;
  return {
    code: "unexpected_error",
    message: `The daemon answered HTTP ${status} without an error body.`,
    remediation: "Retry; if it persists, look at the daemon's log.",
    action: "retry",
    retryable: status >= 500,
  };
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.code === "string" &&
    typeof record.message === "string" &&
    typeof record.remediation === "string" &&
    typeof record.action === "string" &&
    typeof record.retryable === "boolean"
  );
}
