/**
 * Everything the end-to-end benchmarks run against, on loopback: the MSN test server, the stub
 * homeserver, the bridge as its own process (as an operator runs it), one puppet logged in
 * through the management-room flow, MSN contacts each with an open chat to the puppet, and the
 * baseline relay process with an open chat from each contact too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import type { SwitchboardSession } from "../../src/msnp/index.js";
import { BridgeProcess } from "../../test/harness/bridge-process.js";
import { freePort } from "../../test/harness/ports.js";
import { MsnTestServer } from "../../test/msn-server/index.js";
import { findChildPid } from "./proc-cpu.js";
import { AppservicePusher } from "./appservice-push.js";
import { MsnContact } from "../../test/harness/msn-contact.js";
import { StubHomeserver } from "./stub-homeserver.js";
import { withTimeout } from "./timeout.js";

const here = dirname(fileURLToPath(import.meta.url));
const BASELINE_JS = resolve(here, "../baseline-relay.js");

export const DOMAIN = "bench.test";
export const MATRIX_USER = `@user:${DOMAIN}`;
const PUPPET = { email: "alice@hotmail.test", password: "alice-pw", name: "Alice" };
const RELAY = { email: "relay@hotmail.test", password: "relay-pw", name: "Baseline relay" };
const MANAGEMENT_ROOM = `!management:${DOMAIN}`;
export const BASELINE_ROOM = `!baseline:${DOMAIN}`;
/** The bot of BridgeProcess's config (`bridge.bot_username: msnbot`). */
const BOT_USER = `@msnbot:${DOMAIN}`;

/** One MSN contact with its chat to the puppet (a portal) and its chat to the baseline relay. */
export interface RigContact {
  contact: MsnContact;
  toBridge: SwitchboardSession;
  toBaseline: SwitchboardSession;
  /** The portal room the bridge created for this contact. */
  roomId: string;
}

export class BridgeRig {
  readonly contacts: RigContact[] = [];
  private relay: ChildProcess | null = null;
  private bridgePidCache: number | null = null;

  private constructor(
    readonly msn: MsnTestServer,
    readonly homeserver: StubHomeserver,
    readonly bridge: BridgeProcess,
    readonly pusher: AppservicePusher,
  ) {}

  static async start(contactCount: number): Promise<BridgeRig> {
    const contactAccounts = Array.from({ length: contactCount }, (_, i) => ({
      email: `contact${i}@hotmail.test`,
      password: `contact${i}-pw`,
      name: `Contact ${i} ✓`,
    }));
    // maxRecords 0: the server's transcript would otherwise grow with every benchmark message.
    const msn = new MsnTestServer({ accounts: [PUPPET, RELAY, ...contactAccounts], maxRecords: 0 });
    await msn.start();
    for (const c of contactAccounts) {
      for (const other of [PUPPET.email, RELAY.email]) {
        msn.befriend(c.email, other);
        msn.befriend(other, c.email);
      }
    }
    const homeserver = new StubHomeserver(DOMAIN, BOT_USER);
    await homeserver.start();

    const appservicePort = await freePort();
    const bridge = new BridgeProcess({
      homeserverUrl: homeserver.url,
      domain: DOMAIN,
      appservicePort,
      msnHost: msn.host,
      msnPort: msn.nsPort,
      // The whole domain: the contact-sync benchmark logs in a second Matrix user.
      bridge: { permissions: { [DOMAIN]: "user" } },
      // MSNP8+ logins go through Passport (an HTTPS round trip to a nexus); the benchmarks
      // measure relaying, which is the same in every dialect, so the puppet speaks MSNP7 like
      // the contacts.
      msn: { protocol_versions: ["MSNP7"] },
    });
    // The harness configures debug logging for e2e diagnosis; a bridge in production logs at
    // info, and a log line per message would be measured as the bridge's cost. The core's debug
    // lines (one per login's contact sync, switchboard or new portal, none per message) stay on:
    // the contact-sync benchmark waits for "contacts synced".
    const config = YAML.parse(readFileSync(bridge.configPath, "utf8")) as Record<string, unknown>;
    config.logging = { level: "info", format: "text", modules: { core: "debug" } };
    writeFileSync(bridge.configPath, YAML.stringify(config));
    bridge.generateRegistration();

    const rig = new BridgeRig(
      msn,
      homeserver,
      bridge,
      new AppservicePusher(`http://127.0.0.1:${appservicePort}`, bridge.registration.hs_token),
    );
    try {
      await bridge.start();
      await rig.logInPuppet();
      await rig.startBaselineRelay();
      for (const account of contactAccounts) await rig.addContact(account);
    } catch (e) {
      await rig.stop();
      throw e;
    }
    return rig;
  }

  get bridgePid(): number {
    this.bridgePidCache ??= findChildPid(this.bridge.configPath);
    return this.bridgePidCache;
  }

  get relayPid(): number {
    const pid = this.relay?.pid;
    if (pid === undefined) throw new Error("baseline relay is not running");
    return pid;
  }

