import { Account, type AccountSpec } from "./accounts.js";
import { matchesRule, type Behaviour, type ReplyContext } from "./behaviour.js";
import { CookieJar } from "./cookies.js";
import type { Dialect, PresenceInfo } from "./dialect/index.js";
import type { NsSession } from "./ns/ns-session.js";
import { PassportService } from "./passport.js";
import type { Switchboard } from "./sb/switchboard.js";
import type { SbSession } from "./sb/sb-session.js";
import { TimerRegistry } from "./timers.js";
import { Transcript, type WireRecord } from "./transcript.js";
import type { ConnectionObserver, MsnpConnection, ReplyDecision } from "./wire/connection.js";
import type { FramingError, InboundCommand } from "./wire/framing.js";

/** What an `XFR SB` cookie grants: opening a new switchboard as `email`. */
export interface XfrGrant {
  readonly email: string;
  readonly dialect: Dialect;
}

/** What an `RNG` cookie grants: joining switchboard `sessionId` as `email`. */
export interface RngGrant {
  readonly email: string;
  readonly sessionId: string;
  readonly dialect: Dialect;
}

/** Notifications the core passes to the public facade (MsnTestServer re-emits them). */
export interface CoreEvents {
  record(record: WireRecord): void;
  login(email: string): void;
  logout(email: string): void;
  log(message: string): void;
}

const SEND: ReplyDecision = { action: "send" };
const DROP: ReplyDecision = { action: "drop" };

/**
 * State shared by every connection of one server instance: accounts and their lists, live NS and
 * SB sessions, switchboards, cookies, behaviour switches, timers and the wire transcript. Presence
 * rules (who is told what) live here because they span sessions.
 */
export class ServerCore implements ConnectionObserver {
  readonly accounts = new Map<string, Account>();
  readonly nsSessions = new Set<NsSession>();
  /** Logged-in NS sessions per account (the hot path of every presence notification). */
  private readonly loggedIn = new Map<string, Set<NsSession>>();
  readonly sbSessions = new Set<SbSession>();
  readonly switchboards = new Map<string, Switchboard>();
  readonly xfrCookies = new CookieJar<XfrGrant>();
  readonly rngCookies = new CookieJar<RngGrant>();
  readonly timers = new TimerRegistry();
  readonly transcript: Transcript;
  /** "host:port" of the switchboard as announced in XFR and RNG. */
  sbAddress = "127.0.0.1:0";
  /** The TWN ticket service (MSNP8+ logins). */
  readonly passport: PassportService;

  constructor(
    readonly behaviour: Behaviour,
    private readonly events: CoreEvents,
    maxRecords: number,
    passport: { tokenTtlMs: number; nexusRedirect: boolean },
  ) {
    this.transcript = new Transcript(maxRecords);
    this.passport = new PassportService({
      // Exact-case e-mail like the NS: a mis-cased sign-in name is simply wrong credentials.
      authenticate: (email, password) => this.accounts.get(email)?.password === password,
      log: (message) => this.log(message),
      tokenTtlMs: passport.tokenTtlMs,
      nexusRedirect: passport.nexusRedirect,
    });
  }

  // ---- accounts -------------------------------------------------------------------------

  addAccount(spec: AccountSpec): Account {
    if (this.accounts.has(spec.email)) throw new Error(`account ${spec.email} already exists`);
    const account = new Account(spec);
    this.accounts.set(account.email, account);
    return account;
  }

  /** Puts `contact` on `owner`'s FL and AL and `owner` on `contact`'s RL (pre-seeded lists). */
  befriend(owner: Account, contact: Account): void {
    owner.addToList("FL", contact.email);
    owner.addToList("AL", contact.email);
    contact.addToList("RL", owner.email);
  }

  /** Exact-case lookup, as Escargot requires for logins and list commands. */
  account(email: string): Account | undefined {
    return this.accounts.get(email);
  }

  /** Case-insensitive lookup (to reproduce Escargot's handling of mis-cased logins). */
  accountIgnoringCase(email: string): Account | undefined {
    const lower = email.toLowerCase();
    for (const account of this.accounts.values()) if (account.email.toLowerCase() === lower) return account;
    return undefined;
  }

  /** Authenticated NS sessions of an account. */
  sessionsOf(email: string): NsSession[] {
    const sessions = this.loggedIn.get(email);
    return sessions ? [...sessions] : [];
  }

  /** Records a completed login (called before older sessions are kicked). */
  registerLogin(session: NsSession, email: string): void {
    const sessions = this.loggedIn.get(email) ?? new Set<NsSession>();
    sessions.add(session);
    this.loggedIn.set(email, sessions);
  }

