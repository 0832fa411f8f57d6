/**
 * `npm run demo` as a newcomer uses it: start the command, read the instructions it prints, log in
 * to the printed homeserver as the printed Matrix user, send the printed `login` line to the bot,
 * get the scripted MSN contact's greeting and echo, then Ctrl-C (SIGINT to the demo process alone)
 * must take down every process it started.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TestMatrixUser } from "../harness/matrix-client.js";
import { waitFor } from "../harness/msn-contact.js";

const here = dirname(fileURLToPath(import.meta.url));
const DEMO_JS = resolve(here, "../demo/main.js");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function field(output: string, re: RegExp, what: string): string {
  const m = re.exec(output);
  assert.ok(m?.[1], `the demo printed no ${what}:\n${output}`);
  return m[1];
}

describe("npm run demo", { timeout: 180_000 }, () => {
  let demo: ChildProcess | null = null;
  let output = "";
  let user: TestMatrixUser | null = null;

  after(() => {
    user?.stop();
    if (demo && demo.exitCode === null && demo.signalCode === null) demo.kill("SIGKILL");
  });

  test("prints how to connect; the printed user and login reach the scripted contact; Ctrl-C stops it all", async () => {
    const child = spawn(process.execPath, [DEMO_JS], { stdio: ["ignore", "pipe", "pipe"] });
    demo = child;
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    child.stdout!.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.stderr!.on("data", (c: Buffer) => (output += c.toString("utf8")));
    await waitFor(
      "the demo's instructions",
      () => output.includes("Press Ctrl-C") || child.exitCode !== null,
      120_000,
    );
    assert.equal(child.exitCode, null, `the demo exited early:\n${output}`);

    const homeserverUrl = field(output, /Homeserver URL : (http:\/\/127\.0\.0\.1:\d+)/, "homeserver URL");
    const username = field(output, /Username {7}: (\S+)/, "username");
    const password = field(output, /Password {7}: (\S+)/, "password");
    const loginLine = field(output, /\n {6}(login \S+ \S+)\n/, "login line");
    const room = field(output, /\(room (![^)\s]+)\)/, "management room");
    const synapsePid = Number(field(output, /Synapse pid (\d+)/, "Synapse pid"));
    const bridgePid = Number(field(output, /bridge pid (\d+)/, "bridge pid"));
    const bridgeLog = field(output, /Logs: (\S+)/, "bridge log");
    assert.ok(alive(synapsePid) && alive(bridgePid));

    const res = await fetch(`${homeserverUrl}/_matrix/client/v3/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: username },
        password,
      }),
    });
    const creds = (await res.json()) as { user_id: string; access_token: string; device_id: string };
    assert.equal(res.status, 200, JSON.stringify(creds));
    user = await TestMatrixUser.start({
      baseUrl: homeserverUrl,
      userId: creds.user_id,
      accessToken: creds.access_token,
      deviceId: creds.device_id,
    });

    await user.waitForMessage(
      room,
      (body) => body.startsWith("Hello! I am the MSN Messenger bridge"),
      20_000,
    );
    await user.sendText(room, loginLine);
    await user.waitForMessage(
      room,
      (body) => body.startsWith("✅ Logged in to MSN as demo@hotmail.test"),
      30_000,
    );
    const domain = creds.user_id.split(":")[1];
    const echoRoom = await user.waitForInvite(`@msn_echo=40hotmail.test:${domain}`, 30_000);
    await user.joinRoom(echoRoom);
    await user.waitForMessage(echoRoom, (body) => body.startsWith("Hi Demo User! I am Echo"), 20_000);
    await user.sendText(echoRoom, "hello from Matrix ✓");
    await user.waitForMessage(echoRoom, "Echo: hello from Matrix ✓", 20_000);
    user.stop();
    user = null;

    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 0, output);
    assert.match(output, /demo: stopped/);
    assert.equal(alive(synapsePid), false, "Synapse is gone");
    assert.equal(alive(bridgePid), false, "the bridge is gone");
    assert.equal(existsSync(dirname(bridgeLog)), false, "the demo's temp dir is removed");
    await assert.rejects(fetch(`${homeserverUrl}/_matrix/client/versions`), "nothing listens on the port");
  });
});
