/**
 * An MSN contact driven by the benchmarks: the project's own client logged in to the MSN test
 * server. Unlike the e2e harness's contact it timestamps every message it receives the moment
 * the client emits it, on whichever switchboard (including ones the bridge opens later).
 */
import { performance } from "node:perf_hooks";
import { NotificationSession, type SwitchboardSession } from "../../src/msnp/index.js";

export class BenchContact {
  ns: NotificationSession | null = null;
  readonly switchboards = new Set<SwitchboardSession>();
  /** Called with performance.now() for each received text message. */
  onText: ((from: string, text: string, at: number) => void) | null = null;
  /** Called with performance.now() for each typing notification. */
  onTyping: ((from: string, at: number) => void) | null = null;

  constructor(
    readonly email: string,
    private readonly password: string,
    private readonly server: { host: string; port: number },
  ) {}

  async login(): Promise<void> {
    const ns = new NotificationSession({
      host: this.server.host,
      port: this.server.port,
      email: this.email,
      password: this.password,
      pingIntervalMs: 60_000,
      requestTimeoutMs: 10_000,
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

  private track(sb: SwitchboardSession): SwitchboardSession {
    this.switchboards.add(sb);
    sb.on("message", (m) => this.onText?.(m.from, m.text, performance.now()));
    sb.on("typing", (t) => this.onTyping?.(t.from, performance.now()));
    sb.on("closed", () => this.switchboards.delete(sb));
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

  /** Leaves every chat with `email` (so the next message from them must open a new one). */
  async leaveChatsWith(email: string): Promise<void> {
    const open = [...this.switchboards].filter((sb) => sb.participants.has(email.toLowerCase()));
    for (const sb of open) this.switchboards.delete(sb);
    await Promise.allSettled(open.map((sb) => sb.close()));
  }

  /** The newest open chat that has `email` in it. */
  chatWithIfOpen(email: string): SwitchboardSession | undefined {
    return [...this.switchboards].reverse().find((sb) => sb.participants.has(email.toLowerCase()));
  }

  async logout(): Promise<void> {
    const open = [...this.switchboards];
    this.switchboards.clear();
    await Promise.allSettled(open.map((sb) => sb.close()));
    await this.ns?.close();
    this.ns = null;
  }
}
