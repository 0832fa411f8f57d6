/**
 * The notification server (NS) session of one account: login, contact list, presence, list
 * changes, keep-alive, and the entry points to switchboards (msnp.md §3–6, §9).
 */
import { md5LoginHash } from "./auth.js";
import { MsnConnection } from "./connection.js";
import {
  MAX_CONTACTS,
  dialectFor,
  type Dialect,
  type ListChange,
  type ListChangeKind,
  type ListSync,
  type PresenceUpdate,
} from "./dialect.js";
import { decodeParam, encodeParam } from "./encoding.js";
import {
  FramingError,
  MsnArgumentError,
  MsnConnectionClosedError,
  MsnProtocolError,
  MsnServerError,
  MsnTimeoutError,
} from "./errors.js";
import { NULL_LOGGER, TypedEventEmitter, errorMeta, type MsnLogger } from "./events.js";
import type { MsnCommand } from "./framing.js";
import { classifyMessage, type MsnMessageContent } from "./mime.js";
import { fetchPassportTicket, PassportAuthError, PassportError, validatePassportUrl } from "./passport.js";
import { SwitchboardSession } from "./switchboard.js";
import {
  LIST_KEYS,
  isOwnStatus,
  type Contact,
  type ContactLists,
  type ContactStatus,
  type Group,
  type ListName,
  type OwnStatus,
} from "./types.js";
import { validateEmail } from "./validate.js";

export type NotificationCloseReason =
  | "local"
  | "other-login"
  | "server-shutdown"
  | "server-out"
  | "socket-error"
  | "socket-closed"
  | "keepalive-timeout"
  | "protocol-error"
  | "login-failed";

/** An invitation to a switchboard session (`RNG`). Pass it to {@link NotificationSession.answerInvitation}. */
export interface RingInvitation {
  sessionId: string;
  /** `host:port` of the switchboard. */
  address: string;
  host: string;
  port: number;
  cookie: string;
  inviterEmail: string;
  inviterName: string;
}

export interface NotificationEvents {
  /**
   * A contact's status, friendly name or personal message (`UBX`, MSNP11+; in
   * `contact.personalMessage`) actually changed (repeats are suppressed).
   */
  presence: {
    contact: Contact;
    previousStatus: ContactStatus;
    previousFriendlyName: string;
    /** Undefined when none was known. */
    previousPersonalMessage?: string;
  };
  /** The contact list was received (once, during `connect()`). */
  contactsSynced: { contacts: ReadonlyMap<string, Contact>; groups: ReadonlyMap<string, Group> };
  /** A contact was put on one of our own lists (FL/AL/BL), by us or by the server. */
  contactAdded: { contact: Contact; list: Exclude<ListName, "RL"> };
  /** A contact was taken off one of our own lists (FL/AL/BL). */
  contactRemoved: { email: string; contact: Contact | null; list: Exclude<ListName, "RL"> };
  /** Someone added us to their contact list (`ADD 0 RL`). */
  reverseListAdd: { email: string; friendlyName: string };
  /** Someone removed us from their contact list (`REM 0 RL`). */
  reverseListRemove: { email: string };
  /** Someone invites us to a switchboard session. */
  ring: RingInvitation;
  /** `MSG Hotmail Hotmail`: profile, mail notifications, system messages (maintenance). */
  serverMessage: { content: MsnMessageContent };
  /** Our own friendly name changed. */
  friendlyNameChanged: { friendlyName: string; previous: string };
  /** The session is over; it cannot be reused (create a new one to reconnect). */
  closed: { reason: NotificationCloseReason; error?: Error };
}

export interface NotificationSessionOptions {
  host: string;
  port: number;
  /** Address to log in with; must match the stored spelling (case!) on Escargot. */
  email: string;
  password: string;
  /** Versions to offer, highest first (MSNP2–MSNP12). Default `["MSNP7"]`. */
  versions?: string[];
  /**
   * Passport nexus for TWN login (MSNP8+): `https:`, or `http:` on a loopback host only.
   * Default the historic `https://nexus.passport.com/rdr/pprdr.asp`.
   */
  passportUrl?: string;
  /** Status set by the first `CHG`. Default `NLN`. */
  initialStatus?: OwnStatus;
  /** Timeout of every request (default 15 s). */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** `PNG` interval (default 50 s). */
  pingIntervalMs?: number;
  /** Unanswered `PNG`s tolerated before the connection counts as dead (default 2). */
  maxMissedPongs?: number;
  /** `XFR NS` redirects followed during login (default 3). */
  maxRedirects?: number;
  /** Largest payload accepted from the server (default 1 MiB). */
  maxPayloadBytes?: number;
  logger?: MsnLogger;
}

type State = "idle" | "connecting" | "connected" | "closing" | "closed";

/** Owns the lists of the account; FL/AL/BL change through us, RL through the server. */
type OwnList = Exclude<ListName, "RL">;

/*
 * Contacts are frozen, so their equal parts can be shared. A bridge holds every contact of every
 * puppet (10,000 puppets × their lists); sharing saves ~150 bytes a contact.
 */

