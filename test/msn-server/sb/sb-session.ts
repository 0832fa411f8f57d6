import { isValidAddress } from "../accounts.js";
import type { ServerCore } from "../core.js";
import type { Dialect, PresenceInfo } from "../dialect/index.js";
import type { MsnpConnection } from "../wire/connection.js";
import type { InboundCommand } from "../wire/framing.js";
import { decodeParam, encodeParam } from "../wire/percent.js";
import { Switchboard } from "./switchboard.js";

const ERR = {
  invalidUser: 208,
  alreadyThere: 215,
  notOnline: 217,
  authFailed: 911,
} as const;

const ACK_MODES = new Set(["U", "N", "A", "D"]);
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * One switchboard connection: authenticates with an XFR cookie (`USR`, new session) or an RNG
 * cookie (`ANS`, join), then invites (`CAL`) and relays `MSG` byte-for-byte. Escargot's checks and
 * silences are reproduced: unauthenticated commands get no reply, bad cookies get 911 and a close.
 */
export class SbSession {
  email: string | undefined;
  private board: Switchboard | undefined;
  /** The dialect of the NS session that issued the cookie (formats IRO/JOI/MSG). */
  private dialect: Dialect | undefined;
  private authTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly conn: MsnpConnection,
    private readonly core: ServerCore,
  ) {
    conn.handler = (cmd) => this.handle(cmd);
    conn.onClose(() => this.onClosed());
    this.authTimer = core.timers.set(() => {
      core.log(`sb#${conn.id} did not authenticate within ${core.behaviour.sbAuthTimeoutMs} ms; closing`);
      conn.close();
    }, core.behaviour.sbAuthTimeoutMs);
  }

  get switchboard(): Switchboard | undefined {
    return this.board;
  }

  /** `JOI` for someone who just joined this session. */
  announceJoin(joiner: SbSession): void {
    if (!this.dialect || joiner.email === undefined) return;
    this.conn.send(this.dialect.joi(this.presenceOf(joiner.email)).tokens);
  }

  /** `BYE email` (or `BYE email 1` when the server removed them for idling). */
  announceLeave(email: string, idle: boolean): void {
    this.conn.send(idle ? ["BYE", email, 1] : ["BYE", email]);
  }

  /** Relays a message from `sender` unchanged. */
  deliver(senderEmail: string, payload: Buffer): void {
    const name = this.core.account(senderEmail)?.name ?? senderEmail;
    this.conn.send(["MSG", senderEmail, encodeParam(name)], payload);
  }

  private handle(cmd: InboundCommand): void {
    const args = cmd.args;
    switch (cmd.name) {
      case "USR":
        return this.onUsr(args);
      case "ANS":
        return this.onAns(args);
      case "CAL":
        return this.onCal(args);
      case "MSG":
        return this.onMsg(args, cmd.payload);
      case "OUT":
        if (args.length === 0) this.conn.close();
        return;
      default:
        return;
    }
  }

  private onUsr(args: readonly string[]): void {
    if (this.board) return;
    // Escargot: too few arguments is a handler error (no reply), too many closes the connection.
    if (args.length < 3) return;
    if (args.length > 3) {
      this.conn.close();
      return;
    }
    const t = trid(args);
    const email = decodeParam(args[1] ?? "");
    this.claim(email);
    const grant = this.core.xfrCookies.take(decodeParam(args[2] ?? ""));
    if (!grant || grant.email !== email) return this.authFailed(t);
    const account = this.core.account(email);
    if (!account) return this.authFailed(t);
    this.authenticated(email, grant.dialect);
    const board = new Switchboard(this.core);
    this.board = board;
    board.join(this, true);
    const dialect = this.dialect!;
    this.conn.send(dialect.sbUsrOk(t, email, account.name).tokens);
  }

  private onAns(args: readonly string[]): void {
    if (this.board) return;
    if (args.length < 4) return;
    if (args.length > 4) {
      this.conn.close();
      return;
    }
    const t = trid(args);
    const email = decodeParam(args[1] ?? "");
    this.claim(email);
    const grant = this.core.rngCookies.take(decodeParam(args[2] ?? ""));
    if (!grant || grant.email !== email) return this.authFailed(t);
    const sessionId = decodeParam(args[3] ?? "");
    const board = this.core.switchboards.get(sessionId);
    if (!board || sessionId !== grant.sessionId) {
      this.conn.close(); // wrong session id: Escargot just drops the connection
      return;
    }
    this.authenticated(email, grant.dialect);
    const dialect = this.dialect!;
    const others = board.emails.filter((e) => e !== email);
    board.join(this, false);
    this.board = board;
    others.forEach((other, i) => {
      this.conn.send(dialect.iro(t, i + 1, others.length, this.presenceOf(other)).tokens);
    });
    this.conn.send(["ANS", t, "OK"]);
  }

  private onCal(args: readonly string[]): void {
    const board = this.board;
    if (!board || args.length !== 2) return;
    const t = trid(args);
    const me = this.core.account(this.email!);
    if (!me) return;
    const email = decodeParam(args[1] ?? "");
    if (!isValidAddress(email)) return this.error(ERR.invalidUser, t);
    const invitee = this.core.account(email);
    if (!invitee) return this.error(ERR.notOnline, t);
    if (email === me.email || board.has(email)) return this.error(ERR.alreadyThere, t);
    // Offline, hidden and blocking invitees all look the same: 217 (msnp.md §7.1).
    const sessions = this.core.sessionsOf(email);
    if (invitee.statusSeenBy(me.email) === "FLN" || sessions.length === 0)
      return this.error(ERR.notOnline, t);
    for (const session of sessions) {
      if (!session.dialect) continue;
      const cookie = this.core.rngCookies.issue(
        { email: invitee.email, sessionId: board.id, dialect: session.dialect },
        this.core.behaviour.cookieTtlMs,
      );
      session.ring(board.id, cookie, me);
    }
    this.conn.send(["CAL", t, "RINGING", board.id]);
  }

  private onMsg(args: readonly string[], payload: Buffer | undefined): void {
    const board = this.board;
    if (!board || payload === undefined || args.length !== 2) return;
    const t = trid(args);
    if (payload.length > this.core.behaviour.maxMessageBytes) {
      this.core.log(
        `sb#${this.conn.id} (${this.email}) sent ${payload.length} bytes; dropping the connection`,
      );
      this.conn.close();
      return;
    }
    const ack = decodeParam(args[1] ?? "");
    if (!ACK_MODES.has(ack)) {
      this.conn.close();
      return;
    }
    const contentType = contentTypeOf(payload);
    if (contentType === "application/x-msnmsgrp2p" && ack !== "D") {
      this.conn.close();
      return;
    }
    if (contentType === "text/plain" && !isUtf8(payload)) {
      // Escargot cannot decode it and silently drops the message: no relay, no ACK, no NAK.
      return;
    }
    for (const other of board.participants) if (other !== this) other.deliver(this.email!, payload);
    board.touch();
    // Escargot never NAKs and ACKs every A/D message, delivered or not (msnp.md §8.3).
    if (ack === "A" || ack === "D") this.conn.send(["ACK", t]);
  }

  private presenceOf(email: string): PresenceInfo {
    const account = this.core.account(email);
    return account
      ? this.core.presenceOf(account)
      : { email, name: email, clientId: "0", msnObject: undefined };
  }

  /** Attributes the connection's lines to the address it claims, even if the claim then fails. */
  private claim(email: string): void {
    this.conn.email = email;
    this.core.transcript.attribute(this.conn.id, email);
  }

  private authenticated(email: string, dialect: Dialect): void {
    this.email = email;
    this.core.timers.clear(this.authTimer);
    this.authTimer = undefined;
    // The SB speaks the dialect of the NS session the cookie was issued to (as Escargot does).
    this.dialect = dialect;
  }

  private authFailed(t: string): void {
    this.error(ERR.authFailed, t);
    this.conn.close();
  }

  private error(code: number, t: string): void {
    this.conn.send([code, t]);
  }

  private onClosed(): void {
    this.core.timers.clear(this.authTimer);
    this.authTimer = undefined;
    this.core.sbSessions.delete(this);
    this.core.transcript.forget(this.conn.id);
    this.board?.leave(this);
  }
}

/** The MIME type of a message payload (lower case, without parameters), or "" if none. */
export function contentTypeOf(payload: Buffer): string {
  const end = payload.indexOf("\r\n\r\n");
  const head = payload.subarray(0, end < 0 ? payload.length : end).toString("latin1");
  for (const headerLine of head.split(/\r\n/)) {
    const colon = headerLine.indexOf(":");
    if (colon < 0) continue;
    if (headerLine.slice(0, colon).trim().toLowerCase() !== "content-type") continue;
    return (headerLine.slice(colon + 1).split(";")[0] ?? "").trim().toLowerCase();
  }
  return "";
}

function isUtf8(bytes: Buffer): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function trid(args: readonly string[]): string {
  return encodeParam(decodeParam(args[0] ?? ""));
}
