/** Shared by the tests: where the repository and its Python are, and a log collector. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../src/index.js";

// Compiled to dist/test/: the repository is four folders up.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const PYTHON = process.env.KATA_TEST_PYTHON ?? join(ROOT, ".venv", "bin", "python");

/** How the tests start the daemon from the checkout. */
export const FROM_SOURCE = { command: PYTHON, args: ["-m", "service.process.cli"], cwd: ROOT };

export function dataDir(): string {
  return mkdtempSync(join(tmpdir(), "kata-ts-"));
}

export class Collected implements Logger {
  readonly lines: string[] = [];
  debug(message: string, fields?: Record<string, unknown>): void {
    this.lines.push(`debug ${message} ${JSON.stringify(fields ?? {})}`);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.lines.push(`warn ${message} ${JSON.stringify(fields ?? {})}`);
  }
}

/** Resolves with the first item of `source` that `pick` accepts, within `ms`. */
export async function first<T>(
  source: AsyncIterator<T>,
  pick: (item: T) => boolean,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`nothing matched within ${ms} ms`);
    const next = await Promise.race([
      source.next(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`nothing matched within ${ms} ms`)), left),
      ),
    ]);
    if (next.done) throw new Error("the source ended");
    if (pick(next.value)) return next.value;
  }
}
