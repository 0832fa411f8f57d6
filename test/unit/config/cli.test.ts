import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CliError, USAGE, parseCliArgs, type CliArgs } from "../../../src/cli/args.js";

function ok(argv: string[]): CliArgs {
  const r = parseCliArgs(argv);
  if (r instanceof CliError) assert.fail(`unexpected CliError: ${r.message}`);
  return r;
}

function err(argv: string[]): string {
  const r = parseCliArgs(argv);
  assert.ok(r instanceof CliError, `expected a CliError for ${JSON.stringify(argv)}`);
  return r.message;
}

describe("parseCliArgs", () => {
  test("defaults", () => {
    assert.deepEqual(ok([]), {
      config: "config.yaml",
      dataDir: null,
      generateRegistration: false,
      url: null,
      registrationFile: null,
      port: null,
      help: false,
    });
  });

  test("long and short forms", () => {
    const expected: CliArgs = {
      config: "/etc/msn.yaml",
      dataDir: null,
      generateRegistration: true,
      url: "https://bridge.example.org:8090",
      registrationFile: "reg.yaml",
      port: 9000,
      help: false,
    };
    assert.deepEqual(
      ok([
        "-c",
        "/etc/msn.yaml",
        "-r",
        "-u",
        "https://bridge.example.org:8090",
        "-f",
        "reg.yaml",
        "-p",
        "9000",
      ]),
      expected,
    );
    assert.deepEqual(
      ok([
        "--config=/etc/msn.yaml",
        "--generate-registration",
        "--url",
        "https://bridge.example.org:8090",
        "--file",
        "reg.yaml",
        "--port=9000",
      ]),
      expected,
    );
  });

  test("-f and -p also apply when running the bridge", () => {
    const a = ok(["-f", "/data/registration.yaml", "-p", "8100"]);
    assert.equal(a.registrationFile, "/data/registration.yaml");
    assert.equal(a.port, 8100);
  });

  test("--data-dir: the config is DIR/config.yaml; -c, -r and -f are refused with it", () => {
    const a = ok(["--data-dir", "/data", "-p", "8100"]);
    assert.equal(a.dataDir, "/data");
    assert.equal(a.config, "/data/config.yaml");
    assert.equal(a.port, 8100);
    assert.equal(ok(["-d", "rel/dir"]).config, "rel/dir/config.yaml");
    assert.equal(err(["--data-dir="]), "--data-dir: expected a directory path");
    assert.equal(err(["-d", "/data", "-c", "x.yaml"]), "--data-dir cannot be combined with --config");
    assert.equal(err(["-d", "/data", "-r"]), "--data-dir cannot be combined with --generate-registration");
    assert.equal(err(["-d", "/data", "-f", "r.yaml"]), "--data-dir cannot be combined with --file");
    assert.ok(USAGE.includes("-d, --data-dir DIR"));
    for (const v of [
      "MSN_HOMESERVER_URL",
      "MSN_HOMESERVER_DOMAIN",
      "MSN_APPSERVICE_URL",
      "MSN_DATABASE_URI",
    ]) {
      assert.ok(USAGE.includes(v), `usage lists ${v}`);
    }
  });

  test("help", () => {
    assert.equal(ok(["-h"]).help, true);
    assert.equal(ok(["--help", "-p", "nonsense"]).help, true, "help wins over other problems");
    assert.match(USAGE, /--generate-registration/);
    for (const flag of ["-c, --config", "-r,", "-u, --url", "-f, --file", "-p, --port", "-h, --help"]) {
      assert.ok(USAGE.includes(flag), `usage mentions ${flag}`);
    }
  });

  test("unknown options", () => {
    assert.equal(err(["--bogus"]), "unknown option --bogus (see --help)");
    assert.equal(err(["-x"]), "unknown option -x (see --help)");
  });

  test("positional arguments", () => {
    assert.match(err(["config.yaml"]), /^unexpected argument "config\.yaml": options take the form -c FILE/);
  });

  test("missing option values", () => {
    assert.match(err(["-c"]), /^Option '-c, --config <value>' argument missing \(see --help\)$/);
    assert.match(err(["-c", "-r"]), /^Option '-c' argument is ambiguous \(see --help\)$/);
    assert.match(err(["--config="]), /^--config: expected a file path$/);
  });

  test("bad ports", () => {
    for (const p of ["0", "65536", "-1", "80.5", "http", "1e3", ""]) {
      const m = parseCliArgs(["--port=" + p]);
      assert.ok(m instanceof CliError, `port ${JSON.stringify(p)} is rejected`);
      assert.equal(m.message, `--port: expected a port number 1-65535, got ${JSON.stringify(p)}`);
    }
    assert.equal(ok(["-p", "65535"]).port, 65535);
    assert.equal(ok(["-p", "1"]).port, 1);
  });

  test("bad URLs", () => {
    for (const u of ["ftp://x", "localhost:8090", "http://", "not a url"]) {
      assert.equal(
        err(["-r", "-u", u]),
        `--url: expected an http:// or https:// URL, got ${JSON.stringify(u)}`,
        `URL ${JSON.stringify(u)}`,
      );
    }
  });

  test("--url without --generate-registration", () => {
    assert.equal(
      err(["-u", "http://127.0.0.1:8090"]),
      "--url is only used with --generate-registration (-r)",
    );
  });

  test("boolean flags take no value", () => {
    assert.match(err(["--generate-registration=yes"]), /does not take an argument/);
  });
});
