import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppServiceRegistration } from "matrix-appservice-bridge";
import YAML from "yaml";
import { validateConfig } from "../../../src/config/load.js";
import {
  RegistrationExistsError,
  generateRegistration,
  registrationToYaml,
  writeRegistration,
} from "../../../src/config/registration.js";
import type { BridgeConfig } from "../../../src/config/schema.js";
import { repoRoot } from "./repo-root.js";

function config(bridge: Record<string, unknown> = {}, domain = "example.org"): BridgeConfig {
  return validateConfig(
    {
      homeserver: { url: "http://127.0.0.1:8008", domain },
      bridge: { permissions: { "*": "user" }, ...bridge },
      msn: { server: "127.0.0.1:1863" },
    },
    "test",
  );
}

/** What a homeserver sees: the YAML file, read back. */
function written(reg: AppServiceRegistration): Record<string, unknown> {
  return YAML.parse(registrationToYaml(reg)) as Record<string, unknown>;
}

function userRegexes(out: Record<string, unknown>): RegExp[] {
  const ns = out.namespaces as { users: { regex: string; exclusive: boolean }[] };
  for (const u of ns.users) assert.equal(u.exclusive, true, `${u.regex} is exclusive`);
  return ns.users.map((u) => new RegExp(u.regex));
}

/** Synapse matches namespaces with Python's re.match: anchored at the start only. */
function homeserverMatches(regexes: RegExp[], userId: string): boolean {
  return regexes.some((r) => r.exec(userId)?.index === 0);
}

describe("generateRegistration", () => {
  test("contents", () => {
    const reg = generateRegistration(config(), { url: "http://127.0.0.1:8090" });
    const out = written(reg);
    assert.equal(out.id, "msn");
    assert.equal(out.url, "http://127.0.0.1:8090");
    assert.equal(out.sender_localpart, "msnbot");
    assert.equal(out.rate_limited, false);
    assert.equal(out["de.sorunome.msc2409.push_ephemeral"], true);
    assert.equal(out.receive_ephemeral, true);
    assert.match(String(out.as_token), /^[A-Za-z0-9_-]{32,}$/);
    assert.match(String(out.hs_token), /^[A-Za-z0-9_-]{32,}$/);
    assert.notEqual(out.as_token, out.hs_token);
  });

  test("custom id; fresh tokens every time", () => {
    const a = written(generateRegistration(config(), { url: "http://h:1", id: "msn-test" }));
    const b = written(generateRegistration(config(), { url: "http://h:1" }));
    assert.equal(a.id, "msn-test");
    assert.notEqual(a.as_token, b.as_token);
    assert.notEqual(a.hs_token, b.hs_token);
  });

  test("user namespace covers the ghosts and the bot, nobody else", () => {
    const regexes = userRegexes(written(generateRegistration(config(), { url: "http://h:1" })));
    assert.ok(homeserverMatches(regexes, "@msn_bob=40example.com:example.org"));
    assert.ok(homeserverMatches(regexes, "@msnbot:example.org"));
    for (const other of [
      "@alice:example.org",
      "@msn_bob=40example.com:example.org.evil.com",
      "@msn_bob=40example.com:exampleXorg",
      "@msnbot2:example.org",
      "@xmsn_bob:example.org",
      "@msn_bob:other.org",
    ]) {
      assert.ok(!homeserverMatches(regexes, other), `${other} is not claimed`);
    }
  });

  test("regex characters in the prefix and domain are escaped", () => {
    const c = config({ user_prefix: "m.s+n_", bot_username: "b.ot" }, "my-server.example:8448");
    const regexes = userRegexes(written(generateRegistration(c, { url: "http://h:1" })));
    assert.ok(homeserverMatches(regexes, "@m.s+n_bob:my-server.example:8448"));
    assert.ok(homeserverMatches(regexes, "@b.ot:my-server.example:8448"));
    assert.ok(!homeserverMatches(regexes, "@mXssn_bob:my-server.example:8448"));
    assert.ok(!homeserverMatches(regexes, "@bXot:my-server.example:8448"));
  });

  test("matrix-appservice-bridge reads the written registration back", () => {
    const reg = generateRegistration(config(), { url: "http://127.0.0.1:8090" });
    const back = AppServiceRegistration.fromObject(YAML.parse(registrationToYaml(reg)));
    assert.equal(back.getAppServiceToken(), reg.getAppServiceToken());
    assert.equal(back.pushEphemeralEnabled(), true);
    assert.ok(back.isUserMatch("@msn_bob=40example.com:example.org", true));
    assert.ok(!back.isUserMatch("@alice:example.org", false));
  });
});

describe("writeRegistration", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "msn-reg-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("writes mode 0600 YAML", () => {
    const file = join(dir, "registration.yaml");
    const reg = generateRegistration(config(), { url: "http://127.0.0.1:8090" });
    writeRegistration(reg, file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const out = YAML.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    assert.equal(out.as_token, reg.getAppServiceToken());
    assert.equal(out.receive_ephemeral, true);
  });

  test("refuses to overwrite unless forced; forcing tightens the mode", () => {
    const file = join(dir, "existing.yaml");
    writeFileSync(file, "precious: true\n");
    chmodSync(file, 0o644);
    const reg = generateRegistration(config(), { url: "http://127.0.0.1:8090" });
    assert.throws(() => writeRegistration(reg, file), RegistrationExistsError);
    assert.equal(readFileSync(file, "utf8"), "precious: true\n", "the existing file is untouched");
    writeRegistration(reg, file, { force: true });
    assert.equal(
      (YAML.parse(readFileSync(file, "utf8")) as { hs_token: string }).hs_token,
      reg.getHomeserverToken(),
    );
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });
});

describe("registration.yaml.example", () => {
  test("has the generated file's keys, with placeholder tokens", () => {
    const example = YAML.parse(readFileSync(join(repoRoot(), "registration.yaml.example"), "utf8")) as Record<
      string,
      unknown
    >;
    const generated = written(generateRegistration(config(), { url: "http://127.0.0.1:8090" }));
    assert.deepEqual(Object.keys(example).sort(), Object.keys(generated).sort());
    assert.match(String(example.as_token), /CHANGE_ME/);
    assert.match(String(example.hs_token), /CHANGE_ME/);
    assert.deepEqual(example.namespaces, generated.namespaces);
  });
});
