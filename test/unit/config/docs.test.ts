/**
 * The operator docs stay true to the code: every config key the schema accepts is in
 * docs/configuration.md with its real default, nothing documented there is unknown to the schema,
 * every environment override is listed, and every bot command is in docs/usage.md.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import { ConfigSchema } from "../../../src/config/schema.js";
import { ENV_OVERRIDES } from "../../../src/config/env-overrides.js";
import { helpText } from "../../../src/matrix/commands.js";
import { repoRoot } from "./repo-root.js";

interface Def {
  type?: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
}

/** Looks through default/optional/prefault/pipe wrappers to the schema underneath. */
function unwrap(schema: z.ZodType): { schema: z.ZodType; optional: boolean } {
  let optional = false;
  for (;;) {
    const def = schema.def as Def;
    if (def.type === "optional") optional = true;
    if (def.innerType) schema = def.innerType;
    else if (def.type === "pipe" && def.in) schema = def.in;
    else return { schema, optional };
  }
}

/** Dotted paths of every leaf key (a record such as `bridge.permissions` is one leaf). */
function leafKeys(schema: z.ZodType = ConfigSchema, prefix = ""): string[] {
  const shape = (unwrap(schema).schema.def as Def).shape;
  if (!shape) return [prefix];
  return Object.entries(shape).flatMap(([key, child]) => leafKeys(child, prefix ? `${prefix}.${key}` : key));
}

// The smallest valid config: its parsed form holds every default.
const MINIMAL = {
  homeserver: { url: "http://127.0.0.1:8008", domain: "example.org" },
  bridge: { permissions: { "*": "user" } },
  msn: { server: "127.0.0.1" },
};

function valueAt(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}

/** How the docs write a default: YAML flow style, in backticks. */
function render(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(render).join(", ")}]`;
  if (typeof v === "object" && v !== null) return Object.keys(v).length === 0 ? "{}" : JSON.stringify(v);
  return String(v);
}

/** `| \`key\` | type | default | meaning |` rows of the key tables. */
function documentedRows(markdown: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of markdown.split("\n")) {
    const m = /^\| `([a-z_]+(?:\.[a-z_]+)+)` \|/.exec(line);
    if (!m) continue;
    rows.set(
      m[1]!,
      line
        .split(" | ")
        .slice(1)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const docs = (name: string): string => readFileSync(join(repoRoot(), "docs", name), "utf8");

describe("operator docs", () => {
  test("docs/configuration.md lists every config key with its default, and no key the schema lacks", () => {
    const rows = documentedRows(docs("configuration.md"));
    const keys = leafKeys();
    assert.ok(keys.length > 25, `found ${keys.length} keys: the schema walk is broken`);
    const defaults = ConfigSchema.parse(MINIMAL);
    const problems: string[] = [];
    for (const key of keys) {
      const row = rows.get(key);
      if (!row) {
        problems.push(`${key}: not documented`);
        continue;
      }
      const cell = row[1] ?? "";
      const required = valueAt(MINIMAL, key) !== undefined;
      const value = valueAt(defaults, key);
      const expected = required ? "required" : value === undefined ? "none" : `\`${render(value)}\``;
      if (cell !== expected)
        problems.push(`${key}: default column says ${cell}, the schema says ${expected}`);
    }
    for (const key of rows.keys()) {
      if (!keys.includes(key)) problems.push(`${key}: documented but not in the schema`);
    }
    assert.deepEqual(problems, []);
  });

  test("docs/configuration.md names every environment override with its key", () => {
    const text = docs("configuration.md");
    for (const o of ENV_OVERRIDES) {
      assert.ok(text.includes(`| \`${o.variable}\` | \`${o.path.join(".")}\` |`), o.variable);
    }
  });

  test("docs/usage.md shows every bot command with its usage", () => {
    // A `|` inside a table cell is written `\|`.
    const text = docs("usage.md").replace(/\\\|/g, "|");
    const usages = helpText()
      .split("\n")
      .slice(1)
      .map((l) => /^`([^`]+)`/.exec(l)?.[1]);
    assert.ok(usages.length >= 10);
    for (const usage of usages) {
      assert.ok(usage && text.includes(`\`${usage}\``), `docs/usage.md lacks \`${usage}\``);
    }
  });
});