/** The 16 combinations of list memberships, one frozen object each. */
const SHARED_LISTS: readonly Readonly<ContactLists>[] = Array.from({ length: 16 }, (_, bits) =>
  Object.freeze({
    forward: (bits & 1) !== 0,
    allow: (bits & 2) !== 0,
    block: (bits & 4) !== 0,
    reverse: (bits & 8) !== 0,
  }),
);

function sharedLists(lists: Readonly<ContactLists>): Readonly<ContactLists> {
  const bits =
    (lists.forward ? 1 : 0) | (lists.allow ? 2 : 0) | (lists.block ? 4 : 0) | (lists.reverse ? 8 : 0);
  return SHARED_LISTS[bits]!;
}

const NO_GROUPS: readonly string[] = Object.freeze([]);
/**
 * Group-id sets seen lately (MSNP7–9 ids are small integers, so most contacts of most accounts are
 * in "0" or "1"); emptied when full, as MSNP10+ GUIDs differ per account.
 */
const sharedGroupSets = new Map<string, readonly string[]>();
const MAX_SHARED_GROUP_SETS = 1024;

function sharedGroups(groups: readonly string[]): readonly string[] {
  if (groups.length === 0) return NO_GROUPS;
  const key = groups.join(",");
  let shared = sharedGroupSets.get(key);
  if (!shared) {
    if (sharedGroupSets.size >= MAX_SHARED_GROUP_SETS) sharedGroupSets.clear();
    // Split from the joined key: ids parsed from a protocol line are slices that keep the line.
    shared = Object.freeze(key.split(","));
    sharedGroupSets.set(key, shared);
  }
  return shared;
}

/**
 * The frozen contact stored under `key` (its lower-cased address). An address as parsed is a
 * slice of its protocol line and keeps the whole line alive; the key is a string of its own, and
 * the same text for most addresses.
 */
function freezeContact(key: string, contact: Contact): Contact {
  return Object.freeze({
    ...contact,
    email: contact.email === key ? key : contact.email,
    lists: sharedLists(contact.lists),
    groups: sharedGroups(contact.groups),
  });
}

function parseAddress(address: string): { host: string; port: number } | null {
  const colon = address.lastIndexOf(":");
  if (colon <= 0) return null;
  const host = address.slice(0, colon);
  const portText = address.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65535 || !/^[A-Za-z0-9.\-[\]:]+$/.test(host)) return null;
  return { host: host.replace(/^\[(.*)\]$/, "$1"), port };
}

const MAX_FRIENDLY_NAME_ENCODED = 387;
/** Keeps the UUX payload far below every server's payload limit. */
const MAX_PERSONAL_MESSAGE_BYTES = 1000;

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new MsnArgumentError(`${name} must be a number ≥ 0`);
  return value;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new MsnArgumentError(`${name} must be a number > 0`);
  return value;
}

export class NotificationSession extends TypedEventEmitter<NotificationEvents> {
  private readonly options: Required<
    Pick<
      NotificationSessionOptions,
      "requestTimeoutMs" | "connectTimeoutMs" | "pingIntervalMs" | "maxMissedPongs" | "maxRedirects"
    >
  > &
    NotificationSessionOptions;
  private readonly logger: MsnLogger;
  private readonly versions: string[];

  private state: State = "idle";
  private connection: MsnConnection | null = null;
  private currentDialect: Dialect | null = null;
  private ownEmail: string;
  private ownName: string;
  private ownStatus: OwnStatus | "FLN" = "FLN";
  private readonly contactMap = new Map<string, Contact>();
  private readonly groupMap = new Map<string, Group>();
  private privacy: string | null = null;
  private listSync: ListSync | null = null;
  private onSyncProgress: (() => void) | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private missedPongs = 0;
  /** Set when the server told us why it is closing (`OUT OTH`) before the socket goes. */
  private serverCloseReason: NotificationCloseReason | null = null;
  private contactLimitLogged = false;
  /** Open switchboards; null while there are none (most puppets, most of the time). */
  private switchboards: Set<SwitchboardSession> | null = null;
  private closing: Promise<void> | null = null;

  constructor(options: NotificationSessionOptions) {
    super();
    validateEmail(options.email);
    if (typeof options.password !== "string" || options.password.length === 0) {
      throw new MsnArgumentError("password must not be empty");
    }
    const versions = options.versions ?? ["MSNP7"];
    if (versions.length === 0) throw new MsnArgumentError("at least one protocol version must be offered");
    for (const version of versions) dialectFor(version); // throws for unsupported ones
    if (options.initialStatus !== undefined && !isOwnStatus(options.initialStatus)) {
      throw new MsnArgumentError(`invalid initial status ${JSON.stringify(options.initialStatus)}`);
    }
    // `??` per field: an explicit `undefined` (common when options come from config) means default.
    this.options = {
      ...options,
      requestTimeoutMs: positive(options.requestTimeoutMs ?? 15_000, "requestTimeoutMs"),
      connectTimeoutMs: positive(options.connectTimeoutMs ?? 15_000, "connectTimeoutMs"),
      pingIntervalMs: positive(options.pingIntervalMs ?? 50_000, "pingIntervalMs"),
      maxMissedPongs: positive(options.maxMissedPongs ?? 2, "maxMissedPongs"),
      maxRedirects: nonNegative(options.maxRedirects ?? 3, "maxRedirects"),
    };
    if (options.maxPayloadBytes !== undefined) positive(options.maxPayloadBytes, "maxPayloadBytes");
    if (options.passportUrl !== undefined) validatePassportUrl(options.passportUrl);
    if (!options.host || !Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new MsnArgumentError(`invalid server address ${String(options.host)}:${String(options.port)}`);
    }
    this.versions = [...versions];
    this.logger = options.logger ?? NULL_LOGGER;
    this.ownEmail = options.email;
    this.ownName = options.email;
  }

