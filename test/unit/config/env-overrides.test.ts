import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, parseConfig } from "../../../src/config/load.js";
import { activeEnvOverrides, ENV_OVERRIDES } from "../../../src/config/env-overrides.js";

const YAML_TEXT = `
homeserver:
  url: http://127.0.0.1:8008
  domain: example.org
appservice:
  url: http://127.0.0.1:8090
bridge:
  permissions:
    "example.org": user
msn:
  server: 127.0.0.1:1863
database:
  uri: sqlite:file.db
`;

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail("expected a ConfigError");
}

describe("MSN_* environment overrides", () => {
  test("each variable replaces its key; the rest of the file stays", () => {
    const c = parseConfig(YAML_TEXT, "t", {
      env: {
        MSN_HOMESERVER_URL: "https://matrix.example.net",
        MSN_HOMESERVER_DOMAIN: "example.net",
        MSN_APPSERVICE_URL: "http://msn-bridge:8090",
        MSN_DATABASE_URI: "postgres://msn:pw@db/msn",
      },
    });
    assert.equal(c.homeserver.url, "https://matrix.example.net");
    assert.equal(c.homeserver.domain, "example.net");
    assert.equal(c.appservice.url, "http://msn-bridge:8090");
    assert.equal(c.database.uri, "postgres://msn:pw@db/msn");
    assert.equal(c.msn.server.port, 1863);
    assert.deepEqual(c.bridge.permissions, { "example.org": "user" });
    assert.deepEqual(
      ENV_OVERRIDES.map((o) => o.variable),
      ["MSN_HOMESERVER_URL", "MSN_HOMESERVER_DOMAIN", "MSN_APPSERVICE_URL", "MSN_DATABASE_URI"],
    );
  });

  test("an empty variable counts as unset; unrelated MSN_ variables are ignored", () => {
    const env = { MSN_HOMESERVER_URL: "", MSN_SYNAPSE_ROOT: "/x" };
    assert.deepEqual(activeEnvOverrides(env), []);
    assert.equal(parseConfig(YAML_TEXT, "t", { env }).homeserver.url, "http://127.0.0.1:8008");
  });

  test("a section missing from the file is created by its variables", () => {
    const text = YAML_TEXT.replace(/homeserver:\n.*\n.*\n/, "");
    assert.match(configError(() => parseConfig(text, "t", { env: {} })).message, /homeserver: is required/);
    const c = parseConfig(text, "t", {
      env: { MSN_HOMESERVER_URL: "http://hs:8008", MSN_HOMESERVER_DOMAIN: "hs.test" },
    });
    assert.deepEqual(c.homeserver, { url: "http://hs:8008", domain: "hs.test" });
  });

  test("a bad value is reported with the variable that set it; a database URI is not echoed", () => {
    const e = configError(() =>
      parseConfig(YAML_TEXT, "cfg.yaml", {
        env: { MSN_HOMESERVER_URL: "matrix.example.net", MSN_DATABASE_URI: "mysql://u:secret@h/db" },
      }),
    );
    assert.deepEqual(e.issues, [
      'homeserver.url (from MSN_HOMESERVER_URL): must be an http:// or https:// URL, e.g. http://127.0.0.1:8008, got the string "matrix.example.net"',
      'database.uri (from MSN_DATABASE_URI): must be "sqlite:<path>" or a "postgres://user:pass@host/db" URL',
    ]);
    assert.ok(!e.message.includes("secret"));
  });

  test("keys from the file keep plain issue paths", () => {
    const e = configError(() =>
      parseConfig(YAML_TEXT.replace("domain: example.org", "domain: 'not a name'"), "t", {
        env: { MSN_HOMESERVER_URL: "http://hs:8008" },
      }),
    );
    assert.equal(e.issues.length, 1);
    assert.match(e.issues[0] ?? "", /^homeserver\.domain: must be a Matrix server name/);
  });

  test("loadConfig: a relative sqlite path from the environment resolves against the config's directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "msn-env-"));
    try {
      const path = join(dir, "config.yaml");
      writeFileSync(path, YAML_TEXT);
      assert.equal(loadConfig(path, { env: {} }).database.uri, `sqlite:${join(dir, "file.db")}`);
      const c = loadConfig(path, { env: { MSN_DATABASE_URI: "sqlite:other.db" } });
      assert.equal(c.database.uri, `sqlite:${join(dir, "other.db")}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("parseConfig without an env option ignores the process environment", () => {
    process.env.MSN_HOMESERVER_DOMAIN = "from-process.test";
    try {
      assert.equal(parseConfig(YAML_TEXT, "t").homeserver.domain, "example.org");
      const dir = mkdtempSync(join(tmpdir(), "msn-env-"));
      try {
        writeFileSync(join(dir, "config.yaml"), YAML_TEXT);
        assert.equal(loadConfig(join(dir, "config.yaml")).homeserver.domain, "from-process.test");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      delete process.env.MSN_HOMESERVER_DOMAIN;
    }
  });
});
