/** src/api.ts is what openapi-typescript makes of the committed OpenAPI document today. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./helpers.js";

test("src/api.ts matches openapi/openapi.json", () => {
  const here = join(ROOT, "clients", "typescript");
  const out = join(mkdtempSync(join(tmpdir(), "kata-api-")), "api.ts");
  const cli = join(here, "node_modules", ".bin", "openapi-typescript");
  const spec = join(ROOT, "openapi", "openapi.json");
  execFileSync(cli, [spec, "--default-non-nullable", "false", "--output", out], { stdio: "pipe" });
  const committed = readFileSync(join(here, "src", "api.ts"), "utf8");
  assert.ok(committed.includes('"/v1/executions"'));
  assert.equal(committed, readFileSync(out, "utf8"), "run `npm run generate` in clients/typescript");
});