  // -------------------------------------------------------------------------------------------
  // Properties

  /** Our address as the server spells it (after login), else as configured. */
  get email(): string {
    return this.ownEmail;
  }

  get friendlyName(): string {
    return this.ownName;
  }

  /** Negotiated version, e.g. `MSNP7`; before `VER` completed, the highest version offered. */
  get protocolVersion(): string {
    return this.currentDialect?.version ?? this.versions[0] ?? "";
  }

  /** Our status; `FLN` until the first `CHG` succeeded and after close. */
  get status(): OwnStatus | "FLN" {
    return this.ownStatus;
  }

  /** Everyone on any of our lists (and anyone we got presence for), keyed by lower-cased address. */
  get contacts(): ReadonlyMap<string, Contact> {
    return this.contactMap;
  }

  get groups(): ReadonlyMap<string, Group> {
    return this.groupMap;
  }

  /** `BLP` setting from the list sync (`AL` = allow unlisted people, `BL` = block them). */
  get privacyMode(): string | null {
    return this.privacy;
  }

  get isConnected(): boolean {
    return this.state === "connected";
  }

  getContact(email: string): Contact | undefined {
    return this.contactMap.get(email.toLowerCase());
  }

  // -------------------------------------------------------------------------------------------
  // Connect / close

  /**
   * Logs in, synchronises the contact list and sets the initial status. Rejects with
   * `MsnServerError` (911 = bad credentials), `MsnTimeoutError`, `MsnProtocolError` or
   * `MsnConnectionClosedError`; the session is then closed (a `closed` event says why).
   */
  async connect(): Promise<void> {
    if (this.state !== "idle") {
      throw new MsnArgumentError("connect() may only be called once per session");
    }
    this.state = "connecting";
    this.holdEvents();
    try {
      await this.login();
      await this.synchronise();
      await this.setStatusInternal(this.options.initialStatus ?? "NLN");
      if (this.state !== "connecting") throw new MsnConnectionClosedError("session closed during login");
      this.state = "connected";
      this.startKeepAlive();
      // Debug: a bridge restoring 10,000 logins would write 10,000 of these; the bridge logs one
      // summary for the lot.
      this.logger.debug("MSN session connected", {
        email: this.ownEmail,
        version: this.protocolVersion,
        contacts: this.contactMap.size,
      });
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      this.shutdown(this.failureReason(err), err);
      throw err;
    } finally {
      this.releaseEventsSoon();
    }
  }

  private failureReason(error: Error): NotificationCloseReason {
    if (this.serverCloseReason) return this.serverCloseReason;
    if (error instanceof MsnServerError || error instanceof PassportAuthError) return "login-failed";
    if (
      error instanceof FramingError ||
      error instanceof MsnProtocolError ||
      error instanceof PassportError
    ) {
      return "protocol-error";
    }
    if (error instanceof MsnTimeoutError) return "protocol-error";
    if (error instanceof MsnConnectionClosedError) return "socket-closed";
    return "socket-error";
  }

  /** Logs off (`OUT`) and closes every switchboard this session opened. Idempotent. */
  close(): Promise<void> {
    if (this.state === "closed") return Promise.resolve();
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    const connection = this.connection;
    if (this.state !== "connected" || !connection) {
      this.shutdown("local");
      return;
    }
    this.state = "closing";
    this.stopKeepAlive();
    await Promise.allSettled([...(this.switchboards ?? [])].map((sb) => sb.close()));
    try {
      connection.send("OUT", []);
    } catch {
      // Connection already gone; the close handler has done the rest.
    }
    await connection.close();
    this.shutdown("local");
  }

  private async openConnection(host: string, port: number): Promise<MsnConnection> {
    const connection = await MsnConnection.connect({
      host,
      port,
      connectTimeoutMs: this.options.connectTimeoutMs,
      requestTimeoutMs: this.options.requestTimeoutMs,
      logger: this.logger,
      label: "NS",
      decoder:
        this.options.maxPayloadBytes === undefined
          ? undefined
          : { maxPayloadBytes: this.options.maxPayloadBytes },
    });
    if (this.state !== "connecting") {
      connection.destroy();
      throw new MsnConnectionClosedError("session closed during login");
    }
    this.connection = connection;
    connection.on("command", (command) => {
      if (this.connection === connection) this.onCommand(command);
    });
    connection.on("close", ({ error }) => {
      if (this.connection === connection) this.onConnectionClose(error);
    });
    return connection;
  }

