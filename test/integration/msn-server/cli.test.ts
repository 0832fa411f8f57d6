import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { goOnline, goOnlineTwn, login, loginTwn, syncList } from "./raw-client.js";

// Compiled layout: <out>/test/integration/msn-server/cli.test.js → <out>/test/msn-server/cli.js
const CLI = fileURLToPath(new URL("../../msn-server/cli.js", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts the CLI and resolves with the process and its first stdout line. */
function startCli(
  args: string[],
): Promise<{ child: ChildProcess; line: string; exited: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
    let out = "";
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const newline = out.indexOf("\n");
      if (newline >= 0) resolve({ child, line: out.slice(0, newline), exited });
    });
    void exited.then((code) => reject(new Error(`CLI exited (${code}) before its ready line: ${err}`)));
  });
}

describe("MSN test server CLI", () => {
  let dir: string;
  let accounts: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "msn-server-cli-"));
    accounts = join(dir, "accounts.yaml");
    await writeFile(
      accounts,
      [
        "- email: alice@example.com",
        "  password: alicepw",
        "  name: Alice",
        "  contacts: [bob@example.com]",
        "- email: bob@example.com",
        "  password: bobpw",
        "  name: Bob",
        "  contacts: [alice@example.com]",
        "",
      ].join("\n"),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("starts, prints one ready line, serves logins and stops cleanly on SIGTERM", async () => {
    const { child, line, exited } = await startCli(["--port", "0", "--accounts", accounts]);
    try {
      const m =
        /^MSN test server: NS 127\.0\.0\.1:(\d+), SB 127\.0\.0\.1:(\d+), passport http:\/\/127\.0\.0\.1:(\d+)\/rdr\/pprdr\.asp, 2 accounts$/.exec(
          line,
        );
      assert.ok(m, `ready line: ${line}`);
      const nsPort = Number(m[1]);
      // Bob comes in over MSNP12/TWN with a ticket from the advertised Passport URL.
      const passportUrl = `http://127.0.0.1:${m[3]}/rdr/pprdr.asp`;
      const bob = await loginTwn({ nsPort, passportUrl }, 12, "bob@example.com", "bobpw");
      await syncList(bob, 12);
      await goOnlineTwn(bob);
      const alice = await login(nsPort, "alice@example.com", "alicepw");
      const iln = await goOnline(alice);
      assert.deepEqual(
        iln.map((r) => r.line),
        ["ILN 6 NLN bob@example.com Bob"],
        "the contacts from the file are on the FL",
      );
      alice.close();
      bob.close();
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0);
  });

  test("bad arguments and bad account files fail with a message and a non-zero exit", async () => {
    const invalid = join(dir, "invalid.yaml");
    await writeFile(invalid, "- email: not-an-address\n  password: x\n");
    // A handful of representative failures (each one is a Node start-up, so not every variant).
    const [missing, remote, nofile, bad] = await Promise.all([
      run(["--port", "0"]),
      run(["--port", "0", "--host", "0.0.0.0", "--accounts", accounts]),
      run(["--port", "0", "--accounts", join(dir, "nope.yaml")]),
      run(["--port", "0", "--accounts", invalid]),
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--accounts FILE is required/);
    assert.match(missing.stderr, /^usage:/m, "usage errors show the usage");

    assert.equal(remote.code, 2);
    assert.match(remote.stderr, /loopback/);

    assert.equal(nofile.code, 1);
    assert.match(nofile.stderr, /cannot read accounts file/);

    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid\.yaml\[0\]: "email" must be an address/);
    assert.equal(bad.stdout, "", "no ready line on failure");
  });
});
