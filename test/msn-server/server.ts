import { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";

import {
  LIST_NAMES,
  validateAccountSpec,
  type AccountSpec,
  type ListName,
  type PresenceStatus,
} from "./accounts.js";
import type { Behaviour, ReplyMatcher, ReplyRule } from "./behaviour.js";
import { ServerCore } from "./core.js";
import { ALL_DIALECTS, dialectByName, type Dialect } from "./dialect/index.js";
import { NsSession } from "./ns/ns-session.js";
import { SbSession } from "./sb/sb-session.js";
import type { CommandRecord, WireRecord } from "./transcript.js";
import { MsnpConnection, type ConnectionKind } from "./wire/connection.js";
import { DEFAULT_FRAMING_LIMITS, type FramingLimits } from "./wire/framing.js";

export interface MsnTestServerOptions {
  /** Address to bind (and to announce in XFR/RNG). Default 127.0.0.1. */
  host?: string;
  /** Notification Server port; 0 (default) lets the OS choose. */
  nsPort?: number;
  /** Switchboard port; 0 (default) lets the OS choose. */
  sbPort?: number;
  /** Passport (TWN ticket) HTTP port; 0 (default) lets the OS choose. See `passportUrl`. */
  httpPort?: number;
  /** Lifetime of Passport `/login` tokens (Escargot: 30 s). Tokens are not single-use. */
  passportTokenTtlMs?: number;
  /** The nexus first answers 302 to another path (to test client redirect handling). Default false. */
  passportNexusRedirect?: boolean;
  accounts?: AccountSpec[];
  /** Dialect names accepted in VER, e.g. ["MSNP7"]. Default: all implemented (MSNP7–MSNP12). */
  dialects?: string[];
  /** Lifetime of XFR/RNG cookies (Escargot: 120 s). */
  cookieTtlMs?: number;
  /** Unauthenticated SB connections are closed after this (Escargot: 60 s). */
  sbAuthTimeoutMs?: number;
  /** End idle switchboards with `BYE email 1` after this long without MSG. Default null (never, like Escargot). */
  sbIdleTimeoutMs?: number | null;
  /** Largest accepted SB MSG payload (Escargot: 1664 bytes). */
  maxMessageBytes?: number;
  /** Longest accepted command line; longer drops the connection. Default 8 KiB. */
  maxLineBytes?: number;
  /** Largest accepted payload of any payload command; larger drops the connection. Default 256 KiB. */
  maxPayloadBytes?: number;
  /** Send each NLN twice (an Escargot quirk clients must tolerate). Default false. */
  duplicateNln?: boolean;
  /** Send `CHL` at login and verify `QRY`. Default false (Escargot never challenges). */
  challenges?: boolean;
  /** Unanswered login challenges drop the connection after this. Default 50 s. */
  challengeTimeoutMs?: number;
  /** Answer `USR … I` with `XFR NS` to this address (`times` logins, default all). */
  redirectNs?: { host: string; port: number; times?: number } | null;
  /** Maintenance mode: logins get 500. Default false. */
  maintenance?: boolean;
  /**
   * How many wire records to keep for received()/transcript() (oldest dropped first); 0 keeps none
   * (benchmarks). Waits and events work either way. Default 50 000.
   */
  maxRecords?: number;
  /** Diagnostic messages (dropped connections, handler errors). Default: discarded. */
  log?: (message: string) => void;
}

/** A read-only view of one account's state. */
export interface AccountState {
  readonly email: string;
  readonly name: string;
  readonly salt: string;
  /** Current status; "FLN" when offline. */
  readonly status: PresenceStatus;
  /** Number of logged-in NS sessions. */
  readonly sessions: number;
  readonly blp: "AL" | "BL";
  readonly gtc: "A" | "N";
  readonly lists: Readonly<Record<ListName, readonly string[]>>;
  readonly groups: readonly { readonly id: string; readonly name: string }[];
  /** FL group memberships by contact address (contacts only in group 0 are absent). */
  readonly contactGroups: Readonly<Record<string, readonly string[]>>;
}

export interface SwitchboardState {
  readonly id: string;
  readonly participants: readonly string[];
}

export interface MsnTestServerEvents {
  /** A line (with payload) received from a client. */
  command: [CommandRecord];
  /** A line the server sent (or dropped/delayed by a reply rule). */
  sent: [WireRecord];
  /** An account completed `USR … OK`. */
  login: [{ email: string }];
  /** An account's last NS session ended. */
  logout: [{ email: string }];
  /** Diagnostics (also passed to options.log). */
  log: [string];
}

export type CommandMatcher = string | ((record: WireRecord) => boolean);

/**
 * An MSN Messenger server for tests, benchmarks and demos: Notification Server and Switchboard
 * over real TCP, behaving like Escargot (msnp.md) including its quirks, with switches to simulate
 * what Escargot does not do (redirects, challenges, idle timeouts, lost replies, kicks).
 */
export class MsnTestServer extends EventEmitter<MsnTestServerEvents> {
  private readonly core: ServerCore;
  private readonly limits: FramingLimits;
  private readonly bindHost: string;
  private wantedNsPort: number;
  private wantedSbPort: number;
  private wantedHttpPort: number;
  private nsServer: Server | undefined;
  private sbServer: Server | undefined;
  private readonly connections = new Set<MsnpConnection>();
  private nextConnectionId = 1;
  private nextRuleId = 1;
  private running = false;
  private pendingRestart: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  constructor(options: MsnTestServerOptions = {}) {
    super();
    this.bindHost = options.host ?? "127.0.0.1";
    this.wantedNsPort = checkPort(options.nsPort ?? 0, "nsPort");
    this.wantedSbPort = checkPort(options.sbPort ?? 0, "sbPort");
    this.wantedHttpPort = checkPort(options.httpPort ?? 0, "httpPort");
    this.limits = {
      maxLineBytes: options.maxLineBytes ?? DEFAULT_FRAMING_LIMITS.maxLineBytes,
      maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_FRAMING_LIMITS.maxPayloadBytes,
    };
    const behaviour: Behaviour = {
      dialects: resolveDialects(options.dialects),
      cookieTtlMs: options.cookieTtlMs ?? 120_000,
      sbAuthTimeoutMs: options.sbAuthTimeoutMs ?? 60_000,
      sbIdleTimeoutMs: options.sbIdleTimeoutMs ?? null,
      maxMessageBytes: options.maxMessageBytes ?? 1664,
      duplicateNln: options.duplicateNln ?? false,
      challenges: options.challenges ?? false,
      challengeTimeoutMs: options.challengeTimeoutMs ?? 50_000,
      redirect: null,
      maintenance: options.maintenance ?? false,
      replyRules: [],
    };
    const log = options.log;
    this.core = new ServerCore(
      behaviour,
      {
        record: (record) => this.safeEmit(record.direction === "in" ? "command" : "sent", record),
        login: (email) => this.safeEmit("login", { email }),
        logout: (email) => this.safeEmit("logout", { email }),
        log: (message) => {
          log?.(message);
          this.safeEmit("log", message);
        },
      },
      options.maxRecords ?? 50_000,
      {
        tokenTtlMs: checkDuration(options.passportTokenTtlMs ?? 30_000, "passportTokenTtlMs"),
        nexusRedirect: options.passportNexusRedirect ?? false,
      },
    );
    if (options.redirectNs) this.redirectNs(options.redirectNs, options.redirectNs.times);
    const specs = options.accounts ?? [];
    for (const spec of specs) this.core.addAccount(validateAccountSpec(spec, `account ${spec.email}`));
    // Contacts may refer to accounts listed later, so they are linked once all exist.
    for (const spec of specs) this.linkContacts(spec);
  }

  // ---- lifecycle ------------------------------------------------------------------------

  get host(): string {
    return this.bindHost;
  }

  /** The NS port (the OS-assigned one after start when 0 was asked for). */
  get nsPort(): number {
    return this.wantedNsPort;
  }

  /** The SB port (the OS-assigned one after start when 0 was asked for). */
  get sbPort(): number {
    return this.wantedSbPort;
  }

  /** The Passport HTTP port (the OS-assigned one after start when 0 was asked for). */
  get httpPort(): number {
    return this.wantedHttpPort;
  }

  /**
   * The Passport nexus URL MSNP8+ clients start their ticket fetch at, e.g.
   * `http://127.0.0.1:40123/rdr/pprdr.asp` (plain HTTP, like Escargot in the lab). Throws before
   * `start()`, when no port is known yet.
   */
  get passportUrl(): string {
    if (!this.running) throw new Error("MsnTestServer is not started: no passportUrl yet");
    return `http://${formatHost(this.bindHost)}:${this.wantedHttpPort}/rdr/pprdr.asp`;
  }

  get listening(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error("MsnTestServer is already started");
    this.nsServer = createServer((socket) => this.accept("ns", socket));
    this.sbServer = createServer((socket) => this.accept("sb", socket));
    for (const server of [this.nsServer, this.sbServer]) {
      server.on("error", (err) => this.core.log(`listener error: ${err.message}`));
    }
    try {
      this.wantedNsPort = await listen(this.nsServer, this.bindHost, this.wantedNsPort);
      this.wantedSbPort = await listen(this.sbServer, this.bindHost, this.wantedSbPort);
      this.wantedHttpPort = await this.core.passport.start(this.bindHost, this.wantedHttpPort);
    } catch (err) {
      await closeServer(this.nsServer);
      await closeServer(this.sbServer);
      await this.core.passport.stop();
      this.nsServer = this.sbServer = undefined;
      throw err;
    }
    this.core.sbAddress = `${this.bindHost}:${this.wantedSbPort}`;
    this.running = true;
  }

  /** Stops listening, drops every connection, cancels every timer and fails pending waits. */
  async stop(): Promise<void> {
    if (this.pendingRestart) {
      clearTimeout(this.pendingRestart.timer);
      this.pendingRestart.resolve();
      this.pendingRestart = undefined;
    }
    await this.shutdownNetwork();
    this.core.transcript.rejectAll("MsnTestServer stopped");
  }

  /**
   * Simulates a server restart: drops every connection (after `OUT SSD` if `announce`), refuses
   * connections on both ports for `downMs`, then listens again on the same ports. Accounts and
   * lists survive (they live as long as this object).
   */
  async restart(options: { downMs?: number; announce?: boolean } = {}): Promise<void> {
    if (options.announce)
      for (const session of this.core.nsSessions) if (session.account) session.kick("SSD");
    await this.shutdownNetwork();
    const downMs = options.downMs ?? 0;
    let cancelled = false;
    if (downMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.pendingRestart = undefined;
          resolve();
        }, downMs);
        this.pendingRestart = {
          timer,
          resolve: () => {
            cancelled = true;
            resolve();
          },
        };
      });
    }
    if (!cancelled) await this.start();
  }

  private async shutdownNetwork(): Promise<void> {
    this.running = false;
    this.core.timers.clearAll();
    const all = [...this.connections];
    for (const conn of all) conn.mute();
    for (const conn of all) conn.destroy();
    this.connections.clear();
    this.core.xfrCookies.clear();
    this.core.rngCookies.clear();
    await Promise.all([closeServer(this.nsServer), closeServer(this.sbServer), this.core.passport.stop()]);
    this.core.passport.clearTokens();
    this.nsServer = this.sbServer = undefined;
    // Session cleanup during the drop may have started timers (none today); make sure none survive.
    this.core.timers.clearAll();
  }

  private accept(kind: ConnectionKind, socket: Socket): void {
    if (!this.running) {
      socket.destroy();
      return;
    }
    const conn = new MsnpConnection(
      this.nextConnectionId++,
      kind,
      socket,
      this.limits,
      this.core,
      this.core.timers,
    );
    this.connections.add(conn);
    conn.onClose(() => this.connections.delete(conn));
    if (kind === "ns") this.core.nsSessions.add(new NsSession(conn, this.core));
    else this.core.sbSessions.add(new SbSession(conn, this.core));
  }

  // ---- accounts -------------------------------------------------------------------------

  /** Adds an account (validated like the YAML file; `contacts` must name existing accounts). */
  addAccount(spec: AccountSpec): void {
    const valid = validateAccountSpec(spec, `account ${spec.email}`);
    for (const email of valid.contacts ?? []) {
      if (!this.core.account(email)) throw new Error(`account ${valid.email} lists unknown contact ${email}`);
    }
    this.core.addAccount(valid);
    this.linkContacts(valid);
  }

  private linkContacts(spec: AccountSpec): void {
    const owner = this.core.account(spec.email);
    if (!owner) return;
    for (const email of spec.contacts ?? []) {
      const contact = this.core.account(email);
      if (!contact) throw new Error(`account ${spec.email} lists unknown contact ${email}`);
      this.core.befriend(owner, contact);
    }
  }

  /**
   * Seeds `owner`'s lists with `contact` without any notification (as if done in an earlier
   * session). FL also puts `owner` on `contact`'s RL.
   */
  addContact(ownerEmail: string, contactEmail: string, lists: readonly ListName[] = ["FL", "AL"]): void {
    const owner = this.requireAccount(ownerEmail);
    const contact = this.requireAccount(contactEmail);
    for (const list of lists) {
      if (list === "RL")
        throw new Error("RL is maintained by the server; add FL on the other account instead");
      owner.addToList(list, contact.email);
      if (list === "FL") contact.addToList("RL", owner.email);
    }
  }

  /**
   * `owner` puts `contact` on its FL and AL (and lands on `contact`'s RL), silently, as if done in
   * an earlier session. One direction; call it both ways for mutual contacts.
   */
  befriend(ownerEmail: string, contactEmail: string): void {
    this.addContact(ownerEmail, contactEmail, ["FL", "AL"]);
  }

  hasAccount(email: string): boolean {
    return this.core.account(email) !== undefined;
  }

  /** A snapshot of an account's state, or undefined for an unknown address (exact case). */
  account(email: string): AccountState | undefined {
    const account = this.core.account(email);
    if (!account) return undefined;
    const lists = Object.fromEntries(LIST_NAMES.map((l) => [l, account.membersOf(l)])) as Record<
      ListName,
      string[]
    >;
    const contactGroups: Record<string, string[]> = {};
    for (const [email2, entry] of account.contacts)
      if (entry.groups.size > 0) contactGroups[email2] = [...entry.groups];
    return {
      email: account.email,
      name: account.name,
      salt: account.salt,
      status: account.status,
      sessions: this.core.sessionsOf(account.email).length,
      blp: account.blp,
      gtc: account.gtc,
      lists,
      groups: [...account.groups].map(([id, name]) => ({ id, name })),
      contactGroups,
    };
  }

  /** Every account address, in creation order. */
  accountEmails(): string[] {
    return [...this.core.accounts.keys()];
  }

  /** Whether the account has a logged-in NS session. */
  isOnline(email: string): boolean {
    return this.core.sessionsOf(email).length > 0;
  }

  /** The account's current status ("FLN" when offline or unknown). */
  statusOf(email: string): PresenceStatus {
    return this.core.account(email)?.status ?? "FLN";
  }

  /** Live switchboard sessions and their participants. */
  switchboards(): SwitchboardState[] {
    return [...this.core.switchboards.values()].map((b) => ({ id: b.id, participants: b.emails }));
  }

  // ---- forced disconnects ---------------------------------------------------------------

  /**
   * Changes an account's password (as if changed on another client or the web): open sessions stay,
   * the next login with the old password fails with 911 (MD5) or a Passport 401 (TWN).
   */
  setPassword(email: string, password: string): void {
    if (password.length === 0) throw new Error("password must not be empty");
    this.requireAccount(email).password = password;
  }

  /** Sends `OUT OTH` or `OUT SSD` to every NS session of the account and closes them. */
  kick(email: string, reason: "OTH" | "SSD" = "OTH"): void {
    for (const session of this.core.sessionsOf(email)) session.kick(reason);
  }

  /**
   * Destroys the account's connections without any goodbye (network loss as the client sees it).
   * `reset` sends a TCP RST instead of a FIN.
   */
  dropConnections(email: string, options: { ns?: boolean; sb?: boolean; reset?: boolean } = {}): void {
    const { ns = true, sb = true, reset = false } = options;
    if (ns) for (const session of this.core.sessionsOf(email)) session.conn.destroy(reset);
    if (sb) for (const session of this.core.sbSessionsOf(email)) session.conn.destroy(reset);
  }

  /**
   * Writes raw bytes to the account's NS (default) or SB connections, bypassing reply rules: for
   * testing how a client copes with lines the server would never send (malformed commands, unknown
   * notifications, split payloads). Recorded in the transcript like any sent line.
   */
  injectRaw(email: string, data: string | Buffer, options: { connection?: ConnectionKind } = {}): void {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    const sessions =
      (options.connection ?? "ns") === "ns" ? this.core.sessionsOf(email) : this.core.sbSessionsOf(email);
    for (const session of sessions) {
      this.core.outbound(session.conn, bytes.toString("utf8").replace(/\r?\n$/, ""), undefined, {
        action: "send",
      });
      session.conn.writeRaw(bytes);
    }
  }

  // ---- behaviour switches ---------------------------------------------------------------

  setDuplicateNln(enabled: boolean): void {
    this.core.behaviour.duplicateNln = enabled;
  }

  /** Turns login challenges (CHL at login, QRY verification) on or off. */
  setChallenges(enabled: boolean): void {
    this.core.behaviour.challenges = enabled;
  }

  /** Sends a `CHL` to the account's NS sessions now (they must answer with a correct QRY). */
  sendChallenge(email: string): void {
    for (const session of this.core.sessionsOf(email)) session.sendChallenge();
  }

  /**
   * Answers the next `times` (default: all) `USR … I` with `XFR <trid> NS host:port`; null turns
   * redirects off. Pointing it at this server itself with `times: 1` makes the client come back.
   */
  redirectNs(target: { host: string; port: number } | null, times = Infinity): void {
    if (target === null) {
      this.core.behaviour.redirect = null;
      return;
    }
    checkPort(target.port, "redirect port");
    this.core.behaviour.redirect = { host: target.host, port: target.port, remaining: times };
  }

  /** Idle timeout for switchboards (null: never, like Escargot). Applies from the next activity. */
  setSbIdleTimeout(ms: number | null): void {
    this.core.behaviour.sbIdleTimeoutMs = ms;
    for (const board of this.core.switchboards.values()) board.touch();
  }

  /** Lifetime of Passport tokens issued from now on (Escargot: 30 s). */
  setPassportTokenTtl(ms: number): void {
    this.core.passport.tokenTtlMs = checkDuration(ms, "passport token TTL");
  }

  /** Whether the nexus answers 302 to another path before naming the login URL. */
  setPassportNexusRedirect(enabled: boolean): void {
    this.core.passport.nexusRedirect = enabled;
  }

  /**
   * Issues a Passport token for an account without the HTTP round trip (what a successful
   * `GET /login` returns in `from-PP='t=<token>&p='`), for tests that are not about the ticket fetch.
   */
  issuePassportToken(email: string): string {
    return this.core.passport.issue(this.requireAccount(email).email);
  }

  setCookieTtl(ms: number): void {
    this.core.behaviour.cookieTtlMs = ms;
  }

  setSbAuthTimeout(ms: number): void {
    this.core.behaviour.sbAuthTimeoutMs = ms;
  }

  setMaxMessageBytes(bytes: number): void {
    this.core.behaviour.maxMessageBytes = bytes;
  }

  /** Maintenance mode: new logins get 500 and are disconnected. */
  setMaintenance(enabled: boolean): void {
    this.core.behaviour.maintenance = enabled;
  }

  /** Sends the "server going down in N minutes" system message to every logged-in session. */
  announceMaintenance(minutes: number): void {
    for (const session of this.core.nsSessions) session.systemMessage(1, minutes);
  }

  /** Drops matching outgoing lines (see ReplyMatcher). Returns a function that removes the rule. */
  dropReplies(match: ReplyMatcher, options: { email?: string } = {}): () => void {
    return this.addRule(match, { kind: "drop" }, options.email);
  }

  /** Delays matching outgoing lines by `ms`. Returns a function that removes the rule. */
  delayReplies(match: ReplyMatcher, ms: number, options: { email?: string } = {}): () => void {
    return this.addRule(match, { kind: "delay", ms }, options.email);
  }

  /** Stops (false) or resumes (true) answering PNG, for one account or everyone: half-open links. */
  setPingReplies(enabled: boolean, email?: string): void {
    const rules = this.core.behaviour.replyRules;
    for (let i = rules.length - 1; i >= 0; i--) {
      const rule = rules[i]!;
      if (rule.match === "PNG" && rule.action.kind === "drop" && rule.email === email) rules.splice(i, 1);
    }
    if (!enabled) this.addRule("PNG", { kind: "drop" }, email);
  }

  clearReplyRules(): void {
    this.core.behaviour.replyRules.length = 0;
  }

  private addRule(match: ReplyMatcher, action: ReplyRule["action"], email: string | undefined): () => void {
    const rule: ReplyRule = { id: this.nextRuleId++, match, action, email };
    this.core.behaviour.replyRules.push(rule);
    return () => {
      const rules = this.core.behaviour.replyRules;
      const index = rules.indexOf(rule);
      if (index >= 0) rules.splice(index, 1);
    };
  }

  // ---- observability --------------------------------------------------------------------

  /** Lines received from clients, all or one account's (including its pre-login lines). */
  received(email?: string): CommandRecord[] {
    return this.core.transcript.list(
      (r) => r.direction === "in" && (email === undefined || r.email === email),
    ) as CommandRecord[];
  }

  /** Every line in both directions, all or one account's. */
  transcript(email?: string): WireRecord[] {
    return this.core.transcript.list((r) => email === undefined || r.email === email);
  }

  clearTranscript(): void {
    this.core.transcript.clear();
  }

  /**
   * Resolves with the first line from `email` (undefined: anyone) matching `match` — a command
   * name or a predicate. By default an already received line counts; `includePast: false` waits
   * for a new one.
   */
  waitForCommand(
    email: string | undefined,
    match: CommandMatcher,
    timeoutMs = 5000,
    options: { includePast?: boolean } = {},
  ): Promise<CommandRecord> {
    return this.waitForRecord(
      "in",
      email,
      match,
      timeoutMs,
      options.includePast ?? true,
    ) as Promise<CommandRecord>;
  }

  /** Like waitForCommand for lines the server sent to `email`'s connections. */
  waitForSent(
    email: string | undefined,
    match: CommandMatcher,
    timeoutMs = 5000,
    options: { includePast?: boolean } = {},
  ): Promise<WireRecord> {
    return this.waitForRecord("out", email, match, timeoutMs, options.includePast ?? true);
  }

  /** Polls `condition` until it holds (e.g. `() => server.isOnline(a)`), or rejects after `timeoutMs`. */
  async waitUntil(condition: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private waitForRecord(
    direction: "in" | "out",
    email: string | undefined,
    match: CommandMatcher,
    timeoutMs: number,
    includePast: boolean,
  ): Promise<WireRecord> {
    const test = typeof match === "string" ? (r: WireRecord) => r.name === match : match;
    const what = `${direction === "in" ? "command" : "sent line"} ${typeof match === "string" ? match : "(predicate)"}${email ? ` of ${email}` : ""}`;
    return this.core.transcript.waitFor(
      (r) => r.direction === direction && (email === undefined || r.email === email) && test(r),
      timeoutMs,
      includePast,
      what,
    );
  }

  private requireAccount(email: string) {
    const account = this.core.account(email);
    if (!account) throw new Error(`unknown account ${email}`);
    return account;
  }

  private safeEmit<K extends keyof MsnTestServerEvents>(event: K, ...args: MsnTestServerEvents[K]): void {
    try {
      this.emit(event, ...(args as never));
    } catch (err) {
      // A throwing test listener must not take the server (and every other test) down.
      const reason = err instanceof Error ? err.message : String(err);
      if (event !== "log") this.core.log(`listener for "${event}" threw: ${reason}`);
    }
  }
}

function resolveDialects(names: string[] | undefined): Dialect[] {
  if (names === undefined) return [...ALL_DIALECTS];
  const dialects = names.map((name) => {
    const dialect = dialectByName(name);
    if (!dialect) {
      throw new Error(
        `unsupported dialect ${name} (implemented: ${ALL_DIALECTS.map((d) => d.name).join(", ")})`,
      );
    }
    return dialect;
  });
  // Keep the server's preference order whatever order the caller listed them in.
  return ALL_DIALECTS.filter((d) => dialects.includes(d));
}

function checkDuration(ms: number, what: string): number {
  if (!Number.isFinite(ms) || ms < 0)
    throw new RangeError(`${what} must be a non-negative number of ms, got ${ms}`);
  return ms;
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RangeError(`${what} must be 0–65535, got ${port}`);
  return port;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

function closeServer(server: Server | undefined): Promise<void> {
  if (!server || !server.listening) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}
