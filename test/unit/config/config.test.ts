import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  accessSync,
  chmodSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import type { z } from "zod";
import { ConfigError, loadConfig, parseConfig, validateConfig } from "../../../src/config/load.js";
import { ConfigSchema } from "../../../src/config/schema.js";
import { repoRoot } from "./repo-root.js";

const SAMPLE = join(repoRoot(), "config", "config.sample.yaml");

function minimal(): Record<string, unknown> {
  return {
    homeserver: { url: "http://127.0.0.1:8008", domain: "example.org" },
    bridge: { permissions: { "*": "user" } },
    msn: { server: "127.0.0.1:1863" },
  };
}

/** Sets (or with `undefined`, deletes) a dotted path in a plain object tree. */
function withValue(base: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const root = structuredClone(base);
  let obj: Record<string, unknown> = root;
  for (const key of path.slice(0, -1)) {
    if (typeof obj[key] !== "object" || obj[key] === null) obj[key] = {};
    obj = obj[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1] as string;
  if (value === undefined) delete obj[last];
  else obj[last] = value;
  return root;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a ConfigError");
}

function parseYaml(obj: unknown): void {
  parseConfig(YAML.stringify(obj), "test.yaml");
}

describe("config sample", () => {
  test("config/config.sample.yaml loads and resolves paths against its directory", () => {
    const config = loadConfig(SAMPLE);
    const dir = join(repoRoot(), "config");
    assert.equal(config.homeserver.domain, "example.org");
    assert.equal(config.appservice.registration, join(dir, "registration.yaml"));
    assert.equal(config.bridge.credentials_key_file, join(dir, "msn-bridge.key"));
    assert.equal(config.database.uri, `sqlite:${join(dir, "msn-bridge.db")}`);
    assert.deepEqual(config.msn.server, { host: "127.0.0.1", port: 1863 });
  });

  test("every key of the schema appears in the sample", () => {
    const sample = YAML.parse(readFileSync(SAMPLE, "utf8")) as unknown;
    const missing = schemaPaths(ConfigSchema).filter((path) => !hasPath(sample, path));
    assert.deepEqual(missing, [], `keys missing from config.sample.yaml: ${missing.join(", ")}`);
  });

  test("every key in the sample has a comment right above it", () => {
    const lines = readFileSync(SAMPLE, "utf8").split("\n");
    const undocumented = lines
      .map((line, i) => ({ line, prev: lines[i - 1] ?? "" }))
      .filter(({ line }) => /^\s*[a-z_]+:/.test(line))
      .filter(({ line, prev }) => !/^\s*#/.test(prev) && !/^[a-z_]+:\s*$/.test(line))
      .map(({ line }) => line.trim());
    // Section headers may sit under a blank line; leaf keys may not.
    assert.deepEqual(undocumented, []);
  });
});

/** Dotted paths of all object keys in a zod schema (records are leaves). */
function schemaPaths(schema: z.ZodType, prefix: string[] = []): string[][] {
  let s: z.ZodType = schema;
  for (;;) {
    const def = s.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    if (def.innerType) s = def.innerType;
    else if (def.type === "pipe" && def.in) s = def.in;
    else break;
  }
  const def = s.def as { type: string; shape?: Record<string, z.ZodType> };
  if (def.type !== "object" || !def.shape) return prefix.length ? [prefix] : [];
  return Object.entries(def.shape).flatMap(([k, v]) => {
    const path = [...prefix, k];
    const below = schemaPaths(v, path);
    return below.length ? below : [path];
  });
}

function hasPath(obj: unknown, path: string[]): boolean {
  let cur = obj;
  for (const k of path) {
    if (typeof cur !== "object" || cur === null || !Object.hasOwn(cur, k)) return false;
    cur = (cur as Record<string, unknown>)[k];
  }
  return true;
}

describe("config defaults", () => {
  test("a minimal config gets every default", () => {
    const c = validateConfig(minimal(), "min");
    assert.deepEqual(c.appservice, { hostname: "0.0.0.0", port: 8090, registration: "registration.yaml" });
    assert.equal(c.bridge.bot_username, "msnbot");
    assert.equal(c.bridge.user_prefix, "msn_");
    assert.equal(c.bridge.credentials_key_file, "msn-bridge.key");
    assert.equal(c.bridge.forward_presence, false);
    assert.equal(c.bridge.forward_displayname, false);
    assert.equal(c.bridge.login_concurrency, 8);
    assert.equal(c.bridge.typing_timeout_ms, 6000);
    assert.deepEqual(c.msn.protocol_versions, ["MSNP12", "MSNP11", "MSNP10", "MSNP9", "MSNP8", "MSNP7"]);
    assert.equal(c.msn.passport_url, "https://nexus.passport.com/rdr/pprdr.asp");
    assert.equal(c.msn.keepalive_interval_seconds, 50);
    assert.equal(c.msn.request_timeout_seconds, 15);
    assert.equal(c.msn.ack_timeout_seconds, 15);
    assert.equal(c.msn.join_timeout_seconds, 60);
    assert.deepEqual(c.msn.reconnect, {
      initial_delay_ms: 1000,
      max_delay_ms: 300000,
      jitter: 0.3,
      message_wait_ms: 60000,
    });
    assert.equal(c.database.uri, "sqlite:msn-bridge.db");
    assert.deepEqual(c.logging, { level: "info", format: "text", modules: {} });
    assert.deepEqual(c.metrics, { enabled: false });
  });

  test("msn.server: port defaults to 1863; IPv6 literals are unbracketed", () => {
    const plain = validateConfig(withValue(minimal(), ["msn", "server"], "msn.example.net"), "t");
    assert.deepEqual(plain.msn.server, { host: "msn.example.net", port: 1863 });
    const v6 = validateConfig(withValue(minimal(), ["msn", "server"], "[::1]:1864"), "t");
    assert.deepEqual(v6.msn.server, { host: "::1", port: 1864 });
  });

  test("msn.passport_url: plain http is accepted for a loopback test server", () => {
    const url = "http://127.0.0.1:8080/rdr/pprdr.asp";
    const c = validateConfig(withValue(minimal(), ["msn", "passport_url"], url), "t");
    assert.equal(c.msn.passport_url, url);
  });

  test("protocol_versions are offered highest first whatever order they are written in", () => {
    const c = validateConfig(
      withValue(minimal(), ["msn", "protocol_versions"], ["MSNP2", "MSNP12", "MSNP7"]),
      "t",
    );
    assert.deepEqual(c.msn.protocol_versions, ["MSNP12", "MSNP7", "MSNP2"]);
  });

  test("absolute paths are kept, sqlite::memory: is not treated as a path", () => {
    let raw = withValue(minimal(), ["database", "uri"], "sqlite::memory:");
    raw = withValue(raw, ["appservice", "registration"], "/etc/msn/registration.yaml");
    const c = validateConfig(raw, "t", { baseDir: "/srv/bridge" });
    assert.equal(c.database.uri, "sqlite::memory:");
    assert.equal(c.appservice.registration, "/etc/msn/registration.yaml");
    assert.equal(c.bridge.credentials_key_file, "/srv/bridge/msn-bridge.key");
  });

  test("postgres URIs pass through unchanged", () => {
    const uri = "postgresql://bridge:s3cret@db.internal:5432/msn";
    const c = validateConfig(withValue(minimal(), ["database", "uri"], uri), "t", { baseDir: "/x" });
    assert.equal(c.database.uri, uri);
  });
});

describe("config errors name the key and the problem", () => {
  const cases: { name: string; path: string[]; value: unknown; expect: string }[] = [
    { name: "missing section", path: ["homeserver"], value: undefined, expect: "homeserver: is required" },
    {
      name: "missing key",
      path: ["homeserver", "url"],
      value: undefined,
      expect: "homeserver.url: is required",
    },
    {
      name: "missing permissions",
      path: ["bridge", "permissions"],
      value: undefined,
      expect: "bridge.permissions: is required",
    },
    {
      name: "missing msn.server",
      path: ["msn", "server"],
      value: undefined,
      expect: "msn.server: is required",
    },
    {
      name: "string for a number",
      path: ["appservice", "port"],
      value: "abc",
      expect: 'appservice.port: expected a number, got the string "abc"',
    },
    {
      name: "port out of range",
      path: ["appservice", "port"],
      value: 70000,
      expect: "appservice.port: must be at most 65535",
    },
    {
      name: "port zero",
      path: ["appservice", "port"],
      value: 0,
      expect: "appservice.port: must be at least 1",
    },
    {
      name: "fractional port",
      path: ["appservice", "port"],
      value: 80.5,
      expect: "appservice.port: expected an integer",
    },
    {
      name: "mapping for a string",
      path: ["homeserver", "domain"],
      value: { a: 1 },
      expect: "homeserver.domain: expected a string, got a mapping",
    },
    {
      name: "string for a boolean",
      path: ["bridge", "forward_presence"],
      value: "yes",
      expect: 'bridge.forward_presence: expected a boolean, got the string "yes"',
    },
    { name: "unknown top-level key", path: ["bogus"], value: 1, expect: "bogus: unknown key" },
    {
      name: "misspelt key gets a suggestion",
      path: ["bridge", "user_prefx"],
      value: "msn_",
      expect: 'bridge.user_prefx: unknown key (did you mean "user_prefix"?)',
    },
    {
      name: "unknown nested key",
      path: ["msn", "reconnect", "max_delay"],
      value: 5,
      expect: 'msn.reconnect.max_delay: unknown key (did you mean "max_delay_ms"?)',
    },
    {
      name: "non-http homeserver URL",
      path: ["homeserver", "url"],
      value: "ftp://example.org",
      expect: "homeserver.url: must be an http:// or https:// URL",
    },
    {
      name: "unparseable appservice URL",
      path: ["appservice", "url"],
      value: "localhost:8090",
      expect: "appservice.url: must be an http:// or https:// URL",
    },
    {
      name: "bad server name",
      path: ["homeserver", "domain"],
      value: "exa mple.org",
      expect: "homeserver.domain: must be a Matrix server name",
    },
    {
      name: "msn.server port zero",
      path: ["msn", "server"],
      value: "127.0.0.1:0",
      expect: "msn.server: must be host:port",
    },
    {
      name: "msn.server non-numeric port",
      path: ["msn", "server"],
      value: "127.0.0.1:msn",
      expect: "msn.server: must be host:port",
    },
    {
      name: "msn.server unbracketed IPv6",
      path: ["msn", "server"],
      value: "::1:1863",
      expect: "msn.server: must be host:port",
    },
    {
      name: "msn.server no host",
      path: ["msn", "server"],
      value: ":1863",
      expect: "msn.server: must be host:port",
    },
    {
      name: "bad permission level",
      path: ["bridge", "permissions"],
      value: { "@bob:x": "owner" },
      expect: 'bridge.permissions."@bob:x": must be one of "user", "admin", got the string "owner"',
    },
    {
      name: "bad permission key",
      path: ["bridge", "permissions"],
      value: { "not a server": "user" },
      expect: 'bridge.permissions."not a server": invalid key: must be "*", a server name',
    },
    {
      name: "empty permissions",
      path: ["bridge", "permissions"],
      value: {},
      expect: "bridge.permissions: must grant at least one entry",
    },
    {
      name: "upper-case bot localpart",
      path: ["bridge", "bot_username"],
      value: "MSNBot",
      expect: "bridge.bot_username: must be a Matrix localpart",
    },
    {
      name: "empty ghost prefix",
      path: ["bridge", "user_prefix"],
      value: "",
      expect: "bridge.user_prefix: must be a non-empty Matrix localpart prefix",
    },
    {
      name: "unknown protocol version",
      path: ["msn", "protocol_versions"],
      value: ["MSNP7", "MSNP99"],
      expect: 'msn.protocol_versions[1]: must be one of "MSNP2"',
    },
    {
      name: "protocol version the client does not implement",
      path: ["msn", "protocol_versions"],
      value: ["MSNP13"],
      expect: 'msn.protocol_versions[0]: must be one of "MSNP2"',
    },
    {
      name: "no protocol versions",
      path: ["msn", "protocol_versions"],
      value: [],
      expect: "msn.protocol_versions: must list at least 1 item(s)",
    },
    {
      name: "duplicate protocol version",
      path: ["msn", "protocol_versions"],
      value: ["MSNP7", "MSNP7"],
      expect: "msn.protocol_versions: must not list a version twice",
    },
    {
      name: "plain-http passport URL off loopback",
      path: ["msn", "passport_url"],
      value: "http://login.example.net/rdr/pprdr.asp",
      expect: "msn.passport_url: must be https://",
    },
    {
      name: "max delay below initial delay",
      path: ["msn", "reconnect"],
      value: { initial_delay_ms: 5000, max_delay_ms: 100 },
      expect: "msn.reconnect.max_delay_ms: max_delay_ms must not be smaller than initial_delay_ms",
    },
    {
      name: "jitter above 1",
      path: ["msn", "reconnect", "jitter"],
      value: 2,
      expect: "msn.reconnect.jitter: must be at most 1",
    },
    {
      name: "unknown log level",
      path: ["logging", "level"],
      value: "loud",
      expect: 'logging.level: must be one of "error", "warn", "info"',
    },
    {
      name: "unknown per-module log level",
      path: ["logging", "modules"],
      value: { msnp: "chatty" },
      expect: 'logging.modules.msnp: must be one of "error"',
    },
    {
      name: "unknown log format",
      path: ["logging", "format"],
      value: "xml",
      expect: 'logging.format: must be one of "text", "json", got the string "xml"',
    },
    {
      name: "unsupported database",
      path: ["database", "uri"],
      value: "mysql://root@db/msn",
      expect: 'database.uri: must be "sqlite:<path>" or a "postgres://user:pass@host/db" URL',
    },
    {
      name: "list for a section",
      path: ["metrics"],
      value: [1],
      expect: "metrics: expected a mapping, got a list",
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const err = configError(() => parseYaml(withValue(minimal(), c.path, c.value)));
      assert.ok(
        err.issues.some((i) => i.startsWith(c.expect)),
        `no issue starts with ${JSON.stringify(c.expect)}; got ${JSON.stringify(err.issues)}`,
      );
      assert.ok(err.message.includes(c.expect), "the message carries the issue");
      assert.ok(err.message.includes("test.yaml"), "the message names the source");
    });
  }

  test("all problems are reported in one error", () => {
    let raw = withValue(minimal(), ["homeserver", "url"], "nope");
    raw = withValue(raw, ["appservice", "port"], "x");
    raw = withValue(raw, ["bridge", "permisions"], { "*": "user" });
    const err = configError(() => parseYaml(raw));
    assert.deepEqual(
      [...err.issues].sort(),
      [
        'appservice.port: expected a number, got the string "x"',
        'bridge.permisions: unknown key (did you mean "permissions"?)',
        'homeserver.url: must be an http:// or https:// URL, e.g. http://127.0.0.1:8008, got the string "nope"',
      ].sort(),
    );
    for (const issue of err.issues) assert.ok(err.message.includes(issue));
  });

  test("the database URI is never echoed (it may hold a password)", () => {
    const err = configError(() =>
      parseYaml(withValue(minimal(), ["database", "uri"], "mysql://root:hunter2@db/msn")),
    );
    assert.ok(!err.message.includes("hunter2"), err.message);
  });

  test("a key without a value counts as not set", () => {
    const text = YAML.stringify(minimal()) + "logging:\nappservice:\n  url:\n";
    const c = parseConfig(text, "nulls.yaml");
    assert.equal(c.logging.level, "info");
    assert.equal(c.appservice.url, undefined);
    const err = configError(() => parseConfig("homeserver:\n  url:\n  domain: x\n", "req.yaml"));
    assert.ok(err.issues.includes("homeserver.url: is required"), JSON.stringify(err.issues));
  });

  test("an empty file and a non-mapping document are rejected", () => {
    assert.match(configError(() => parseConfig("", "empty.yaml")).message, /empty\.yaml: the file is empty/);
    assert.match(
      configError(() => parseConfig("- a\n- b\n", "list.yaml")).message,
      /list\.yaml: expected a mapping of config sections at the top level, got a list/,
    );
  });

  test("YAML syntax errors report the line", () => {
    const text = "homeserver:\n  url: http://x\n  domain: [unclosed\nbridge: {}\n";
    const err = configError(() => parseConfig(text, "broken.yaml"));
    assert.match(err.message, /broken\.yaml/);
    assert.match(err.issues[0] ?? "", /^line \d+, column \d+: YAML syntax error: /);
  });

  test("a YAML syntax error on a known line names that line", () => {
    const text = "homeserver:\n  url: http://x\n\tdomain: x\n";
    const err = configError(() => parseConfig(text, "tabs.yaml"));
    assert.match(err.issues[0] ?? "", /^line 3, column \d+: YAML syntax error/);
  });

  test("duplicate keys are a YAML error", () => {
    const text = YAML.stringify(minimal()) + "homeserver:\n  url: http://y\n  domain: y\n";
    const err = configError(() => parseConfig(text, "dup.yaml"));
    assert.match(err.message, /line \d+, column \d+: YAML syntax error: Map keys must be unique/);
  });
});

describe("loadConfig file errors", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "msn-config-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("missing file", () => {
    const path = join(dir, "nope.yaml");
    const err = configError(() => loadConfig(path));
    assert.equal(
      err.message,
      `Invalid config ${path}: file not found (generate one from config/config.sample.yaml)`,
    );
  });

  test("a directory", () => {
    const path = join(dir, "sub");
    mkdirSync(path);
    assert.match(configError(() => loadConfig(path)).message, /is a directory, not a file/);
  });

  test("unreadable file", (t) => {
    if (process.getuid?.() === 0) {
      // Root reads any file, and CI runs as root: check from a child that drops to nobody.
      const result = loadAsNobody();
      if ("setuidError" in result) {
        t.skip(`root cannot switch to uid ${NOBODY} here (${result.setuidError})`);
        return;
      }
      assert.equal(result.uid, NOBODY);
      assert.deepEqual(result.readable, { ok: true }, "nobody reads a 0644 file in the same directory");
      assert.deepEqual(result.unreadable, {
        name: "ConfigError",
        message: `Invalid config ${result.unreadablePath}: permission denied`,
      });
      return;
    }
    const path = join(dir, "secret.yaml");
    writeFileSync(path, YAML.stringify(minimal()));
    chmodSync(path, 0o000);
    if (canRead(path)) {
      t.skip("this process reads files whatever their mode (a capability such as CAP_DAC_OVERRIDE)");
      return;
    }
    assert.match(configError(() => loadConfig(path)).message, /permission denied/);
  });

  test("a path that cannot be opened (a file used as a directory)", () => {
    const file = join(dir, "plain");
    writeFileSync(file, "x");
    const path = join(file, "config.yaml");
    assert.match(
      configError(() => loadConfig(path)).message,
      new RegExp(`^Invalid config ${path}: cannot read file: ENOTDIR`),
    );
  });

  test("a valid file loads with paths under its directory", () => {
    const path = join(dir, "ok.yaml");
    writeFileSync(path, YAML.stringify(minimal()));
    const c = loadConfig(path);
    assert.equal(c.database.uri, `sqlite:${join(dir, "msn-bridge.db")}`);
    assert.equal(c.appservice.registration, join(dir, "registration.yaml"));
  });
});

