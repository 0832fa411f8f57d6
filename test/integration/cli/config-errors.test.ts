/**
 * The bridge as an operator starts it (`node dist/src/main.js -c config.yaml`, with and without
 * `-r`) on a config that cannot work: it must exit non-zero with one clear message that names the
 * offending key or file, and leave the directory as it was (no database, no registration, no key
 * file), so fixing the config and starting again is all it takes.
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { freePort } from "../../harness/ports.js";

const MAIN_JS = resolve(dirname(fileURLToPath(import.meta.url)), "../../../src/main.js");

/** A config that passes validation; each case breaks one thing. */
function baseConfig(port: number): Record<string, Record<string, unknown>> {
  return {
    homeserver: { url: "http://127.0.0.1:1", domain: "example.test" },
    appservice: { hostname: "127.0.0.1", port, registration: "registration.yaml" },
    bridge: { permissions: { "example.test": "user" }, credentials_key_file: "msn-bridge.key" },
    msn: { server: "127.0.0.1:1" },
    database: { uri: "sqlite:bridge.db" },
  };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runMain(args: string[], cwd: string): Promise<Run> {
  return new Promise((done, fail) => {
    // MSN_* variables would override config keys: the cases must see only their file.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MSN_")));
    const child = spawn(process.execPath, [MAIN_JS, ...args], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", fail);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

interface Case {
  name: string;
  /** Changes the base config (or returns raw text for the file). */
  edit(c: Record<string, Record<string, unknown>>): void | string;
  /** Extra files to prepare in the directory before the run. */
  prepare?(dir: string): void;
  /** Must appear in the single error message. */
  message: RegExp;
  /** Also try with -r (config errors must stop registration generation too). */
  registration?: boolean;
}

const CASES: Case[] = [
  {
    name: "missing section",
    edit: (c) => void delete c.homeserver,
    message: /homeserver/,
    registration: true,
  },
  {
    name: "missing key",
    edit: (c) => void delete c.homeserver!.domain,
    message: /homeserver\.domain/,
    registration: true,
  },
  {
    name: "wrong type",
    edit: (c) => void (c.appservice!.port = "eighty"),
    message: /appservice\.port/,
    registration: true,
  },
  {
    name: "unknown key",
    edit: (c) => void (c.bridge!.permisions = { "example.test": "user" }),
    message: /bridge.*permisions|permisions/,
    registration: true,
  },
  {
    name: "bad homeserver URL",
    edit: (c) => void (c.homeserver!.url = "not a url"),
    message: /homeserver\.url/,
    registration: true,
  },
  {
    name: "bad homeserver URL scheme",
    edit: (c) => void (c.homeserver!.url = "ftp://127.0.0.1/"),
    message: /homeserver\.url/,
  },
  {
    name: "plain-http Passport URL off loopback",
    edit: (c) => void (c.msn!.passport_url = "http://passport.example.com/login"),
    message: /msn\.passport_url/,
  },
  {
    name: "bad MSN server address",
    edit: (c) => void (c.msn!.server = "host:notaport"),
    message: /msn\.server/,
  },
  {
    name: "unsupported database URI",
    edit: (c) => void (c.database!.uri = "mysql://root:hunter2-pw@db/x"),
    message: /database\.uri|unsupported database/,
  },
  {
    name: "SQLite database in a directory that does not exist",
    edit: (c) => void (c.database!.uri = "sqlite:no/such/dir/bridge.db"),
    message: /no\/such\/dir/,
  },
  {
    name: "YAML syntax error",
    edit: () => "homeserver: {url: [\n",
    message: /line \d+, column \d+: YAML syntax error/,
    registration: true,
  },
  {
    name: "config file is a directory",
    edit: () => undefined,
    prepare: (dir) => {
      rmSync(join(dir, "config.yaml"));
      mkdirSync(join(dir, "config.yaml"));
    },
    message: /config\.yaml: is a directory/,
  },
  {
    name: "registration file missing",
    edit: () => undefined,
    prepare: (dir) => rmSync(join(dir, "registration.yaml")),
    message: /registration file .*registration\.yaml/,
  },
  {
    name: "credentials key file unreadable (not 32 bytes of base64)",
    edit: () => undefined,
    prepare: (dir) => writeFileSync(join(dir, "msn-bridge.key"), "not a key\n", { mode: 0o600 }),
    message: /credentials key file .*msn-bridge\.key/,
  },
  {
    name: "credentials key file is a directory",
    edit: () => undefined,
    prepare: (dir) => mkdirSync(join(dir, "msn-bridge.key")),
    message: /credentials key file .*msn-bridge\.key/,
  },
];

const REGISTRATION = YAML.stringify({
  id: "msn",
  url: "http://127.0.0.1:1",
  as_token: "as-token",
  hs_token: "hs-token",
  sender_localpart: "msnbot",
  namespaces: { users: [{ exclusive: true, regex: "@msn_.*:example\\.test" }], aliases: [], rooms: [] },
});

describe(
  "config errors at the command line: clear message, exit code, nothing written",
  { concurrency: 3 },
  () => {
    let root: string;
    before(() => {
      root = mkdtempSync(join(tmpdir(), "msn-config-errors-"));
    });
    after(() => rmSync(root, { recursive: true, force: true }));

    const runs = CASES.flatMap((c) => [
      { c, args: (dir: string) => ["-c", join(dir, "config.yaml")], label: c.name },
      ...(c.registration
        ? [
            {
              c,
              args: (dir: string) => ["-c", join(dir, "config.yaml"), "-r", "-u", "http://127.0.0.1:9"],
              label: `${c.name} (-r)`,
            },
          ]
        : []),
    ]);

    for (const [i, { c, args, label }] of runs.entries()) {
      test(label, async () => {
        const dir = join(root, `case-${i}`);
        mkdirSync(dir);
        const config = baseConfig(await freePort());
        const text = c.edit(config);
        writeFileSync(join(dir, "config.yaml"), typeof text === "string" ? text : YAML.stringify(config));
        // -r writes the registration: the non -r runs find one already there, as in production.
        if (!args(dir).includes("-r")) writeFileSync(join(dir, "registration.yaml"), REGISTRATION);
        c.prepare?.(dir);
        const before = readdirSync(dir).sort();

        const run = await runMain(args(dir), dir);
        assert.notEqual(run.code, 0, `exit code; stderr: ${run.stderr}`);
        assert.equal(run.code, 1, `a config error exits 1; stderr: ${run.stderr}`);
        assert.match(run.stderr, c.message);
        if (!/YAML syntax/.test(run.stderr)) {
          assert.equal(run.stderr.trim().split("\n").length, 1, `one problem, one line: ${run.stderr}`);
        }
        assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
        assert.ok(!run.stderr.includes("hunter2-pw"), "no secret from the config in the message");
        assert.equal(run.stdout, "", "nothing on stdout");
        assert.deepEqual(readdirSync(dir).sort(), before, "no file was written");
      });
    }

    test("the base config itself is valid (-r writes a registration and exits 0)", async () => {
      const dir = join(root, "valid");
      mkdirSync(dir);
      writeFileSync(join(dir, "config.yaml"), YAML.stringify(baseConfig(await freePort())));
      const run = await runMain(["-c", join(dir, "config.yaml"), "-r", "-u", "http://127.0.0.1:9"], dir);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(readdirSync(dir).includes("registration.yaml"));
    });
  },
);
