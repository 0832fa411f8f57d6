/**
 * Server side of the seed login transcript (msnp.md §3.2–3.3, §4.2, §5.2), played byte for byte
 * by a {@link ScriptPeer}. Shared by the notification and switchboard unit tests.
 */
import type { ScriptPeer } from "./script-server.js";
import type { TypedEventEmitter } from "../../../src/msnp/events.js";
import {
  NotificationSession,
  type NotificationEvents,
  type NotificationSessionOptions,
} from "../../../src/msnp/notification.js";
import type { SwitchboardEvents, SwitchboardSession } from "../../../src/msnp/switchboard.js";

export const ALICE = "alice@example.com";
export const ALICE_PASSWORD = "alicepw";
export const ALICE_SALT = "5aef4fef51aec18";
export const ALICE_HASH = "f25a3af3cc4fcdb4caf7d122410b9cac";

export const PROFILE_PAYLOAD =
  "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: 1700000000\r\nClientIP: 127.0.0.1\r\n\r\n";

/** A full MSNP7 list: two groups, bob (FL AL RL, group 0) and carol (FL AL, group 1), a BPR line. */
export const SEED_LIST_LINES = [
  "SYN 6 1",
  "LSG 6 1 1 2 0 Other%20Contacts 0",
  "LSG 6 1 2 2 1 Friends 0",
  "LST 6 FL 1 1 2 bob@example.com Bob%20B 0",
  "BPR PHH 555-1234",
  "LST 6 FL 1 2 2 carol@example.com Carol 1",
  "LST 6 AL 1 1 2 bob@example.com Bob%20B",
  "LST 6 AL 1 2 2 carol@example.com Carol",
  "LST 6 BL 1 0 0",
  "LST 6 RL 1 1 1 bob@example.com Bob%20B",
  "GTC 6 1 A",
  "BLP 6 1 AL",
];

export function newAliceSession(
  port: number,
  extra: Partial<NotificationSessionOptions> = {},
): NotificationSession {
  return new NotificationSession({
    host: "127.0.0.1",
    port,
    email: ALICE,
    password: ALICE_PASSWORD,
    requestTimeoutMs: 1000,
    connectTimeoutMs: 1000,
    ...extra,
  });
}

/** VER → CVR → INF → USR I → USR S, exactly as in msnp.md §3.2–3.3. */
export async function playLogin(peer: ScriptPeer, options: { versions?: string } = {}): Promise<void> {
  await peer.expect(`VER 1 ${options.versions ?? "MSNP7"} CVR0`);
  peer.sendLines("VER 1 MSNP7");
  await peer.expect(`CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.2.0205 MSMSGS ${ALICE}`);
  peer.sendLines("CVR 2 6.2.0205 6.2.0205 6.2.0205 https://example.invalid https://example.invalid");
  await peer.expect("INF 3");
  peer.sendLines("INF 3 MD5");
  await peer.expect(`USR 4 MD5 I ${ALICE}`);
  peer.sendLines(`USR 4 MD5 S ${ALICE_SALT}`);
  await peer.expect(`USR 5 MD5 S ${ALICE_HASH}`);
  peer.sendLines(`USR 5 OK ${ALICE} Alice 1`);
  peer.send(`MSG Hotmail Hotmail ${Buffer.byteLength(PROFILE_PAYLOAD)}\r\n${PROFILE_PAYLOAD}`);
}

/** Login, list sync and the first CHG with bob's ILN. */
export async function playFullLogin(
  peer: ScriptPeer,
  options: { versions?: string; listLines?: string[]; iln?: string[] } = {},
): Promise<void> {
  await playLogin(peer, options);
  await peer.expect("SYN 6 0");
  peer.sendLines(...(options.listLines ?? SEED_LIST_LINES));
  await peer.expect("CHG 7 NLN");
  peer.sendLines("CHG 7 NLN", ...(options.iln ?? ["ILN 7 NLN bob@example.com Bob%20B"]));
}

/**
 * The dispatch server's side of a login it redirects: up to `USR … I`, then `XFR NS` to
 * `to` (host:port); resolves once the client has closed this connection.
 */
export async function playRedirect(peer: ScriptPeer, to: string, self: string): Promise<void> {
  await peer.expect("VER 1 MSNP7 CVR0");
  peer.sendLines("VER 1 MSNP7 CVR0");
  await peer.readLine();
  peer.sendLines("CVR 2 1 1 1 x y");
  await peer.expect("INF 3");
  peer.sendLines("INF 3 MD5");
  await peer.expect(`USR 4 MD5 I ${ALICE}`);
  peer.sendLines(`XFR 4 NS ${to} 0 ${self}`);
  await peer.closed;
}

/** Closes the sessions a test made, ignoring how each ends (after-each hooks). */
export async function closeSessions(sessions: readonly NotificationSession[]): Promise<void> {
  for (const session of sessions) {
    session.on("closed", () => undefined);
    await session.close().catch(() => undefined);
  }
}

/** Resolves with the first event of that name. */
export function nextEvent<K extends keyof NotificationEvents>(
  emitter: NotificationSession,
  event: K,
  timeoutMs?: number,
): Promise<NotificationEvents[K]>;
export function nextEvent<K extends keyof SwitchboardEvents>(
  emitter: SwitchboardSession,
  event: K,
  timeoutMs?: number,
): Promise<SwitchboardEvents[K]>;
export function nextEvent(
  emitter: NotificationSession | SwitchboardSession,
  event: string,
  timeoutMs = 2000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event within ${timeoutMs} ms`)), timeoutMs);
    (emitter as unknown as TypedEventEmitter<Record<string, unknown>>).once(event, (payload) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}