  /** Forgets an ended session; true if it was the account's last one. */
  unregisterLogin(session: NsSession, email: string): boolean {
    const sessions = this.loggedIn.get(email);
    if (!sessions?.delete(session)) return false;
    if (sessions.size > 0) return false;
    this.loggedIn.delete(email);
    return true;
  }

  sbSessionsOf(email: string): SbSession[] {
    const out: SbSession[] = [];
    for (const session of this.sbSessions) if (session.email === email) out.push(session);
    return out;
  }

  notifyLogin(email: string): void {
    this.events.login(email);
  }

  /** Called when an account's last NS session ended: it goes offline and its watchers hear FLN. */
  accountWentOffline(account: Account): void {
    account.status = "FLN";
    this.broadcastPresence(account);
    this.events.logout(account.email);
  }

  // ---- presence -------------------------------------------------------------------------

  /**
   * Tells everyone who has `target` on their FL how they now see it (NLN with status and name, or
   * FLN when offline, hidden or blocking them). Like Escargot this goes out on every change, even
   * when the visible state did not change, and only to sessions past their first CHG.
   */
  broadcastPresence(target: Account): void {
    // Watchers are exactly the target's RL, which the server keeps in step with everyone's FL.
    for (const email of target.membersOf("RL")) {
      const watcher = this.accounts.get(email);
      if (watcher?.isOn("FL", target.email)) this.sendPresenceTo(watcher, target);
    }
  }

  /**
   * Relays `target`'s personal message (`UBX`) to watchers whose sessions speak MSNP11+ and who can
   * see `target`; older dialects have no UBX and get nothing.
   */
  broadcastPersonalMessage(target: Account): void {
    for (const email of target.membersOf("RL")) {
      const watcher = this.accounts.get(email);
      if (!watcher?.isOn("FL", target.email)) continue;
      for (const session of this.sessionsOf(email)) session.sendPersonalMessageOf(target);
    }
  }

  /** How `account` appears in presence lines. */
  presenceOf(account: Account): PresenceInfo {
    return {
      email: account.email,
      name: account.name,
      clientId: account.clientId,
      msnObject: account.msnObject,
    };
  }

  /** Sends `target`'s presence as `watcher` sees it to each of `watcher`'s active NS sessions. */
  sendPresenceTo(watcher: Account, target: Account): void {
    for (const session of this.sessionsOf(watcher.email)) session.sendPresenceOf(target);
  }

  // ---- connection observer --------------------------------------------------------------

  inbound(conn: MsnpConnection, cmd: InboundCommand): void {
    const record = this.transcript.add({
      direction: "in",
      connection: conn.kind,
      connectionId: conn.id,
      line: cmd.line,
      name: cmd.name,
      args: cmd.args,
      ...(cmd.payload ? { payload: cmd.payload } : {}),
    });
    this.events.record(record);
  }

  outbound(conn: MsnpConnection, line: string, payload: Buffer | undefined, decision: ReplyDecision): void {
    const tokens = line.split(" ");
    const fate = decision.action === "send" ? "sent" : decision.action === "drop" ? "dropped" : "delayed";
    const record = this.transcript.add({
      direction: "out",
      connection: conn.kind,
      connectionId: conn.id,
      line,
      name: tokens[0] ?? "",
      args: payload ? tokens.slice(1, -1) : tokens.slice(1),
      ...(payload ? { payload } : {}),
      fate,
      ...(decision.action === "delay" ? { delayedMs: decision.ms } : {}),
    });
    this.events.record(record);
  }

  decide(conn: MsnpConnection, line: string, request: InboundCommand | undefined): ReplyDecision {
    const rules = this.behaviour.replyRules;
    if (rules.length === 0) return SEND;
    const ctx: ReplyContext = {
      email: conn.email,
      connection: conn.kind,
      connectionId: conn.id,
      request: request && { name: request.name, trid: request.args[0], line: request.line },
      line,
      name: line.split(" ", 1)[0] ?? "",
    };
    for (const rule of rules) {
      let hit = false;
      try {
        hit = matchesRule(rule, ctx);
      } catch {
        hit = false;
      }
      if (!hit) continue;
      return rule.action.kind === "drop" ? DROP : { action: "delay", ms: rule.action.ms };
    }
    return SEND;
  }

  framingError(conn: MsnpConnection, error: FramingError): void {
    this.log(`${conn.kind}#${conn.id} dropped: ${error.kind} (${error.detail})`);
  }

  handlerError(conn: MsnpConnection, cmd: InboundCommand, error: unknown): void {
    const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.log(`${conn.kind}#${conn.id} handler for ${cmd.name} failed (no reply sent): ${reason}`);
  }

  log(message: string): void {
    this.events.log(message);
  }
}
