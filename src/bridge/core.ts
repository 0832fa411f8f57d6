/**
 * The core: owns puppets and portals and maps between the MSN and Matrix vocabularies. It owns no
 * sockets and no HTTP: MSN sessions come from a factory, Matrix goes through a MatrixPort.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import PQueue from "p-queue";
import type { LoginRecord, PortalRecord, Store } from "../store/store.js";
import type { MatrixPort } from "./matrix-port.js";
import type { Log } from "./log.js";
import type { MsnContact, NotificationFactory, NotificationPort, SwitchboardPort } from "./msn-ports.js";
import type { BackoffOptions } from "./backoff.js";
import type { RetryOptions } from "./matrix-retry.js";
import { bufferSwitchboardEvents, Portal } from "./portal.js";
import { Puppet } from "./puppet.js";
import { describeMsnError, isAuthFailure, UserFacingError } from "./errors.js";
import { matrixPresenceFor, msnStatusForMatrix, type MsnStatus } from "./presence.js";
import { displayNameFor, notBridgedNotice } from "./translate.js";
import { noMetrics, type BridgeMetrics } from "./metrics.js";
import { settlesWithin } from "./settles-within.js";

export interface CoreOptions {
  typingTimeoutMs: number;
  typingRepeatMs: number;
  /** How long to wait for a contact to JOI after CAL. */
  joinTimeoutMs: number;
  /** After login, how long a contact may stay offline before its ghost is set offline. */
  offlineGraceMs: number;
  /** How long a Matrix message waits for a reconnecting puppet before it is refused. */
  reconnectWaitMs: number;
  /** How long a message chunk waits for the switchboard's ACK before it is resent (default 15 s). */
  ackTimeoutMs?: number;
  /** How long `handlePortalMessage(…, {awaitDelivery})` waits for MSN (default DELIVERY_HOLD_MS). */
  deliveryHoldMs?: number;
  /** Retry of MSN → Matrix sends while the homeserver cannot be reached. */
  homeserverRetry: RetryOptions;
  loginConcurrency: number;
  reconnect: BackoffOptions;
  forwardPresence: boolean;
  forwardDisplayname: boolean;
}

/**
 * How long a Matrix transaction waits for one of its messages to reach MSN before it is
 * acknowledged anyway (see handlePortalMessage).
 */
export const DELIVERY_HOLD_MS = 2000;

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function validateEmail(email: string): string {
  // Anything here ends up as an MSN command argument: no spaces, controls or stray bytes.
  const hasControl = [...email].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (email.length > 320 || !EMAIL.test(email) || hasControl || email.includes("%")) {
    throw new UserFacingError(`\`${email.slice(0, 80)}\` is not a valid MSN address.`);
  }
  return email;
}

export class BridgeCore {
  readonly puppets = new Map<string, Puppet>();
  readonly loginLimiter: PQueue;
  private readonly portals = new Map<string, Portal>();
  private readonly portalCreation = new Map<string, Promise<Portal>>();
  private readonly ghostPresence = new Map<string, string>();
  private readonly ghostNames = new Map<string, string>();
  private readonly ghostNameUpdates = new Map<string, Promise<void>>();
  private readonly ghostSync = new PQueue({ concurrency: 4 });
  /** MSN accounts (lower-cased) with a login running, and the Matrix user running it. */
  private readonly loginsInProgress = new Map<string, string>();

  constructor(
    readonly store: Store,
    readonly matrix: MatrixPort,
    readonly createNotification: NotificationFactory,
    readonly options: CoreOptions,
    readonly log: Log,
    readonly metrics: BridgeMetrics = noMetrics,
  ) {
    this.loginLimiter = new PQueue({ concurrency: options.loginConcurrency });
  }

