/**
 * `npm run demo`: the whole bridge on one machine for someone with neither an MSN account nor a
 * homeserver. Starts the MSN test server with two accounts (one for the user, one scripted contact
 * that greets and echoes), a local Synapse from the end-to-end tier's Debian chroot, and the bridge
 * as its own process on the default embedded SQLite database; registers a Matrix user and opens
 * its chat with the bridge bot. Everything listens on 127.0.0.1 only and lives in one temp dir.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import YAML from "yaml";
import { freePort } from "../harness/ports.js";
import { startSynapse, type SynapseHandle } from "../harness/synapse.js";
import { MsnTestServer } from "../msn-server/index.js";
import { EchoContact } from "./echo-contact.js";

const here = dirname(fileURLToPath(import.meta.url));
/** The built bridge, found relative to this compiled file (<outDir>/test/demo/). */
const MAIN_JS = resolve(here, "../../src/main.js");

export const DEMO = {
  serverName: "localhost",
  matrixUser: "demo",
  matrixPassword: "demo",
  botUsername: "msnbot",
  you: { email: "demo@hotmail.test", password: "demo", name: "Demo User" },
  echo: { email: "echo@hotmail.test", password: "echo-secret", name: "Echo 🤖" },
} as const;

export interface DemoOptions {
  /** Loopback port for Synapse's client API; default a free one. */
  synapsePort?: number;
  /** Progress and the scripted contact's actions, one line each. */
  say: (line: string) => void;
}

export interface DemoInfo {
  homeserverUrl: string;
  matrixUserId: string;
  botUserId: string;
  /** The user's chat with the bot, made by the demo so the client shows it at once. */
  managementRoomId: string;
  msnServer: string;
  passportUrl: string;
  synapsePid: number;
  bridgePid: number;
  dir: string;
  bridgeLog: string;
  synapseLog: string;
}

export interface DemoHandle {
  readonly info: DemoInfo;
  /** Resolves if the bridge process ends on its own (a crash), with its exit code. */
  readonly bridgeExited: Promise<number | null>;
  /** Stops everything that was started, newest first; idempotent. */
  stop(): Promise<void>;
}

