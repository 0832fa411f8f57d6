/**
 * `--data-dir`, the container image's default command, run as the built `main.js` process the way
 * an operator's successive `docker run`s would: what each start writes, prints and exits with.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import YAML from "yaml";
import { MAIN_JS } from "../../harness/bridge-process.js";
import { freePort } from "../../harness/ports.js";
import { repoRoot } from "../../unit/config/repo-root.js";

const SAMPLE = readFileSync(join(repoRoot(), "config", "config.sample.yaml"), "utf8");
const OVERRIDE_VARS = [
  "MSN_HOMESERVER_URL",
  "MSN_HOMESERVER_DOMAIN",
  "MSN_APPSERVICE_URL",
  "MSN_DATABASE_URI",
];

/** The process environment without any MSN_* override the caller's shell may have set. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const v of OVERRIDE_VARS) delete env[v];
  return { ...env, ...extra };
}

function run(
  args: string[],
  env: Record<string, string> = {},
  uid?: number,
): SpawnSyncReturns<string> & { status: number } {
  const res = spawnSync(process.execPath, [MAIN_JS, ...args], {
    encoding: "utf8",
    env: cleanEnv(env),
    timeout: 20_000,
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  assert.equal(res.error, undefined, String(res.error));
  assert.notEqual(res.status, null, `killed by ${String(res.signal)}`);
  return res as SpawnSyncReturns<string> & { status: number };
}

function edited(sampleText: string): string {
  return sampleText
    .replace("domain: example.org", "domain: hs.test")
    .replace('"example.org": user', '"hs.test": user')
    .replace("url: http://127.0.0.1:8090", "url: http://msn-bridge:8090");
}

describe("--data-dir first run (built main.js)", () => {
  let root = "";
  let n = 0;
  const freshDir = (): string => {
    const dir = join(root, `data-${n++}`);
    mkdirSync(dir);
    return dir;
  };

  before(() => {
    root = mkdtempSync(join(tmpdir(), "msn-first-run-"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test("empty data dir: writes the sample as config.yaml (0600, listening on 0.0.0.0), exits 0, says what to edit", () => {
    const dir = freshDir();
    const res = run(["--data-dir", dir]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stderr, "");
    assert.match(
      res.stdout,
      new RegExp(`^No config found: wrote the sample config to ${dir}/config\\.yaml\\.\\n`),
    );
    for (const what of [
      "homeserver.url",
      "bridge.permissions",
      "msn.server",
      "MSN_HOMESERVER_URL",
      "MSN_APPSERVICE_URL",
    ]) {
      assert.ok(res.stdout.includes(what), `the message names ${what}`);
    }
    assert.deepEqual(readdirSync(dir), ["config.yaml"], "nothing else is written");
    const written = readFileSync(join(dir, "config.yaml"), "utf8");
    assert.equal(written, SAMPLE.replace("\n  hostname: 127.0.0.1\n", "\n  hostname: 0.0.0.0\n"));
    assert.notEqual(written, SAMPLE, "the listener address was changed for a container");
    const parsed = YAML.parse(written) as { appservice: { hostname: string } };
    assert.equal(parsed.appservice.hostname, "0.0.0.0");
    assert.equal(statSync(join(dir, "config.yaml")).mode & 0o777, 0o600);
  });

  test("unedited sample: exit 1 asking to edit it, no registration generated", () => {
    const dir = freshDir();
    assert.equal(run(["--data-dir", dir]).status, 0);
    const before = readFileSync(join(dir, "config.yaml"), "utf8");
    const res = run(["--data-dir", dir]);
    assert.equal(res.status, 1);
    assert.equal(res.stdout, "");
    assert.match(
      res.stderr,
      new RegExp(`^error: ${dir}/config\\.yaml is still the unedited sample: edit it`),
    );
    assert.deepEqual(readdirSync(dir), ["config.yaml"]);
    assert.equal(readFileSync(join(dir, "config.yaml"), "utf8"), before);
  });

  test("config without registration: writes registration.yaml (0600), exits 0, says how to add it", () => {
    const dir = freshDir();
    writeFileSync(join(dir, "config.yaml"), edited(SAMPLE));
    const res = run(["--data-dir", dir]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stderr, "");
    assert.equal(
      res.stdout,
      `No registration found: wrote ${dir}/registration.yaml (the homeserver will reach the bridge at http://msn-bridge:8090).\n` +
        "Add it to your homeserver (Synapse: list it under app_service_config_files in homeserver.yaml),\n" +
        "restart the homeserver, then start the bridge again.\n",
    );
    assert.deepEqual(
      readdirSync(dir).sort(),
      ["config.yaml", "registration.yaml"],
      "nothing else is written",
    );
    const reg = YAML.parse(readFileSync(join(dir, "registration.yaml"), "utf8")) as {
      url: string;
      sender_localpart: string;
      namespaces: { users: { regex: string }[] };
    };
    assert.equal(reg.url, "http://msn-bridge:8090");
    assert.equal(reg.sender_localpart, "msnbot");
    assert.deepEqual(
      reg.namespaces.users.map((u) => u.regex),
      ["^@msn_.*:hs\\.test$", "^@msnbot:hs\\.test$"],
    );
    assert.equal(statSync(join(dir, "registration.yaml")).mode & 0o777, 0o600);
  });

  test("MSN_* variables override the file: the registration carries their URL and domain", () => {
    const dir = freshDir();
    writeFileSync(join(dir, "config.yaml"), edited(SAMPLE));
    const res = run(["--data-dir", dir], {
      MSN_APPSERVICE_URL: "http://bridge.from-env:9000",
      MSN_HOMESERVER_DOMAIN: "env.test",
      MSN_HOMESERVER_URL: "",
    });
    assert.equal(res.status, 0, res.stderr);
    const reg = YAML.parse(readFileSync(join(dir, "registration.yaml"), "utf8")) as {
      url: string;
      namespaces: { users: { regex: string }[] };
    };
    assert.equal(reg.url, "http://bridge.from-env:9000");
    assert.deepEqual(
      reg.namespaces.users.map((u) => u.regex),
      ["^@msn_.*:env\\.test$", "^@msnbot:env\\.test$"],
    );
  });

  test("a bad override is named by its variable; nothing is written", () => {
    const dir = freshDir();
    writeFileSync(join(dir, "config.yaml"), edited(SAMPLE));
    const res = run(["--data-dir", dir], {
      MSN_HOMESERVER_URL: "matrix.example.net",
      MSN_DATABASE_URI: "mysql://u:hunter2@db/msn",
    });
    assert.equal(res.status, 1);
    assert.equal(
      res.stderr,
      `Invalid config ${dir}/config.yaml:\n` +
        '  - homeserver.url (from MSN_HOMESERVER_URL): must be an http:// or https:// URL, e.g. http://127.0.0.1:8008, got the string "matrix.example.net"\n' +
        '  - database.uri (from MSN_DATABASE_URI): must be "sqlite:<path>" or a "postgres://user:pass@host/db" URL\n',
    );
    assert.deepEqual(readdirSync(dir), ["config.yaml"]);
  });

  test("no appservice.url anywhere: exit 1 naming the key and MSN_APPSERVICE_URL", () => {
    const dir = freshDir();
    writeFileSync(
      join(dir, "config.yaml"),
      edited(SAMPLE).replace(/^ {2}url: http:\/\/msn-bridge:8090\n/m, ""),
    );
    const res = run(["--data-dir", dir]);
    assert.equal(res.status, 1);
    assert.match(
      res.stderr,
      /^error: cannot generate .*\/registration\.yaml: set appservice\.url in .*config\.yaml \(or MSN_APPSERVICE_URL\)/,
    );
    assert.deepEqual(readdirSync(dir), ["config.yaml"]);
  });

  test("a missing data dir is an error that says to mount a volume", () => {
    const res = run(["--data-dir", join(root, "absent")]);
    assert.equal(res.status, 1);
    assert.equal(
      res.stderr,
      `error: data directory ${join(root, "absent")}: does not exist (mount a volume there)\n`,
    );
  });

  test("a data dir the bridge cannot write: exit 1 naming the uid that needs access", () => {
    const dir = freshDir();
    const asRoot = process.getuid?.() === 0;
    // Root writes anywhere, so as root the bridge runs as nobody against a root-owned dir.
    const uid = asRoot ? 65534 : process.getuid!();
    chmodSync(root, 0o755);
    chmodSync(dir, 0o555);
    try {
      const res = run(["--data-dir", dir], {}, asRoot ? uid : undefined);
      assert.equal(res.status, 1);
      assert.equal(
        res.stderr,
        `error: cannot write ${dir}/config.yaml: permission denied; ${dir} must be writable by uid ${uid}\n`,
      );
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  test("--data-dir is refused together with -c", () => {
    const res = run(["--data-dir", root, "-c", "x.yaml"]);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /^--data-dir cannot be combined with --config\n/);
  });

  test("config and registration present: the bridge runs from the data dir, logs which keys came from the environment, stops with 0", async () => {
    const dir = freshDir();
    const port = await freePort();
    writeFileSync(
      join(dir, "config.yaml"),
      edited(SAMPLE).replace("\n  port: 8090\n", `\n  port: ${port}\n`),
    );
    assert.equal(run(["--data-dir", dir]).status, 0);
    // The homeserver is not running: the bridge still listens, and a clean stop still exits 0.
    const child = spawn(process.execPath, [MAIN_JS, "--data-dir", dir], {
      env: cleanEnv({ MSN_HOMESERVER_URL: "http://127.0.0.1:9", MSN_DATABASE_URI: "sqlite:state.db" }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    try {
      const deadline = Date.now() + 15_000;
      while (!out.includes("appservice listening") && Date.now() < deadline && child.exitCode === null) {
        await sleep(50);
      }
      assert.ok(out.includes("appservice listening"), out);
      assert.match(
        out,
        /config keys set from the environment.*homeserver\.url \(MSN_HOMESERVER_URL\).*database\.uri \(MSN_DATABASE_URI\)/,
      );
      const live = await fetch(`http://127.0.0.1:${port}/live`);
      assert.equal(live.status, 200);
      assert.ok(
        readdirSync(dir).includes("state.db"),
        "the database named by MSN_DATABASE_URI is in the data dir",
      );
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, out);
  });
});