  /** Restores every stored login that should be connected (bounded by the login limiter). */
  async start(): Promise<void> {
    const started = Date.now();
    const restoring: Promise<void>[] = [];
    for (const login of await this.store.listLogins()) {
      const puppet = new Puppet(this, login);
      this.puppets.set(login.userId, puppet);
      if (login.autoConnect) {
        void puppet.start();
        restoring.push(puppet.firstAttemptOver());
      }
    }
    // One line for the whole restart herd, once every login's first attempt is over (per-login
    // lines are debug: 10,000 puppets wrote 10,000 info lines per restart). When MSN is down it
    // says so at once — connected: 0 — while the puppets go on retrying.
    if (restoring.length > 0) {
      void Promise.allSettled(restoring).then(() =>
        this.log.info("stored MSN logins restored", {
          logins: restoring.length,
          connected: [...this.puppets.values()].filter((p) => p.connected).length,
          seconds: (Date.now() - started) / 1000,
        }),
      );
    }
    for (const broken of await this.store.listUnreadableLogins()) {
      this.log.warn("a stored MSN password cannot be decrypted; that user must log in again", {
        userId: broken.userId,
        reason: broken.reason,
      });
      void this.notify(
        broken.userId,
        `⚠️ I could not read your stored MSN password for ${broken.email} (the bridge's credentials key changed). ` +
          "Please log in again with `login <email> <password>`.",
      );
    }
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.puppets.values()].map((p) => p.stop()));
    for (const portal of this.portals.values()) portal.dispose();
  }

  async notify(userId: string, text: string): Promise<void> {
    const roomId = await this.store.getManagementRoom(userId);
    if (!roomId) return;
    await this.matrix
      .sendBotNotice(roomId, text)
      .catch((e) => this.log.warn("notice failed", { userId, error: String(e) }));
  }

  // ---- commands -------------------------------------------------------------------------

  private puppetOf(userId: string): Puppet {
    const p = this.puppets.get(userId);
    if (!p) throw new UserFacingError("You are not logged in. Use `login <email> <password>` first.");
    return p;
  }

  private connectedNs(userId: string): NotificationPort {
    const p = this.puppetOf(userId);
    if (!p.connected || !p.ns) throw new UserFacingError(`That needs a connection to MSN. ${p.describe()}`);
    return p.ns;
  }

  /** Connects once with the given credentials; stores them only when the server accepts them. */
  async login(userId: string, email: string, password: string): Promise<string> {
    validateEmail(email);
    // Two Matrix users on one MSN account would kick each other off with OUT OTH forever, and
    // each would read the other's conversations: one account belongs to one Matrix user.
    const account = email.toLowerCase();
    const taken = [...this.puppets.values()].some(
      (p) => p.userId !== userId && p.login.email.toLowerCase() === account,
    );
    const claimedBy = this.loginsInProgress.get(account);
    if (taken || (claimedBy !== undefined && claimedBy !== userId)) {
      throw new UserFacingError(
        `❌ ${email} is already bridged for another Matrix user of this bridge. An MSN account can be logged in by one Matrix user only.`,
      );
    }
    this.loginsInProgress.set(account, userId);
    try {
      return await this.loginExclusive(userId, email, password);
    } finally {
      if (this.loginsInProgress.get(account) === userId) this.loginsInProgress.delete(account);
    }
  }

  private async loginExclusive(userId: string, email: string, password: string): Promise<string> {
    // The old connection goes first: on MSN a second login of the same account kicks the first
    // with OUT OTH, which the old puppet would report as "logged in elsewhere".
    const old = this.puppets.get(userId);
    if (old) {
      await old.stop();
      this.puppets.delete(userId);
    }
    const ns = this.createNotification({ email, password });
    try {
      await this.loginLimiter.add(() => ns.connect());
    } catch (e) {
      await ns.close().catch(() => undefined);
      if (isAuthFailure(e)) throw new UserFacingError("❌ Login failed: wrong e-mail address or password.");
      throw new UserFacingError(`❌ Login failed: ${describeMsnError(e)}.`);
    }
    const login: LoginRecord = {
      userId,
      email: ns.email,
      password,
      autoConnect: true,
      friendlyName: ns.friendlyName,
    };
    // Portals keep the login they were made for; that one is gone (or never connected again).
    this.forgetPortalsOf(userId);
    // Adopt before any other await: the session holds back its events only until then.
    const puppet = new Puppet(this, login);
    this.puppets.set(userId, puppet);
    puppet.adopt(ns);
    await this.store.upsertLogin(login);
    const count = [...ns.contacts.values()].filter((c) => c.lists.forward).length;
    return `✅ Logged in to MSN as ${ns.email} (${ns.friendlyName}) using ${ns.protocolVersion}. ${count} contacts.`;
  }

  async logout(userId: string): Promise<string> {
    const p = this.puppetOf(userId);
    await p.stop();
    this.puppets.delete(userId);
    this.forgetPortalsOf(userId);
    await this.store.deleteLogin(userId);
    return `Logged out of ${p.login.email}. Your stored password was deleted.`;
  }

  status(userId: string): string {
    const p = this.puppets.get(userId);
    return p ? p.describe() : "You are not logged in. Use `login <email> <password>`.";
  }

  contacts(userId: string): MsnContact[] {
    const ns = this.connectedNs(userId);
    return [...ns.contacts.values()].filter((c) => c.lists.forward);
  }

  async openChat(userId: string, email: string): Promise<{ roomId: string; created: boolean }> {
    validateEmail(email);
    const puppet = this.puppetOf(userId);
    const existing = await this.loadPortal(userId, email.toLowerCase());
    if (existing) {
      const membership = await this.matrix.membershipOf(existing.noticeSender, existing.roomId, userId);
      if (membership !== "join" && membership !== "invite") {
        await this.matrix.inviteUser(existing.noticeSender, existing.roomId, userId);
      }
      return { roomId: existing.roomId, created: false };
    }
    const portal = await this.dmPortal(puppet, email);
    return { roomId: portal.roomId, created: true };
  }

  async addContact(userId: string, email: string): Promise<void> {
    validateEmail(email);
    await this.connectedNs(userId).addContact(email);
  }

  async removeContact(userId: string, email: string): Promise<void> {
    validateEmail(email);
    await this.connectedNs(userId).removeContact(email);
  }

  async setPresence(userId: string, status: MsnStatus): Promise<void> {
    await this.connectedNs(userId).setStatus(status);
  }

  async setNick(userId: string, name: string): Promise<void> {
    if (name.length === 0 || name.length > 129)
      throw new UserFacingError("A friendly name has 1 to 129 characters.");
    await this.connectedNs(userId).setFriendlyName(name);
  }

  async reconnect(userId: string): Promise<string> {
    const p = this.puppetOf(userId);
    p.login = { ...p.login, autoConnect: true };
    await this.store.upsertLogin(p.login);
    await p.reconnect();
    return p.describe();
  }

  contactLabel(ns: NotificationPort, email: string): string {
    const c = ns.contacts.get(email.toLowerCase());
    return c && c.friendlyName && c.friendlyName !== c.email ? `${c.friendlyName} (${c.email})` : email;
  }

  // ---- MSN → Matrix ---------------------------------------------------------------------

  /**
   * Brings every ghost of a fresh login up to date. Who is online arrives as an ILN burst just
   * after login, so a contact still offline in the first snapshot is only believed offline after
   * `offlineGraceMs`; otherwise every reconnect would flash online ghosts offline and back.
   */
  async syncContacts(userId: string, contacts: () => Iterable<MsnContact>): Promise<void> {
    const started = Date.now();
    const forward = (): MsnContact[] => [...contacts()].filter((c) => c.lists.forward);
    const update = (list: MsnContact[]): Promise<unknown> =>
      Promise.all(list.map((c) => this.ghostSync.add(() => this.updateGhost(c))));
    await update(forward().filter((c) => c.status !== "FLN"));
    await sleep(this.options.offlineGraceMs);
    await update(forward().filter((c) => c.status === "FLN"));
    this.log.debug("contacts synced", { userId, ms: Date.now() - started });
  }

  /** Name and presence of a contact's ghost; homeserver calls only for what changed. */
  async updateGhost(contact: MsnContact): Promise<void> {
    const key = contact.email.toLowerCase();
    try {
      await this.updateGhostName(contact.email, contact.friendlyName);
      const { presence, statusMsg } = matrixPresenceFor(contact.status, contact.personalMessage);
      const presenceKey = `${presence}|${statusMsg ?? ""}`;
      // Ghosts nobody has seen online are offline already; skip the request.
      if (
        this.ghostPresence.get(key) !== presenceKey &&
        !(presence === "offline" && !this.ghostPresence.has(key))
      ) {
        await this.matrix.setGhostPresence(contact.email, presence, statusMsg);
      }
      this.ghostPresence.set(key, presenceKey);
    } catch (e) {
      this.log.warn("ghost update failed", { email: key, error: String(e) });
    }
  }

  /** An answered invitation or a freshly opened SB finds its portal by who is in it. */
  async routeSwitchboard(puppet: Puppet, sb: SwitchboardPort): Promise<void> {
    const buffer = bufferSwitchboardEvents(sb);
    const others = [...sb.participants.keys()];
    if (others.length === 0) {
      buffer.take();
      await sb.close();
      return;
    }
    try {
      for (const [email, name] of sb.participants) await this.updateGhostName(email, name);
      const portal =
        others.length === 1
          ? await this.dmPortal(puppet, others[0]!)
          : await this.groupPortal(puppet, others, null);
      this.log.debug("switchboard routed", { roomId: portal.roomId, participants: others });
      portal.attachSwitchboard(sb, buffer.take());
    } catch (e) {
      buffer.take();
      await sb.close().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Registers the ghost and sets its display name, calling the homeserver only on a change. Updates
   * of one ghost run one after another: contacts shared by puppets logging in at once would
   * otherwise each miss the cache and repeat the same register and profile requests.
   */
  private updateGhostName(email: string, friendlyName: string): Promise<void> {
    const key = email.toLowerCase();
    const previous = this.ghostNameUpdates.get(key);
    const next = (previous ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.applyGhostName(email, friendlyName));
    this.ghostNameUpdates.set(key, next);
    const forget = (): void => {
      if (this.ghostNameUpdates.get(key) === next) this.ghostNameUpdates.delete(key);
    };
    next.then(forget, forget);
    return next;
  }

  private async applyGhostName(email: string, friendlyName: string): Promise<void> {
    const key = email.toLowerCase();
    const name = displayNameFor(friendlyName, email);
    if (this.ghostNames.get(key) === name) return;
    const cached = await this.store.getGhost(key);
    if (cached?.displayName !== name) {
      await this.matrix.ensureGhost(email, name);
      await this.store.upsertGhost({ email: key, displayName: name });
    }
    this.ghostNames.set(key, name);
  }

  async formGroup(puppet: Puppet, from: Portal, sb: SwitchboardPort): Promise<void> {
    const buffer = bufferSwitchboardEvents(sb);
    const others = [...sb.participants.keys()];
    let group: Portal;
    try {
      for (const [email, name] of sb.participants) await this.updateGhostName(email, name);
      group = await this.groupPortal(puppet, others, from.roomId);
    } catch (e) {
      buffer.take();
      await sb.close().catch(() => undefined);
      throw e;
    }
    group.attachSwitchboard(sb, buffer.take());
    const names = others.join(", ");
    await this.matrix.sendMessage(from.record.participants[0] ?? null, from.roomId, {
      msgtype: "m.notice",
      body: `The conversation continues as a group chat with ${names}: ${this.matrix.roomLink(group.roomId)}`,
    });
  }

  /** Drops a user's portals from memory; the next event loads them again with the current login. */
  private forgetPortalsOf(userId: string): void {
    for (const [roomId, portal] of this.portals) {
      if (portal.record.userId !== userId) continue;
      portal.dispose();
      this.portals.delete(roomId);
    }
  }

  async closePortalSwitchboards(userId: string): Promise<void> {
    await Promise.allSettled(
      [...this.portals.values()].filter((p) => p.record.userId === userId).map((p) => p.closeSwitchboards()),
    );
  }

  // ---- portals --------------------------------------------------------------------------

  private async dmPortal(puppet: Puppet, email: string): Promise<Portal> {
    const key = email.toLowerCase();
    return this.portalOnce(puppet.userId, key, async () => {
      const existing = await this.loadPortal(puppet.userId, key);
      if (existing) return existing;
      const ns = puppet.ns;
      const contact = ns?.contacts.get(key);
      await this.updateGhostName(contact?.email ?? email, contact?.friendlyName ?? email);
      this.log.debug("creating a DM portal", { userId: puppet.userId, contact: key });
      const roomId = await this.matrix.createDirectRoom(contact?.email ?? email, puppet.userId);
      return this.registerPortal(puppet, {
        roomId,
        userId: puppet.userId,
        conversationKey: key,
        kind: "dm",
        participants: [key],
        parentRoomId: null,
        createdAt: Date.now(),
      });
    });
  }

  private async groupPortal(puppet: Puppet, emails: string[], parentRoomId: string | null): Promise<Portal> {
    const members = [...new Set(emails.map((e) => e.toLowerCase()))].sort();
    const existing = (await this.store.listPortals(puppet.userId)).find(
      (p) => p.kind === "group" && p.participants.slice().sort().join(",") === members.join(","),
    );
    return this.portalOnce(
      puppet.userId,
      existing?.conversationKey ?? `group:${members.join(",")}`,
      async () => {
        if (existing) {
          const loaded = await this.loadPortal(puppet.userId, existing.conversationKey);
          if (loaded) return loaded;
        }
        const ns = puppet.ns;
        const names = members.map((m) => ns?.contacts.get(m)?.friendlyName || m);
        const roomId = await this.matrix.createGroupRoom(
          puppet.userId,
          members,
          `MSN: ${names.join(", ")}`,
          `MSN group chat with ${members.join(", ")}`,
        );
        return this.registerPortal(puppet, {
          roomId,
          userId: puppet.userId,
          conversationKey: `group:${randomUUID()}`,
          kind: "group",
          participants: members,
          parentRoomId,
          createdAt: Date.now(),
        });
      },
    );
  }

  /** Concurrent creations of the same conversation (two RNGs at once) share one room. */
  private portalOnce(userId: string, key: string, create: () => Promise<Portal>): Promise<Portal> {
    const lockKey = `${userId}\n${key}`;
    const pending = this.portalCreation.get(lockKey);
    if (pending) return pending;
    const p = create().finally(() => this.portalCreation.delete(lockKey));
    this.portalCreation.set(lockKey, p);
    return p;
  }

  private async registerPortal(puppet: Puppet, record: PortalRecord): Promise<Portal> {
    await this.store.upsertPortal(record);
    return this.cachePortal(puppet, record);
  }

  private cachePortal(owner: Puppet, record: PortalRecord): Portal {
    const portal = new Portal(record, owner, this.matrix, this.log, {
      typingTimeoutMs: this.options.typingTimeoutMs,
      typingRepeatMs: this.options.typingRepeatMs,
      homeserverRetry: this.options.homeserverRetry,
      ...(this.options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: this.options.ackTimeoutMs }),
      metrics: this.metrics,
    });
    this.portals.set(record.roomId, portal);
    return portal;
  }

  /** A stored portal the user is still in, or null (a portal the user left is forgotten). */
  private async loadPortal(userId: string, key: string): Promise<Portal | null> {
    const record = await this.store.getPortal(userId, key);
    if (!record) return null;
    const cached = this.portals.get(record.roomId);
    if (cached) return cached;
    const membership = await this.matrix
      .membershipOf(record.kind === "dm" ? (record.participants[0] ?? null) : null, record.roomId, userId)
      .catch(() => null);
    if (membership !== "join" && membership !== "invite") {
      await this.store.deletePortal(record.roomId);
      return null;
    }
    const puppet = this.puppets.get(userId);
    return puppet ? this.cachePortal(puppet, record) : null;
  }

  async portalForRoom(roomId: string): Promise<Portal | null> {
    const cached = this.portals.get(roomId);
    if (cached) return cached;
    const record = await this.store.getPortalByRoom(roomId);
    if (!record) return null;
    const puppet = this.puppets.get(record.userId);
    return puppet ? this.cachePortal(puppet, record) : null;
  }

  // ---- Matrix → MSN ---------------------------------------------------------------------

  /** A message in a room; returns false when the room is not a portal. */
  async handlePortalMessage(
    roomId: string,
    sender: string,
    eventId: string,
    content: Record<string, unknown>,
    opts: {
      awaitDelivery?: boolean;
      /** Called once the message's fate is final: on MSN, refused with a notice, or not bridged. */
      onSettled?: () => Promise<void>;
    } = {},
  ): Promise<boolean> {
    const settled = async (): Promise<void> => {
      await opts
        .onSettled?.()
        .catch((e: unknown) => this.log.error("settling a message failed", { error: String(e) }));
    };
    const record = this.portals.get(roomId)?.record ?? (await this.store.getPortalByRoom(roomId));
    if (!record) {
      await settled();
      return false;
    }
    if (record.userId !== sender) {
      await settled();
      return true; // someone else in a portal: not theirs to speak for
    }
    const portal = await this.portalForRoom(roomId);
    if (!portal) {
      this.metrics.notBridged("not_logged_in");
      await this.matrix.sendMessage(
        record.kind === "dm" ? (record.participants[0] ?? null) : null,
        roomId,
        notBridgedNotice("you are not logged in to MSN", eventId),
      );
      await settled();
      return true;
    }
    // The homeserver sends one transaction at a time for every room and user: waiting out a
    // stalled contact (ACK timeouts, a reconnect) would hold up everyone else's messages with it.
    // A message usually reaches MSN within milliseconds; past the hold it goes on in the
    // background, in order, and ends delivered or with a not-bridged notice. A message queued
    // behind an earlier one of the same chat is not waited for at all: that chat is slow already.
    const goesOutNow = portal.outgoingPending === 0;
    const sent = portal
      .sendFromMatrix(eventId, content)
      .catch((e) => this.log.error("send failed", { roomId, error: String(e) }))
      .then(settled);
    if (opts.awaitDelivery && goesOutNow)
      await settlesWithin(sent, this.options.deliveryHoldMs ?? DELIVERY_HOLD_MS);
    return true;
  }

  async handleUnbridgeable(roomId: string, sender: string, eventId: string, reason: string): Promise<void> {
    const portal = await this.portalForRoom(roomId);
    if (portal && portal.record.userId === sender) await portal.refuse(eventId, reason);
  }

  async handleTyping(roomId: string, typingUserIds: readonly string[]): Promise<void> {
    const portal = await this.portalForRoom(roomId);
    if (portal) portal.setUserTyping(typingUserIds.includes(portal.record.userId));
  }

  async handleOwnPresence(userId: string, presence: string): Promise<void> {
    if (!this.options.forwardPresence) return;
    const p = this.puppets.get(userId);
    const status = msnStatusForMatrix(presence);
    if (p?.connected && p.ns && status) await p.ns.setStatus(status).catch(() => undefined);
  }

  async handleOwnDisplayName(userId: string, name: string): Promise<void> {
    if (!this.options.forwardDisplayname) return;
    const p = this.puppets.get(userId);
    if (p?.connected && p.ns && name && name !== p.ns.friendlyName)
      await p.ns.setFriendlyName(name).catch(() => undefined);
  }

  /** The owner left a portal: forget it, so the next chat makes a fresh room. */
  async handleUserLeft(roomId: string, userId: string): Promise<void> {
    const record = await this.store.getPortalByRoom(roomId);
    if (!record || record.userId !== userId) return;
    const portal = this.portals.get(roomId);
    this.portals.delete(roomId);
    await portal?.closeSwitchboards();
    portal?.dispose();
    await this.store.deletePortal(roomId);
    for (const email of record.participants)
      await this.matrix.leaveGhost(email, roomId).catch(() => undefined);
  }

  /**
   * The user invited a ghost into a room: that room becomes (or replaces) the 1:1 portal with
   * the contact. Returns a reason to refuse the invite, or null when accepted.
   */
  async handleGhostInvite(roomId: string, inviter: string, email: string): Promise<string | null> {
    const puppet = this.puppets.get(inviter);
    if (!puppet) return "You are not logged in to MSN.";
    const key = email.toLowerCase();
    const old = await this.store.getPortal(inviter, key);
    if (old && old.roomId !== roomId) {
      this.portals.get(old.roomId)?.dispose();
      this.portals.delete(old.roomId);
      await this.store.deletePortal(old.roomId);
    }
    await this.matrix.joinGhost(email, roomId);
    await this.registerPortal(puppet, {
      roomId,
      userId: inviter,
      conversationKey: key,
      kind: "dm",
      participants: [key],
      parentRoomId: null,
      createdAt: Date.now(),
    });
    const contact = puppet.ns?.contacts.get(key);
    if (contact) await this.updateGhost(contact);
    return null;
  }

  /** Waits until the portal queues are empty (tests and shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.portals.values()].map((p) => p.drain()));
  }

  get portalCount(): number {
    return this.portals.size;
  }

  get openSwitchboardCount(): number {
    let n = 0;
    for (const p of this.portals.values()) n += p.openSwitchboards;
    return n;
  }
}