const NOBODY = 65534;

type Outcome = { ok: true } | { name: string; message: string };
type NobodyResult =
  { setuidError: string } | { uid: number; unreadablePath: string; unreadable: Outcome; readable: Outcome };

function canRead(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a root-owned 0600 config and a 0644 one into a world-searchable directory, then loads both
 * in a child node that has dropped to uid/gid nobody. The module is imported before the switch so
 * that only the config files' own modes decide what the child can read.
 */
function loadAsNobody(): NobodyResult {
  const dir = mkdtempSync(join(tmpdir(), "msn-config-nobody-"));
  try {
    chmodSync(dir, 0o755);
    const unreadablePath = join(dir, "secret.yaml");
    const readablePath = join(dir, "public.yaml");
    writeFileSync(unreadablePath, YAML.stringify(minimal()), { mode: 0o600 });
    chmodSync(unreadablePath, 0o600);
    writeFileSync(readablePath, YAML.stringify(minimal()));
    chmodSync(readablePath, 0o644);
    const child = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", NOBODY_CHILD, LOAD_MODULE, String(NOBODY), unreadablePath, readablePath],
      { encoding: "utf8", timeout: 10_000 },
    );
    assert.equal(child.status, 0, `child failed (${String(child.signal ?? child.error)}): ${child.stderr}`);
    return JSON.parse(child.stdout) as NobodyResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The compiled config loader, beside this compiled test in whichever build directory it is. */
const LOAD_MODULE = new URL("../../../src/config/load.js", import.meta.url).href;

const NOBODY_CHILD = `
const [moduleUrl, id, unreadable, readable] = process.argv.slice(1);
const { loadConfig } = await import(moduleUrl);
try {
  process.setgroups([]);
  process.setgid(Number(id));
  process.setuid(Number(id));
} catch (e) {
  process.stdout.write(JSON.stringify({ setuidError: e.code ?? String(e) }));
  process.exit(0);
}
const outcome = (path) => {
  try {
    loadConfig(path);
    return { ok: true };
  } catch (e) {
    return { name: e.name, message: e.message };
  }
};
process.stdout.write(
  JSON.stringify({
    uid: process.getuid(),
    unreadablePath: unreadable,
    unreadable: outcome(unreadable),
    readable: outcome(readable),
  }),
);
`;
