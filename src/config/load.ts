/**
 * Reads and validates the config file. Every problem in the file is reported at once, each with
 * its key path, so an operator fixes the file in one go instead of one error per restart.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import YAML, { LineCounter } from "yaml";
import type { z } from "zod";
import { ConfigSchema, type BridgeConfig } from "./schema.js";
import { applyEnvOverrides, type Env } from "./env-overrides.js";

export class ConfigError extends Error {
  constructor(
    /** Where the config came from (a file path or a caller-chosen label). */
    readonly source: string,
    /** One line per problem: `<key path>: <what is wrong>`. */
    readonly issues: string[],
  ) {
    super(
      issues.length === 1
        ? `Invalid config ${source}: ${issues[0]}`
        : `Invalid config ${source}:\n${issues.map((i) => `  - ${i}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

export interface ParseConfigOptions {
  /**
   * Directory that relative paths in the config (registration, key file, SQLite database) are
   * resolved against. When omitted, paths are returned as written.
   */
  baseDir?: string;
  /**
   * Environment whose `MSN_*` variables (env-overrides.ts) replace config keys before validation.
   * When omitted, none apply.
   */
  env?: Env;
}

/**
 * Reads, parses and validates a config file; relative paths resolve against its directory. The
 * `MSN_*` environment overrides apply (from `process.env` unless `options.env` is given).
 */
export function loadConfig(path: string, options: { env?: Env } = {}): BridgeConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "file not found (generate one from config/config.sample.yaml)"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "is a directory, not a file"
            : `cannot read file: ${(err as Error).message}`;
    throw new ConfigError(path, [why]);
  }
  return parseConfig(text, path, { baseDir: dirname(resolve(path)), env: options.env ?? process.env });
}

/** Parses and validates config YAML. `sourceName` only labels error messages. */
export function parseConfig(
  text: string,
  sourceName: string,
  options: ParseConfigOptions = {},
): BridgeConfig {
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      sourceName,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        const where = `line ${pos.line}, column ${pos.col}`;
        // The parser's own message repeats a code excerpt over several lines; keep the first.
        return `${where}: YAML syntax error: ${e.message.split("\n")[0]}`;
      }),
    );
  }
  return validateConfig(doc.toJS({ maxAliasCount: 100 }), sourceName, options);
}

/** Validates an already-parsed config object (as YAML would produce). */
export function validateConfig(
  raw: unknown,
  sourceName: string,
  options: ParseConfigOptions = {},
): BridgeConfig {
  if (raw === null || raw === undefined) {
    throw new ConfigError(sourceName, ["the file is empty; expected a mapping of config sections"]);
  }
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(sourceName, [
      `expected a mapping of config sections at the top level, got ${describe(raw)}`,
    ]);
  }
  const { raw: merged, sources } = applyEnvOverrides(raw, options.env ?? {});
  const result = ConfigSchema.safeParse(withoutNulls(merged), { reportInput: true });
  if (!result.success) {
    // A key set from the environment is fixed there, not in the file: say so in its issues.
    const named = (line: string): string => {
      for (const [path, variable] of sources) {
        if (line.startsWith(`${path}: `)) return `${path} (from ${variable}): ${line.slice(path.length + 2)}`;
      }
      return line;
    };
    throw new ConfigError(sourceName, result.error.issues.flatMap(formatIssue).map(named));
  }
  return options.baseDir === undefined ? result.data : resolvePaths(result.data, options.baseDir);
}

/**
 * A key with no value (`logging:` whose children are all commented out) means "not set", so the
 * default applies and a required key reads as missing, rather than "expected a mapping, got null".
 */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (typeof v !== "object" || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) if (val !== null) out[k] = withoutNulls(val);
  return out;
}

function resolvePaths(config: BridgeConfig, baseDir: string): BridgeConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  let uri = config.database.uri;
  if (uri.startsWith("sqlite:")) {
    const file = uri.slice("sqlite:".length);
    if (file !== ":memory:") uri = `sqlite:${abs(file)}`;
  }
  return {
    ...config,
    appservice: { ...config.appservice, registration: abs(config.appservice.registration) },
    bridge: { ...config.bridge, credentials_key_file: abs(config.bridge.credentials_key_file) },
    database: { ...config.database, uri },
  };
}

/** Renders a key path the way it would be addressed: `bridge.permissions."@bob:x"`, `a.b[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else {
      const s = String(seg);
      const part = /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? s : JSON.stringify(s);
      out += out === "" ? part : `.${part}`;
    }
  }
  return out === "" ? "(top level)" : out;
}

// Values under these keys are never echoed back: a database URI may carry a password.
const SECRET_PATHS = new Set(["database.uri"]);

function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") {
    const s = v.length > 60 ? `${v.slice(0, 57)}...` : v;
    return `the string ${JSON.stringify(s)}`;
  }
  return `${typeof v} ${String(v)}`;
}

function formatIssue(issue: z.core.$ZodIssue): string[] {
  const path = formatPath(issue.path);
  const secret = SECRET_PATHS.has(path);
  const got = (): string => (secret ? "" : `, got ${describe(issue.input)}`);
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((k) => {
        const guess = closestKey(k, knownKeysAt(issue.path));
        return `${formatPath([...issue.path, k])}: unknown key${guess ? ` (did you mean ${JSON.stringify(guess)}?)` : ""}`;
      });
    case "invalid_type":
      if (issue.input === undefined) return [`${path}: is required`];
      return [`${path}: expected ${article(issue.expected)}${got()}`];
    case "invalid_value":
      return [`${path}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}${got()}`];
    case "too_small":
      if (issue.origin === "array") return [`${path}: must list at least ${String(issue.minimum)} item(s)`];
      if (issue.origin === "string") return [`${path}: must not be empty`];
      return [`${path}: must be at least ${String(issue.minimum)}${got()}`];
    case "too_big":
      if (issue.origin === "string")
        return [`${path}: must be at most ${String(issue.maximum)} characters long`];
      return [`${path}: must be at most ${String(issue.maximum)}${got()}`];
    case "invalid_key":
      return issue.issues.map((inner) => `${path}: invalid key: ${inner.message}`);
    case "invalid_element":
      return issue.issues.map((inner) => `${path}: ${inner.message}`);
    default:
      return [`${path}: ${issue.message}${issue.input === undefined ? "" : got()}`];
  }
}

function article(expected: string): string {
  if (expected === "int") return "an integer";
  if (expected === "array") return "a list";
  if (expected === "object" || expected === "record") return "a mapping";
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** Keys the schema accepts in the mapping at `path`, for "did you mean" hints. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType | undefined = ConfigSchema;
  for (const seg of [...path, null]) {
    // Look through wrappers (default, optional, refinements' pipes) to the object underneath.
    for (;;) {
      const def = schema?.def as { innerType?: z.ZodType; in?: z.ZodType; type?: string } | undefined;
      if (def?.innerType) schema = def.innerType;
      else if (def?.type === "pipe" && def.in) schema = def.in;
      else break;
    }
    const shape: Record<string, z.ZodType> | undefined = (
      schema?.def as { shape?: Record<string, z.ZodType> } | undefined
    )?.shape;
    if (!shape) return [];
    if (seg === null) return Object.keys(shape);
    schema = shape[String(seg)];
  }
  return [];
}

function closestKey(key: string, candidates: string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  const k = key.toLowerCase();
  for (const c of candidates) {
    // A missing unit suffix ("max_delay" for "max_delay_ms") is as likely as a typo.
    const d = k.length >= 3 && (c.startsWith(k) || k.startsWith(c)) ? 1 : editDistance(k, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 4)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
