/**
 * A scripted MSN contact for end-to-end tests: the project's own MSN client logged in to the MSN
 * test server, answering every chat invitation and recording what arrives, as a person at an MSN
 * client would see it.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { NotificationSession, type SwitchboardSession } from "../../src/msnp/index.js";

export interface ReceivedMessage {
  from: string;
  text: string;
  sb: SwitchboardSession;
}

export class MsnContact {
  readonly messages: ReceivedMessage[] = [];
  readonly typing: { from: string; at: number }[] = [];
  readonly switchboards: SwitchboardSession[] = [];
  ns: NotificationSession | null = null;
  /** Called with performance.now() as each text message arrives (benchmarks time with it). */
  onText: ((from: string, text: string, at: number) => void) | null = null;
  /** Called with performance.now() as each typing notification arrives. */
  onTyping: ((from: string, at: number) => void) | null = null;

  constructor(
    readonly email: string,
    private readonly password: string,
    private readonly server: { host: string; port: number },
    /** Dialects to offer (default: the client's) and the Passport nexus for MSNP8+. */
    private readonly protocol: { versions?: string[]; passportUrl?: string } = {},
  ) {}

  async login(): Promise<void> {
    const ns = new NotificationSession({
      host: this.server.host,
      port: this.server.port,
      email: this.email,
      password: this.password,
      pingIntervalMs: 60_000,
      requestTimeoutMs: 10_000,
      ...this.protocol,
    });
    ns.on("ring", (ring) => {
      ns.answerInvitation(ring).then(
        (sb) => this.track(sb),
        () => undefined,
      );
    });
    await ns.connect();
    this.ns = ns;
  }

  async logout(): Promise<void> {
    for (const sb of [...this.switchboards]) await sb.close().catch(() => undefined);
    this.switchboards.length = 0;
    await this.ns?.close();
    this.ns = null;
  }

  private track(sb: SwitchboardSession): SwitchboardSession {
    this.switchboards.push(sb);
    sb.on("message", (m) => {
      this.onText?.(m.from, m.text, performance.now());
      this.messages.push({ from: m.from, text: m.text, sb });
    });
    sb.on("typing", (t) => {
      this.onTyping?.(t.from, performance.now());
      this.typing.push({ from: t.from, at: Date.now() });
    });
    sb.on("closed", () => {
      const i = this.switchboards.indexOf(sb);
      if (i >= 0) this.switchboards.splice(i, 1);
    });
    return sb;
  }

  /** Opens a chat with `email` (XFR SB → USR → CAL → JOI). */
  async chatWith(email: string): Promise<SwitchboardSession> {
    if (!this.ns) throw new Error(`${this.email} is not logged in`);
    const sb = this.track(await this.ns.openSwitchboard());
    await sb.invite(email);
    await sb.waitForJoin(email, 15_000);
    return sb;
  }

  /** Leaves every chat with `email`, so the next message between them needs a new switchboard. */
  async leaveChatsWith(email: string): Promise<void> {
    const open = this.switchboards.filter((sb) => sb.participants.has(email.toLowerCase()));
    await Promise.allSettled(open.map((sb) => sb.close()));
  }

  /** The newest open switchboard that has `email` in it. */
  switchboardWith(email: string): SwitchboardSession | undefined {
    return [...this.switchboards].reverse().find((sb) => sb.participants.has(email.toLowerCase()));
  }

  async waitForMessage(match: (m: ReceivedMessage) => boolean, timeoutMs = 15_000): Promise<ReceivedMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.email} got no matching message; got: ${JSON.stringify(this.messages.map((m) => m.text.slice(0, 80)))}`,
        );
      }
      await sleep(20);
    }
  }

  async waitForTyping(from: string, since: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.typing.some((t) => t.from.toLowerCase() === from.toLowerCase() && t.at >= since)) {
      if (Date.now() > deadline) throw new Error(`${this.email} saw no typing from ${from}`);
      await sleep(20);
    }
  }
}

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