  get relayEmail(): string {
    return RELAY.email;
  }

  /**
   * The baseline of a cold send: the relay opens a switchboard to `email` with the protocol
   * client alone, sends `text` and leaves. Resolves when it reports the message sent.
   */
  async baselineCold(email: string, text: string): Promise<void> {
    const relay = this.relay;
    if (!relay?.stdin || !relay.stdout) throw new Error("baseline relay is not running");
    const answer = new Promise<string>((resolve) => {
      let out = "";
      const onData = (chunk: Buffer): void => {
        out += chunk.toString("utf8");
        const end = out.indexOf("\n");
        if (end === -1) return;
        relay.stdout!.off("data", onData);
        resolve(out.slice(0, end));
      };
      relay.stdout!.on("data", onData);
    });
    relay.stdin.write(`cold ${email} ${text}\n`);
    const line = await withTimeout(answer, 15_000, "baseline relay did not answer a cold send");
    if (line !== "sent") throw new Error(`baseline cold send: ${line}`);
  }

  /**
   * The management-room flow a user goes through: DM the bot, then `login <email> <password>`.
   * Resolves when the bot confirms; rejects with its answer when the login fails.
   */
  async logIn(matrixUser: string, managementRoom: string, email: string, password: string): Promise<void> {
    const seen = this.homeserver.messages.length;
    const answer = (pattern: RegExp) => (m: { roomId: string; content: Record<string, unknown> }) =>
      m.roomId === managementRoom && pattern.test(String(m.content.body));
    await this.pusher.push([
      {
        type: "m.room.member",
        room_id: managementRoom,
        sender: matrixUser,
        state_key: BOT_USER,
        content: { membership: "invite", is_direct: true },
      },
    ]);
    await this.homeserver.waitForMessage(answer(/^Hello!/));
    await this.pusher.push([this.pusher.message(managementRoom, matrixUser, `login ${email} ${password}`)]);
    const reply = await this.homeserver.waitForMessage(
      (m) => this.homeserver.messages.indexOf(m) >= seen && answer(/^(✅ Logged in|❌)/)(m),
      60_000,
    );
    if (!String(reply.content.body).startsWith("✅")) {
      throw new Error(`login of ${email} failed: ${String(reply.content.body)}`);
    }
  }

  private async logInPuppet(): Promise<void> {
    await this.logIn(MATRIX_USER, MANAGEMENT_ROOM, PUPPET.email, PUPPET.password);
  }

  private async startBaselineRelay(): Promise<void> {
    const relay = spawn(
      process.execPath,
      [
        BASELINE_JS,
        JSON.stringify({
          nsHost: this.msn.host,
          nsPort: this.msn.nsPort,
          email: RELAY.email,
          password: RELAY.password,
          homeserverUrl: this.homeserver.url,
          roomId: BASELINE_ROOM,
          senderUserId: `@baseline:${DOMAIN}`,
        }),
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    this.relay = relay;
    const ready = new Promise<void>((resolve, reject) => {
      let out = "";
      const onData = (chunk: Buffer): void => {
        out += chunk.toString("utf8");
        if (!out.includes("ready")) return;
        relay.stdout!.off("data", onData);
        resolve();
      };
      relay.stdout!.on("data", onData);
      relay.once("exit", (code) => reject(new Error(`baseline relay exited with ${code}`)));
    });
    await withTimeout(ready, 20_000, "baseline relay did not log in within 20 s");
  }

  private async addContact(account: { email: string; password: string }): Promise<void> {
    const contact = new MsnContact(account.email, account.password, {
      host: this.msn.host,
      port: this.msn.nsPort,
    });
    await contact.login();
    const toBridge = await contact.chatWith(PUPPET.email);
    // The first message makes the bridge create the portal (ghost, room, invite); later
    // messages measure the steady state.
    const hello = `hello from ${account.email}`;
    await toBridge.sendText(hello);
    const arrived = await this.homeserver.waitForMessage((m) => m.content.body === hello, 20_000);
    const toBaseline = await contact.chatWith(RELAY.email);
    await toBaseline.sendText(hello);
    await this.homeserver.waitForMessage((m) => m.roomId === BASELINE_ROOM && m.content.body === hello);
    this.contacts.push({ contact, toBridge, toBaseline, roomId: arrived.roomId });
  }

  /** The MSN address of the puppet (what contacts chat with). */
  get puppetEmail(): string {
    return PUPPET.email;
  }

  async stop(): Promise<void> {
    for (const c of this.contacts) await c.contact.logout().catch(() => undefined);
    if (this.relay && this.relay.exitCode === null) {
      const relay = this.relay;
      const exited = new Promise((done) => relay.once("exit", done));
      relay.kill("SIGTERM");
      // A relay stuck in its NS logout must not hold the run up.
      const timer = setTimeout(() => relay.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await this.bridge.stop();
    await this.homeserver.stop();
    await this.msn.stop();
    this.bridge.cleanup();
  }
}