  private requireConnection(): MsnConnection {
    if (!this.connection || this.state === "closed") {
      throw new MsnConnectionClosedError("the notification session is closed");
    }
    return this.connection;
  }

  private requireConnected(): { connection: MsnConnection; dialect: Dialect } {
    if (this.state !== "connected" || !this.connection || !this.currentDialect) {
      throw new MsnConnectionClosedError(`the notification session is not connected (state: ${this.state})`);
    }
    return { connection: this.connection, dialect: this.currentDialect };
  }

  private async login(): Promise<void> {
    let host = this.options.host;
    let port = this.options.port;
    for (let hop = 0; ; hop += 1) {
      const connection = await this.openConnection(host, port);
      const ver = await connection.request("VER", [...this.versions, "CVR0"]);
      const chosen = ver.args.slice(1).find((token) => this.versions.includes(token));
      if (!chosen) {
        throw new MsnProtocolError(
          `server accepts none of the offered versions (${this.versions.join(" ")})`,
        );
      }
      const dialect = dialectFor(chosen);
      this.currentDialect = dialect;
      await connection.request("CVR", dialect.cvrArgs(this.options.email));
      if (dialect.sendsInf) {
        const inf = await connection.request("INF", []);
        if (!inf.args.slice(1).includes(dialect.loginScheme)) {
          throw new MsnProtocolError(
            `server does not offer ${dialect.loginScheme} login (INF ${inf.args.join(" ")})`,
          );
        }
      }
      const initial = await connection.request(
        "USR",
        [dialect.loginScheme, "I", this.options.email],
        undefined,
        {
          replyNames: ["USR", "XFR"],
        },
      );
      if (initial.name === "XFR") {
        // XFR <trid> NS <host:port> [0 <host:port> …]: start over at the given server.
        const target = initial.args[1] === "NS" ? parseAddress(initial.args[2] ?? "") : null;
        if (!target) throw new MsnProtocolError(`malformed redirect: XFR ${initial.args.join(" ")}`);
        if (hop >= this.options.maxRedirects) {
          throw new MsnProtocolError(`more than ${this.options.maxRedirects} XFR NS redirects`);
        }
        // Debug: the dispatch server redirects every login, and a restart logs thousands in.
        this.logger.debug("redirected to another notification server", {
          host: target.host,
          port: target.port,
        });
        this.connection = null; // detach: its close is expected
        connection.destroy();
        host = target.host;
        port = target.port;
        continue;
      }
      // USR <trid> MD5|TWN S <challenge>
      const challenge = initial.args[3];
      if (initial.args[1] !== dialect.loginScheme || initial.args[2] !== "S" || challenge === undefined) {
        throw new MsnProtocolError("malformed USR challenge reply");
      }
      const ok = await connection.request(
        "USR",
        [dialect.loginScheme, "S", await this.loginResponse(dialect, challenge)],
        undefined,
        { sensitive: true },
      );
      const login = dialect.parseLoginOk(ok.args.slice(1));
      if (!login) throw new MsnProtocolError("malformed USR OK reply");
      // Not a slice of the USR line (see freezeContact) when the server spells it in lower case.
      const lower = login.email.toLowerCase();
      this.ownEmail = lower === login.email ? lower : login.email;
      this.ownName = login.friendlyName ?? login.email;
      return;
    }
  }

  /** The `USR … S` argument: MD5 hash, or a Passport ticket fetched now (they expire in 30 s). */
  private async loginResponse(dialect: Dialect, challenge: string): Promise<string> {
    if (dialect.loginScheme === "MD5") return md5LoginHash(challenge, this.options.password);
    const ticket = await fetchPassportTicket({
      passportUrl: this.options.passportUrl,
      email: this.options.email,
      password: this.options.password,
      challenge,
      timeoutMs: this.options.requestTimeoutMs,
      logger: this.logger,
    });
    if (this.state !== "connecting") throw new MsnConnectionClosedError("session closed during login");
    return ticket;
  }

  private async synchronise(): Promise<void> {
    const connection = this.requireConnection();
    const dialect = this.currentDialect;
    if (!dialect) throw new MsnProtocolError("no dialect negotiated");
    let sync: ListSync | null = null;
    const reply = await connection.request("SYN", dialect.synArgs(), undefined, {
      onTrId: (trId) => {
        sync = dialect.createListSync(trId);
        this.listSync = sync;
      },
    });
    const active = this.listSync ?? sync;
    if (!active) throw new MsnProtocolError("list sync did not start");
    active.onSynReply(reply.args.slice(1));
    if (!active.complete) {
      await this.waitForSync(active);
    }
    this.listSync = null;
    this.applySync(active);
  }

