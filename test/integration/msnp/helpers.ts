/**
 * Shared setup for the MSNP client's integration tests: real TCP against the project's MSN test
 * server (test/msn-server), three accounts, and small waiting helpers.
 */
import { MsnTestServer, type MsnTestServerOptions } from "../../msn-server/index.js";
import {
  NotificationSession,
  type NotificationEvents,
  type NotificationSessionOptions,
} from "../../../src/msnp/notification.js";
import type { SwitchboardEvents, SwitchboardSession } from "../../../src/msnp/switchboard.js";
import type { TypedEventEmitter } from "../../../src/msnp/events.js";

export const ALICE = { email: "alice@example.com", password: "alicepw", name: "Alice Ä 100%" };
export const BOB = { email: "bob@example.com", password: "bobpw", name: "Bob 日本" };
export const CAROL = { email: "carol@example.com", password: "carolpw", name: "Carol" };

type Account = typeof ALICE;

const MD5_ONLY = ["MSNP7"];
const TWN_ONLY = ["MSNP8"];
/** What the bridge offers by default; the test server then picks MSNP12. */
const BRIDGE_DEFAULT = ["MSNP12", "MSNP11", "MSNP10", "MSNP9", "MSNP8", "MSNP7"];

/** Which versions each account offers: the seed flows run once per profile. */
export interface VersionProfile {
  readonly name: string;
  /** Versions offered by Alice, and by everyone else. */
  readonly alice: readonly string[];
  readonly others: readonly string[];
}

export const PROFILES: readonly VersionProfile[] = [
  { name: "MSNP7", alice: MD5_ONLY, others: MD5_ONLY },
  { name: "MSNP8", alice: TWN_ONLY, others: TWN_ONLY },
  { name: "MSNP12", alice: BRIDGE_DEFAULT, others: BRIDGE_DEFAULT },
  { name: "Alice on MSNP7, the others on MSNP12", alice: MD5_ONLY, others: BRIDGE_DEFAULT },
];

/** The version `account` ends up speaking under `profile` (the highest it offers). */
export function negotiated(profile: VersionProfile, account: Account): string {
  return (account.email === ALICE.email ? profile.alice : profile.others)[0] ?? "";
}

export class Harness {
  readonly sessions: NotificationSession[] = [];

  private constructor(
    readonly server: MsnTestServer,
    readonly profile: VersionProfile,
  ) {}

  /** Alice and Bob are mutual contacts; Carol knows nobody. Sessions offer `profile`'s versions. */
  static async start(
    options: MsnTestServerOptions = {},
    profile: VersionProfile = PROFILES[0] as VersionProfile,
  ): Promise<Harness> {
    const server = new MsnTestServer({
      accounts: [{ ...ALICE, contacts: [BOB.email] }, { ...BOB, contacts: [ALICE.email] }, CAROL],
      ...options,
    });
    await server.start();
    return new Harness(server, profile);
  }

  session(account: Account, options: Partial<NotificationSessionOptions> = {}): NotificationSession {
    const session = new NotificationSession({
      host: this.server.host,
      port: this.server.nsPort,
      email: account.email,
      password: account.password,
      requestTimeoutMs: 2000,
      connectTimeoutMs: 2000,
      versions: [...(account.email === ALICE.email ? this.profile.alice : this.profile.others)],
      passportUrl: this.server.passportUrl,
      ...options,
    });
    // Tests that do not care about closes must not see an unhandled listener-less event.
    session.on("closed", () => undefined);
    this.sessions.push(session);
    return session;
  }

  async login(
    account: Account,
    options: Partial<NotificationSessionOptions> = {},
  ): Promise<NotificationSession> {
    const session = this.session(account, options);
    await session.connect();
    // Login-time events (ILN burst, profile message) are delivered just after connect() resolves;
    // let them pass so tests observe only what happens afterwards.
    await new Promise((resolve) => setImmediate(resolve));
    return session;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.sessions.map((s) => s.close()));
    await this.server.stop();
  }
}

type EventsOf<T> = T extends NotificationSession
  ? NotificationEvents
  : T extends SwitchboardSession
    ? SwitchboardEvents
    : never;

/** Resolves with the first event named `event` for which `accept` holds. */
export function waitForEvent<
  T extends NotificationSession | SwitchboardSession,
  K extends keyof EventsOf<T> & string,
>(
  emitter: T,
  event: K,
  accept: (payload: EventsOf<T>[K]) => boolean = () => true,
  timeoutMs = 3000,
): Promise<EventsOf<T>[K]> {
  const target = emitter as unknown as TypedEventEmitter<Record<string, unknown>>;
  return new Promise((resolve, reject) => {
    const listener = (payload: unknown): void => {
      if (!accept(payload as EventsOf<T>[K])) return;
      clearTimeout(timer);
      target.off(event, listener);
      resolve(payload as EventsOf<T>[K]);
    };
    const timer = setTimeout(() => {
      target.off(event, listener);
      reject(new Error(`no matching ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    target.on(event, listener);
  });
}

/** Collects events of one name into an array (for "exactly these, no more" assertions). */
export function collect<
  T extends NotificationSession | SwitchboardSession,
  K extends keyof EventsOf<T> & string,
>(emitter: T, event: K): Array<EventsOf<T>[K]> {
  const seen: Array<EventsOf<T>[K]> = [];
  (emitter as unknown as TypedEventEmitter<Record<string, unknown>>).on(event, (payload) =>
    seen.push(payload as EventsOf<T>[K]),
  );
  return seen;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a switchboard from `caller` to `callee`, with the callee answering; resolves both ends. */
export async function chat(
  caller: NotificationSession,
  callee: NotificationSession,
): Promise<{ callerBoard: SwitchboardSession; calleeBoard: SwitchboardSession }> {
  const ring = waitForEvent(callee, "ring", (r) => r.inviterEmail === caller.email);
  const callerBoard = await caller.openSwitchboard();
  const joined = callerBoard.waitForJoin(callee.email, 3000);
  await callerBoard.invite(callee.email);
  const calleeBoard = await callee.answerInvitation(await ring);
  await joined;
  return { callerBoard, calleeBoard };
}