export async function startDemo(options: DemoOptions): Promise<DemoHandle> {
  const say = options.say;
  const dir = mkdtempSync(join(tmpdir(), "msn-demo-"));
  const stoppers: { what: string; stop: () => Promise<void> }[] = [];
  let stopping: Promise<void> | null = null;
  const stopAll = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const { what, stop } of stoppers.reverse()) {
        say(`stopping ${what}`);
        await stop().catch((err: unknown) => say(`error while stopping ${what}: ${String(err)}`));
      }
      // KEEP_TEST_DATA=1 keeps the logs, as it does for Synapse's data dir in the harness.
      if (process.env["KEEP_TEST_DATA"] === "1") say(`keeping ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    })());

  try {
    const msn = new MsnTestServer({ accounts: [DEMO.you, DEMO.echo], maxRecords: 1_000 });
    await msn.start();
    stoppers.push({ what: "the MSN test server", stop: () => msn.stop() });
    msn.befriend(DEMO.you.email, DEMO.echo.email);
    msn.befriend(DEMO.echo.email, DEMO.you.email);
    say(`MSN test server on ${msn.host}:${msn.nsPort} (Passport ${msn.passportUrl})`);

    const hsPort = options.synapsePort ?? (await freePort());
    const asPort = await freePort();
    const homeserverUrl = `http://127.0.0.1:${hsPort}`;
    const configPath = join(dir, "config.yaml");
    writeFileSync(
      configPath,
      YAML.stringify({
        homeserver: { url: homeserverUrl, domain: DEMO.serverName },
        appservice: { hostname: "127.0.0.1", port: asPort, registration: "registration.yaml" },
        bridge: {
          bot_username: DEMO.botUsername,
          bot_displayname: "MSN bridge",
          permissions: { [DEMO.serverName]: "user" },
        },
        msn: { server: `${msn.host}:${msn.nsPort}`, passport_url: msn.passportUrl },
        logging: { level: "info" },
      }),
    );
    const reg = spawnSync(
      process.execPath,
      [MAIN_JS, "-c", configPath, "-r", "-u", `http://127.0.0.1:${asPort}`],
      { encoding: "utf8" },
    );
    if (reg.status !== 0) throw new Error(`bridge -r failed (${reg.status}): ${reg.stderr}${reg.stdout}`);
    const registrationPath = join(dir, "registration.yaml");
    const registration = YAML.parse(readFileSync(registrationPath, "utf8")) as {
      id: string;
      as_token: string;
    };

    say(`starting Synapse on ${homeserverUrl}`);
    const synapse: SynapseHandle = await startSynapse({
      serverName: DEMO.serverName,
      port: hsPort,
      appserviceRegistrationFiles: [registrationPath],
    });
    stoppers.push({ what: "Synapse", stop: () => synapse.stop() });

    say("starting the bridge");
    const bridgeLog = join(dir, "bridge.log");
    const bridge = await startBridgeChild(configPath, dir, bridgeLog);
    stoppers.push({ what: "the bridge", stop: () => bridge.stop() });
    await synapse.pingAppservice(registration.id, registration.as_token);

    const user = await synapse.registerUser(DEMO.matrixUser, DEMO.matrixPassword);
    const botUserId = `@${DEMO.botUsername}:${DEMO.serverName}`;
    const managementRoomId = await openChatWithBot(homeserverUrl, user.accessToken, botUserId);

    const echo = new EchoContact({
      host: msn.host,
      port: msn.nsPort,
      email: DEMO.echo.email,
      password: DEMO.echo.password,
      passportUrl: msn.passportUrl,
      greet: DEMO.you.email,
      say: (line) => say(`[Echo on MSN] ${line}`),
    });
    await echo.start();
    stoppers.push({ what: "the scripted MSN contact", stop: () => echo.stop() });

    return {
      info: {
        homeserverUrl,
        matrixUserId: user.userId,
        botUserId,
        managementRoomId,
        msnServer: `${msn.host}:${msn.nsPort}`,
        passportUrl: msn.passportUrl,
        synapsePid: synapse.pid,
        bridgePid: bridge.pid,
        dir,
        bridgeLog,
        synapseLog: join(synapse.dataDir, "homeserver.log"),
      },
      bridgeExited: bridge.exited,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface BridgeChild {
  pid: number;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * The bridge as an operator runs it, its output in a log file. Started through `setpriv
 * --pdeathsig` (as the Synapse harness does) so that it ends with the demo even if the demo is
 * killed without a chance to stop it.
 */
async function startBridgeChild(configPath: string, cwd: string, logPath: string): Promise<BridgeChild> {
  const log = createWriteStream(logPath);
  const child: ChildProcess = spawn(
    "setpriv",
    ["--pdeathsig", "TERM", "--", process.execPath, MAIN_JS, "-c", configPath],
    { cwd, stdio: ["ignore", "pipe", "pipe"] },
  );
  let recent = "";
  let spawnError: Error | null = null;
  child.once("error", (err) => {
    spawnError = err;
    recent += `\ncannot run the bridge: ${err.message} (setpriv is part of util-linux)\n`;
  });
  const keep = (chunk: Buffer): void => {
    log.write(chunk);
    // Only the start-up line is looked for; a bounded window is enough.
    recent = (recent + chunk.toString("utf8")).slice(-65_536);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  // "close" also follows a failed spawn, where "exit" never comes.
  const exited = new Promise<number | null>((done) => child.once("close", (code) => done(code)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && !spawnError) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise<void>((done) => log.end(done));
  };
  const deadline = Date.now() + 30_000;
  while (!recent.includes("appservice listening")) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the bridge did not start; its log (${logPath}) ends with:\n${recent.slice(-3000)}`);
    }
    await sleep(50);
  }
  return { pid: child.pid ?? -1, exited, stop };
}

/** Creates the user's DM with the bot and waits until the bot has joined (and greeted). */
async function openChatWithBot(homeserverUrl: string, token: string, botUserId: string): Promise<string> {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const res = await fetch(`${homeserverUrl}/_matrix/client/v3/createRoom`, {
    method: "POST",
    headers,
    body: JSON.stringify({ preset: "trusted_private_chat", is_direct: true, invite: [botUserId] }),
  });
  const body = (await res.json()) as { room_id?: string };
  if (!res.ok || typeof body.room_id !== "string") {
    throw new Error(`could not open a chat with the bot: ${res.status} ${JSON.stringify(body)}`);
  }
  const roomId = body.room_id;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const members = await fetch(
      `${homeserverUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/joined_members`,
      { headers },
    );
    const joined = (await members.json()) as { joined?: Record<string, unknown> };
    if (joined.joined && botUserId in joined.joined) return roomId;
    if (Date.now() > deadline) throw new Error(`the bot ${botUserId} did not join the chat ${roomId}`);
    await sleep(200);
  }
}