  private waitForSync(sync: ListSync): Promise<void> {
    const timeoutMs = this.options.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.onSyncProgress = null;
        if (sync.listsComplete) {
          // Some servers may omit GTC/BLP/LSG; the lists themselves are what matters.
          this.logger.warn("list sync incomplete (missing GTC/BLP/LSG); continuing with the lists received");
          resolve();
        } else {
          reject(new MsnTimeoutError("contact list synchronisation (SYN)", timeoutMs));
        }
      }, timeoutMs);
      this.onSyncProgress = () => {
        if (this.state === "closed") {
          clearTimeout(timer);
          this.onSyncProgress = null;
          reject(new MsnConnectionClosedError("session closed during list synchronisation"));
        } else if (sync.complete) {
          clearTimeout(timer);
          this.onSyncProgress = null;
          resolve();
        }
      };
    });
  }

  private applySync(sync: ListSync): void {
    const result = sync.result();
    for (const [key, synced] of result.contacts) {
      const previous = this.contactMap.get(key);
      this.contactMap.set(
        key,
        freezeContact(key, {
          ...previous,
          email: synced.email,
          friendlyName: previous?.friendlyName ?? synced.friendlyName,
          lists: synced.lists,
          groups: synced.groups,
          status: previous?.status ?? "FLN",
          ...(synced.guid === undefined ? {} : { guid: synced.guid }),
        }),
      );
    }
    for (const [id, name] of result.groups) this.groupMap.set(id, Object.freeze({ id, name }));
    this.privacy = result.privacy;
    // MSNP10+ sends our name here instead of in USR OK; it is not a change, so no event.
    if (result.ownFriendlyName) this.ownName = result.ownFriendlyName;
    this.emit("contactsSynced", { contacts: this.contactMap, groups: this.groupMap });
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  /** Sets our status (`HDN` = appear offline). */
  async setStatus(status: OwnStatus): Promise<void> {
    if (!isOwnStatus(status)) throw new MsnArgumentError(`invalid status ${JSON.stringify(status)}`);
    this.requireConnected();
    await this.setStatusInternal(status);
  }

  private async setStatusInternal(status: OwnStatus): Promise<void> {
    const connection = this.requireConnection();
    const dialect = this.currentDialect;
    if (!dialect) throw new MsnProtocolError("no dialect negotiated");
    const reply = await connection.request("CHG", dialect.chgArgs(status));
    const confirmed = reply.args[1];
    this.ownStatus = confirmed !== undefined && isOwnStatus(confirmed) ? confirmed : status;
  }

  /**
   * Sets our personal message (`UUX`, MSNP11+; contacts receive it as `UBX`). Throws
   * {@link MsnArgumentError} on older versions, which have none, or for text over 1000 bytes.
   */
  async setPersonalMessage(text: string): Promise<void> {
    const { connection, dialect } = this.requireConnected();
    const payload = dialect.personalMessagePayload(text);
    if (payload === null) {
      throw new MsnArgumentError(`${dialect.version} has no personal messages (MSNP11+ does)`);
    }
    if (Buffer.byteLength(text, "utf8") > MAX_PERSONAL_MESSAGE_BYTES) {
      throw new MsnArgumentError(`personal message too long (> ${MAX_PERSONAL_MESSAGE_BYTES} bytes)`);
    }
    await connection.request("UUX", [], payload); // the length is appended by the encoder
  }

  /** Changes our friendly name (`REA`, or `PRP MFN` on MSNP10+); `friendlyName` then holds the name the server confirmed. */
  async setFriendlyName(name: string): Promise<void> {
    const { connection, dialect } = this.requireConnected();
    if (typeof name !== "string" || name.trim().length === 0) {
      throw new MsnArgumentError("friendly name must not be empty");
    }
    const encoded = encodeParam(name);
    if (encoded.length > MAX_FRIENDLY_NAME_ENCODED) {
      throw new MsnArgumentError(
        `friendly name too long (${encoded.length} > ${MAX_FRIENDLY_NAME_ENCODED} encoded)`,
      );
    }
    const command = dialect.renameCommand(this.ownEmail, encoded);
    const reply = await connection.request(command.name, command.args);
    const parsed = dialect.parseRenameReply(reply.args.slice(1));
    this.applyOwnName(parsed?.friendlyName ?? name);
  }

  private applyOwnName(name: string): void {
    if (name === this.ownName) return;
    const previous = this.ownName;
    this.ownName = name;
    this.emit("friendlyNameChanged", { friendlyName: name, previous });
  }

  /**
   * Adds a contact to the forward list and, like the official client, to the allow list (unless
   * blocked). Rejects with `MsnServerError` (205 unknown account, 201 bad address, …). The
   * contact is then in `contacts` (see also the `contactAdded` events).
   */
  async addContact(email: string): Promise<void> {
    validateEmail(email);
    await this.changeList("add", "FL", email);
    const current = this.getContact(email);
    if (current && !current.lists.allow && !current.lists.block) {
      try {
        await this.changeList("add", "AL", current.email);
      } catch (error) {
        // 215: already there; 219: on BL meanwhile. Neither undoes the FL add.
        if (!(error instanceof MsnServerError && (error.code === 215 || error.code === 219))) throw error;
      }
    }
  }

  /** Removes a contact from the forward list (they stay allowed, as with the official client). */
  async removeContact(email: string): Promise<void> {
    validateEmail(email);
    await this.changeList("remove", "FL", this.getContact(email)?.email ?? email);
  }

  /** Moves a contact from the allow list to the block list. */
  async block(email: string): Promise<void> {
    validateEmail(email);
    const spelled = this.getContact(email)?.email ?? email;
    if (this.getContact(email)?.lists.allow) await this.changeList("remove", "AL", spelled);
    if (!this.getContact(email)?.lists.block) await this.changeList("add", "BL", spelled);
  }

  /** Moves a contact from the block list to the allow list. */
  async unblock(email: string): Promise<void> {
    validateEmail(email);
    const spelled = this.getContact(email)?.email ?? email;
    if (this.getContact(email)?.lists.block) await this.changeList("remove", "BL", spelled);
    if (!this.getContact(email)?.lists.allow) await this.changeList("add", "AL", spelled);
  }

  private async changeList(kind: ListChangeKind, list: OwnList, email: string): Promise<void> {
    const { connection, dialect } = this.requireConnected();
    const command = dialect.listChangeCommand(kind, list, email, this.getContact(email)?.guid);
    await connection.request(command.name, command.args, undefined, {
      // Applied synchronously: the server sends the contact's ILN right behind the ADD reply.
      onReply: (reply) => {
        const change = dialect.parseListChange(reply);
        if (!change) throw new MsnProtocolError(`malformed ${reply.name} reply: ${reply.args.join(" ")}`);
        this.applyListChange(change);
      },
    });
  }

  /** Asks for a switchboard (`XFR SB`), connects and authenticates. Invite people with `invite()`. */
  async openSwitchboard(): Promise<SwitchboardSession> {
    const { connection, dialect } = this.requireConnected();
    const reply = await connection.request("XFR", ["SB"]);
    // XFR <trid> SB <host:port> CKI <cookie> [...]
    const address = parseAddress(reply.args[2] ?? "");
    const cookie = reply.args[4];
    if (reply.args[1] !== "SB" || !address || reply.args[3] !== "CKI" || !cookie) {
      throw new MsnProtocolError(`malformed XFR SB reply`);
    }
    const sb = await SwitchboardSession.connectAsCaller({
      ...address,
      cookie,
      email: this.ownEmail,
      dialect,
      requestTimeoutMs: this.options.requestTimeoutMs,
      connectTimeoutMs: this.options.connectTimeoutMs,
      maxPayloadBytes: this.options.maxPayloadBytes,
      logger: this.logger,
    });
    return this.track(sb);
  }

  /** Joins the session a `ring` event offered (`ANS`). Answer promptly: cookies expire. */
  async answerInvitation(ring: RingInvitation): Promise<SwitchboardSession> {
    const { dialect } = this.requireConnected();
    const sb = await SwitchboardSession.connectAsAnswerer({
      host: ring.host,
      port: ring.port,
      cookie: ring.cookie,
      sessionId: ring.sessionId,
      email: this.ownEmail,
      dialect,
      requestTimeoutMs: this.options.requestTimeoutMs,
      connectTimeoutMs: this.options.connectTimeoutMs,
      maxPayloadBytes: this.options.maxPayloadBytes,
      logger: this.logger,
    });
    return this.track(sb);
  }

  private track(sb: SwitchboardSession): SwitchboardSession {
    if (this.state !== "connected") {
      void sb.close();
      throw new MsnConnectionClosedError("notification session closed while the switchboard was opening");
    }
    const open = (this.switchboards ??= new Set());
    open.add(sb);
    sb.once("closed", () => {
      open.delete(sb);
      if (open.size === 0 && this.switchboards === open) this.switchboards = null;
    });
    return sb;
  }

  // -------------------------------------------------------------------------------------------
  // Incoming

  private onCommand(command: MsnCommand): void {
    if (this.listSync?.handle(command)) {
      this.onSyncProgress?.();
      return;
    }
    const { name, args } = command;
    if (name === this.currentDialect?.renameCommandName) {
      // A late reply or a server push (`PRP MFN` after a short list sync) naming us.
      const parsed = this.currentDialect.parseRenameReply(/^\d+$/.test(args[0] ?? "") ? args.slice(1) : args);
      if (parsed && (parsed.email === null || parsed.email.toLowerCase() === this.ownEmail.toLowerCase())) {
        this.applyOwnName(parsed.friendlyName);
      }
      return;
    }
    switch (name) {
      case "ILN": {
        const update = this.currentDialect?.parseInitialPresence(args);
        if (update) this.applyPresence(update);
        else this.logger.warn("malformed ILN ignored", { args });
        break;
      }
      case "NLN": {
        const update = this.currentDialect?.parsePresence(args);
        if (update) this.applyPresence(update);
        else this.logger.warn("malformed NLN ignored", { args });
        break;
      }
      case "FLN": {
        const email = this.currentDialect?.parseOffline(args);
        if (email) this.applyPresence({ email, status: "FLN", friendlyName: null });
        break;
      }
      case "UBX": {
        const update = this.currentDialect?.parsePersonalMessage(command);
        if (update) this.applyPersonalMessage(update.email, update.personalMessage);
        break;
      }
      case "BLP": {
        // Outside the list sync only after one that announced nothing more.
        const mode = args.at(-1);
        if (mode === "AL" || mode === "BL") this.privacy = mode;
        break;
      }
      case "RNG":
        this.onRing(args);
        break;
      case "MSG":
        if (command.payload) this.emit("serverMessage", { content: classifyMessage(command.payload) });
        break;
      case "CHL":
        this.onChallenge(args);
        break;
      case "QNG": {
        this.missedPongs = 0;
        // MSNP9+ `QNG <n>`: the server wants the next PNG within n seconds. Our interval stays
        // the upper bound (it also sets how soon a dead link is noticed); a server asking for
        // sooner gets it, but never more than ten times as often as configured.
        const seconds = Number(args[0]);
        const asked = seconds * 1000;
        if (this.pingTimer && Number.isInteger(seconds) && asked > 0 && asked < this.options.pingIntervalMs) {
          this.schedulePing(Math.max(asked, this.options.pingIntervalMs / 10));
        }
        break;
      }
      case "OUT":
        this.onOut(args[0]);
        break;
      case "CHG": {
        // A late CHG reply (its request timed out) still tells us our status.
        const status = args[1];
        if (status !== undefined && isOwnStatus(status)) this.ownStatus = status;
        break;
      }
      default: {
        // List changes: server-initiated (TrID 0, e.g. `ADD 0 RL`) or late replies.
        const change = this.currentDialect?.parseListChange(command);
        if (change) {
          this.applyListChange(change);
        } else if (/^\d{3}$/.test(name)) {
          this.logger.warn("NS error reply without a pending request", { code: name, args });
        } else {
          this.logger.debug("NS ignoring command", { command: name });
        }
      }
    }
  }

  private applyPresence(update: PresenceUpdate): void {
    const key = update.email.toLowerCase();
    if (key === this.ownEmail.toLowerCase()) return;
    const existing = this.contactMap.get(key);
    const previousFriendlyName = existing?.friendlyName ?? update.email;
    const friendlyName = update.friendlyName ?? previousFriendlyName;
    if (existing && existing.status === update.status && existing.friendlyName === friendlyName) {
      return; // Escargot repeats NLN; only real changes are news.
    }
    if (!existing && update.status === "FLN") return; // offline stranger: nothing to report
    if (!existing && this.atContactLimit()) return;
    const contact = freezeContact(key, {
      ...existing,
      email: existing?.email ?? update.email,
      friendlyName,
      lists: existing?.lists ?? SHARED_LISTS[0]!,
      groups: existing?.groups ?? NO_GROUPS,
      status: update.status,
    });
    this.contactMap.set(key, contact);
    this.emitPresence(contact, existing);
  }

  private emitPresence(contact: Contact, previous: Contact | undefined): void {
    this.emit("presence", {
      contact,
      previousStatus: previous?.status ?? "FLN",
      previousFriendlyName: previous?.friendlyName ?? contact.email,
      ...(previous?.personalMessage === undefined
        ? {}
        : { previousPersonalMessage: previous.personalMessage }),
    });
  }

  /** `UBX` (MSNP11+): reported through `presence` so consumers see one "status" stream. */
  private applyPersonalMessage(email: string, personalMessage: string): void {
    const key = email.toLowerCase();
    if (key === this.ownEmail.toLowerCase()) return;
    const existing = this.contactMap.get(key);
    // Escargot sends UBX for contacts it also reports presence for; a stranger's PSM is noise.
    if (!existing) return;
    if ((existing.personalMessage ?? "") === personalMessage) return;
    const contact = freezeContact(key, {
      ...existing,
      personalMessage,
    });
    this.contactMap.set(key, contact);
    this.emitPresence(contact, existing);
  }

  private applyListChange(change: ListChange): void {
    const adding = change.kind === "add";
    const email = change.email ?? this.emailForGuid(change.guid);
    if (email === null) {
      this.logger.warn("list change for an unknown contact GUID ignored", { list: change.list });
      return;
    }
    const key = email.toLowerCase();
    const existing = this.contactMap.get(key);
    const field = LIST_KEYS[change.list];
    const onList = existing?.lists[field] ?? false;
    if (adding === onList) {
      return; // no change (a repeated notification or a reply we already applied)
    }
    if (!existing && this.atContactLimit()) return;
    const lists: ContactLists = {
      ...(existing?.lists ?? { forward: false, allow: false, block: false, reverse: false }),
      [field]: adding,
    };
    const friendlyName =
      adding && change.friendlyName && change.friendlyName !== email
        ? change.friendlyName
        : (existing?.friendlyName ?? change.friendlyName ?? email);
    const guid = change.guid ?? existing?.guid;
    const contact = freezeContact(key, {
      ...existing,
      email: existing?.email ?? email,
      friendlyName,
      lists,
      groups: change.list === "FL" && !adding ? NO_GROUPS : (existing?.groups ?? NO_GROUPS),
      status: existing?.status ?? "FLN",
      ...(guid === undefined ? {} : { guid }),
    });
    const onAnyList = lists.forward || lists.allow || lists.block || lists.reverse;
    if (onAnyList) this.contactMap.set(key, contact);
    else this.contactMap.delete(key);

    if (change.list === "RL") {
      if (adding) this.emit("reverseListAdd", { email: contact.email, friendlyName: contact.friendlyName });
      else this.emit("reverseListRemove", { email: contact.email });
    } else if (adding) {
      this.emit("contactAdded", { contact, list: change.list });
    } else {
      this.emit("contactRemoved", {
        email: contact.email,
        contact: onAnyList ? contact : null,
        list: change.list,
      });
    }
  }

  /** True (and logged once) when a new contact would exceed {@link MAX_CONTACTS}. */
  private atContactLimit(): boolean {
    if (this.contactMap.size < MAX_CONTACTS) return false;
    if (!this.contactLimitLogged) {
      this.contactLimitLogged = true;
      this.logger.warn("contact limit reached; ignoring further unknown addresses from the server", {
        limit: MAX_CONTACTS,
      });
    }
    return true;
  }

  private emailForGuid(guid: string | null): string | null {
    if (guid === null) return null;
    for (const contact of this.contactMap.values()) if (contact.guid === guid) return contact.email;
    return null;
  }

  private onRing(args: readonly string[]): void {
    // RNG <session-id> <host:port> CKI <cookie> <inviter-email> <inviter-name> [...]
    const [sessionId, addressText, auth, cookie, inviterEmail, inviterName] = args;
    const address = parseAddress(addressText ?? "");
    if (!sessionId || !address || auth !== "CKI" || !cookie || !inviterEmail) {
      this.logger.warn("malformed RNG ignored", { argCount: args.length });
      return;
    }
    this.emit("ring", {
      sessionId,
      address: addressText ?? "",
      host: address.host,
      port: address.port,
      cookie,
      inviterEmail,
      inviterName: inviterName === undefined ? inviterEmail : decodeParam(inviterName) || inviterEmail,
    });
  }

  private onChallenge(args: readonly string[]): void {
    const challenge = args[1];
    const dialect = this.currentDialect;
    if (!challenge || !dialect || !this.connection) return;
    this.connection
      .request("QRY", [dialect.challengeProductId], dialect.answerChallenge(challenge))
      .catch((error: unknown) => this.logger.warn("challenge answer (QRY) failed", errorMeta(error)));
  }

  private onOut(reason: string | undefined): void {
    this.serverCloseReason =
      reason === "OTH" ? "other-login" : reason === "SSD" ? "server-shutdown" : "server-out";
    this.logger.info("server ended the session", { reason: reason ?? "(none)" });
    this.shutdown(this.serverCloseReason);
  }

  private onConnectionClose(error: Error | null): void {
    if (this.state === "closing") {
      this.shutdown("local");
    } else if (this.serverCloseReason) {
      this.shutdown(this.serverCloseReason);
    } else if (error instanceof FramingError) {
      this.shutdown("protocol-error", error);
    } else if (error) {
      this.shutdown("socket-error", error);
    } else {
      this.shutdown("socket-closed");
    }
  }

  // -------------------------------------------------------------------------------------------
  // Keep-alive and teardown

  private startKeepAlive(): void {
    this.missedPongs = 0;
    this.schedulePing(this.options.pingIntervalMs);
  }

  /** The next PNG in `delayMs`, instead of any already scheduled. */
  private schedulePing(delayMs: number): void {
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      this.pingTimer = null;
      this.ping();
    }, delayMs);
    this.pingTimer.unref();
  }

  private stopKeepAlive(): void {
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.pingTimer = null;
  }

  private ping(): void {
    if (this.state !== "connected" || !this.connection) return;
    if (this.missedPongs >= this.options.maxMissedPongs) {
      this.logger.warn("no QNG for the last pings; considering the connection dead", {
        missed: this.missedPongs,
      });
      this.shutdown(
        "keepalive-timeout",
        new MsnTimeoutError("keep-alive (PNG/QNG)", this.options.pingIntervalMs * this.missedPongs),
      );
      return;
    }
    this.missedPongs += 1;
    try {
      this.connection.send("PNG", []);
    } catch (error) {
      this.logger.warn("PNG failed", errorMeta(error));
    }
    this.schedulePing(this.options.pingIntervalMs);
  }

  private shutdown(reason: NotificationCloseReason, error?: Error): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.stopKeepAlive();
    this.ownStatus = "FLN";
    const connection = this.connection;
    this.connection = null;
    connection?.destroy();
    this.listSync = null;
    this.onSyncProgress?.();
    // Escargot keeps SB participants in their sessions after the NS is gone; leave them ourselves.
    const open = this.switchboards;
    this.switchboards = null;
    for (const sb of open ?? []) void sb.close();
    // Our own close is routine (a logout, or every session at once when the bridge stops: with
    // 10,000 puppets those lines were a third of the shutdown's CPU); any other reason is news.
    const meta = { reason, ...(error ? errorMeta(error) : {}) };
    if (reason === "local" && !error) this.logger.debug("MSN session closed", meta);
    else this.logger.info("MSN session closed", meta);
    this.emit("closed", error ? { reason, error } : { reason });
  }

  protected override onListenerError(event: string, error: unknown): void {
    this.logger.error(`listener for ${event} threw`, errorMeta(error));
  }
}
