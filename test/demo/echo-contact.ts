/**
 * The demo's scripted MSN contact: logged in to the demo MSN server with the project's own MSN
 * client, it greets the demo account each time that account comes online (a chat opened from the
 * MSN side, which the bridge turns into a Matrix invite) and echoes every message it gets.
 */
import { NotificationSession, type SwitchboardSession } from "../../src/msnp/index.js";

export interface EchoContactOptions {
  host: string;
  port: number;
  email: string;
  password: string;
  passportUrl: string;
  /** The account to greet when it comes online. */
  greet: string;
  /** One line per thing the contact does, for the demo's console. */
  say: (line: string) => void;
}

// A reply to a long message is capped: MSN splits what it cannot carry, and an echo of a
// 5,000-character paste helps nobody.
const MAX_ECHO_CHARS = 400;

export class EchoContact {
  #ns: NotificationSession | null = null;
  readonly #switchboards = new Set<SwitchboardSession>();

  constructor(private readonly options: EchoContactOptions) {}

  async start(): Promise<void> {
    const o = this.options;
    const ns = new NotificationSession({
      host: o.host,
      port: o.port,
      email: o.email,
      password: o.password,
      versions: ["MSNP12"],
      passportUrl: o.passportUrl,
      requestTimeoutMs: 10_000,
    });
    ns.on("ring", (ring) => {
      ns.answerInvitation(ring).then(
        (sb) => this.#track(sb),
        (err: unknown) => o.say(`could not answer ${ring.inviterEmail}: ${String(err)}`),
      );
    });
    ns.on("presence", ({ contact, previousStatus }) => {
      if (contact.email.toLowerCase() !== o.greet.toLowerCase()) return;
      if (previousStatus === "FLN" && contact.status !== "FLN") {
        this.#greet(contact.email, contact.friendlyName).catch((err: unknown) =>
          o.say(`could not greet ${contact.email}: ${String(err)}`),
        );
      }
    });
    await ns.connect();
    this.#ns = ns;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.#switchboards].map((sb) => sb.close()));
    await this.#ns?.close().catch(() => undefined);
    this.#ns = null;
  }

  async #greet(email: string, name: string): Promise<void> {
    if (!this.#ns) return;
    const sb = this.#track(await this.#ns.openSwitchboard());
    await sb.invite(email);
    await sb.waitForJoin(email, 15_000);
    await sb.sendText(
      `Hi ${name}! I am Echo, a scripted contact on the demo MSN server. ` +
        "Write to me here and I will send every message back.",
    );
    this.options.say(`greeted ${email}`);
  }

  #track(sb: SwitchboardSession): SwitchboardSession {
    this.#switchboards.add(sb);
    sb.on("message", ({ from, text }) => {
      const echo = text.length > MAX_ECHO_CHARS ? `${text.slice(0, MAX_ECHO_CHARS)}…` : text;
      sb.sendText(`Echo: ${echo}`).then(
        () => this.options.say(`echoed a message from ${from}`),
        (err: unknown) => this.options.say(`could not echo to ${from}: ${String(err)}`),
      );
    });
    sb.on("closed", () => this.#switchboards.delete(sb));
    return sb;
  }
}
