/**
 * The Node options the bridge ships with are written in four places that cannot share code (a
 * Dockerfile, a shell script, a systemd example, the test harness): this keeps them equal.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BRIDGE_NODE_OPTIONS } from "../../harness/bridge-process.js";

/** The checkout: three levels above this compiled file (dist/test/unit/config/ or .build-x/…). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const read = (path: string): string => readFileSync(resolve(ROOT, path), "utf8");

describe("shipped Node options", () => {
  test("the Dockerfile, scripts/run.sh and the systemd example use the harness's options", () => {
    assert.match(read("Dockerfile"), new RegExp(`^ENV NODE_OPTIONS="${BRIDGE_NODE_OPTIONS}"$`, "m"));
    assert.ok(
      read("scripts/run.sh").includes(
        `export NODE_OPTIONS="${BRIDGE_NODE_OPTIONS}\${NODE_OPTIONS:+ $NODE_OPTIONS}"`,
      ),
      "scripts/run.sh",
    );
    assert.ok(
      read("docs/installation.md").includes(`Environment=NODE_OPTIONS=${BRIDGE_NODE_OPTIONS}\n`),
      "docs/installation.md",
    );
  });
});
