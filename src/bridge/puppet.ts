/**
 * A puppet: one Matrix user's MSN login and its Notification Server connection, kept alive
 * across drops with jittered backoff. It turns NS events into ghost updates, portal traffic and
 * management-room notices. It never reconnects after the user logged in elsewhere or the
 * password stopped working: that would fight the user's own client or lock the account.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { LoginRecord } from "../store/store.js";
import type { BridgeCore } from "./core.js";
import type { MsnCloseReason, MsnRing, NotificationPort, SwitchboardPort } from "./msn-ports.js";
import type { Portal, PortalOwner } from "./portal.js";
import { backoffDelay } from "./backoff.js";
import { describeMsnError, isAuthFailure, NotDeliveredError } from "./errors.js";
import { secondsSince } from "./metrics.js";

export type PuppetState =
  | "disconnected"
  | "connecting"
  | "connected"
  | "reconnecting"
  | "logged-in-elsewhere"
  | "bad-credentials"
  | "stopped";

const CLOSE_TEXT: Record<MsnCloseReason, string> = {
  local: "closed by the bridge",
  "other-login": "you logged in to MSN somewhere else",
  "server-shutdown": "the MSN server is shutting down",
  "server-out": "the MSN server ended the session",
  "socket-error": "the network connection failed",
  "socket-closed": "the MSN server closed the connection",
  "keepalive-timeout": "the MSN server stopped answering",
  "protocol-error": "the MSN server sent something the bridge could not understand",
  "login-failed": "the MSN server refused the login",
};

export class Puppet implements PortalOwner {
  private currentState: PuppetState = "disconnected";
  private stateWaiters: (() => void)[] = [];

  get state(): PuppetState {
    return this.currentState;
  }

  private setState(next: PuppetState): void {
    this.currentState = next;
    const waiters = this.stateWaiters;
    this.stateWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once the first connect attempt is over: connected, retrying, or given up. */
  async firstAttemptOver(): Promise<void> {
    while (this.currentState === "disconnected" || this.currentState === "connecting") {
      await new Promise<void>((wake) => this.stateWaiters.push(wake));
    }
  }

  /**
   * Resolves true once connected, false when the connection is given up (stopped, logged in
   * elsewhere, bad password) or `timeoutMs` passes. Messages written during a reconnect wait
   * here, in order, instead of being refused.
   */
  async waitForConnection(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.connected) return true;
      if (this.currentState !== "connecting" && this.currentState !== "reconnecting") return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, left);
        this.stateWaiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  ns: NotificationPort | null = null;
  /** Stops the running connect loop; null while none runs (a connected puppet needs none). */
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  /** Set while a drop has been announced, so a reconnect storm produces two notices, not fifty. */
  private announcedDrop = false;
  /** When the current session logged in: who is online arrives just after (ILN burst). */
  private connectedAt = 0;

  constructor(
    private readonly core: BridgeCore,
    public login: LoginRecord,
  ) {}

  get userId(): string {
    return this.login.userId;
  }

  get ownEmail(): string | null {
    return this.state === "connected" && this.ns ? this.ns.email : null;
  }

  get connected(): boolean {
    return this.state === "connected" && this.ns !== null;
  }

  /** Adopts a session the `login` command already connected. */
  adopt(ns: NotificationPort): void {
    this.wire(ns);
    this.setState("connected");
    this.afterConnect(ns);
  }

  /**
   * Starts (or restarts) the connect loop; resolves when the first attempt series ends.
   * `afterDrop`: the connection was just lost, so the first attempt waits a random part of the
   * first backoff delay. A server restart drops every login at the same instant; without the
   * pause they would all knock at once (the login limiter bounds how many at a time, this
   * spreads them over time).
   */
  start(afterDrop = false): Promise<void> {
    if (this.loop) return this.loop;
    const abort = new AbortController();
    this.abort = abort;
    this.loop = this.connectLoop(abort.signal, afterDrop).finally(() => {
      this.loop = null;
      if (this.abort === abort) this.abort = null;
    });
    return this.loop;
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    this.setState("stopped");
    const ns = this.ns;
    this.ns = null;
    await this.core.closePortalSwitchboards(this.userId);
    if (ns) await ns.close().catch(() => undefined);
  }

  /** The `reconnect` command: drop what we have and connect now, skipping any backoff wait. */
  async reconnect(): Promise<void> {
    this.abort?.abort();
    const ns = this.ns;
    this.ns = null;
    if (ns) await ns.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
    this.setState("disconnected");
    this.announcedDrop = false;
    await this.start();
  }

  private async connectLoop(signal: AbortSignal, afterDrop: boolean): Promise<void> {
    if (afterDrop) {
      try {
        await sleep(Math.random() * this.core.options.reconnect.initialMs, undefined, { signal });
      } catch {
        return;
      }
    }
    for (let attempt = 0; !signal.aborted; attempt++) {
      this.setState(attempt === 0 && !this.announcedDrop ? "connecting" : "reconnecting");
      if (this.state === "reconnecting") this.core.metrics.reconnectAttempt();
      const ns = this.core.createNotification({ email: this.login.email, password: this.login.password });
      try {
        await this.core.loginLimiter.add(() => (signal.aborted ? Promise.resolve() : ns.connect()));
        if (signal.aborted) {
          await ns.close().catch(() => undefined);
          return;
        }
        this.wire(ns);
        this.setState("connected");
        if (this.announcedDrop || attempt > 0)
          await this.core.notify(this.userId, `✅ Reconnected to MSN as ${ns.email}.`);
        this.announcedDrop = false;
        this.afterConnect(ns);
        return;
      } catch (e) {
        await ns.close().catch(() => undefined);
        if (signal.aborted) return;
        if (isAuthFailure(e)) {
          this.setState("bad-credentials");
          await this.disableAutoConnect();
          await this.core.notify(
            this.userId,
            `❌ MSN login failed: ${describeMsnError(e)}. Log in again with \`login <email> <password>\`.`,
          );
          return;
        }
        const delay = backoffDelay(attempt, this.core.options.reconnect);
        // One warning per outage and puppet: when the MSN server is down for an hour, 10,000
        // puppets retrying would otherwise write a warning each per attempt. The retries go on
        // at debug level (and count in the reconnects metric).
        const failure = { userId: this.userId, attempt, delayMs: delay, error: String(e) };
        if (attempt === 0) {
          this.core.log.warn("MSN connect failed", { ...failure, furtherAttempts: "logged at debug level" });
        } else {
          this.core.log.debug("MSN connect failed", failure);
        }
        if (!this.announcedDrop) {
          this.announcedDrop = true;
          await this.core.notify(
            this.userId,
            `⚠️ Could not connect to MSN (${describeMsnError(e)}). Retrying in ${Math.ceil(delay / 1000)} s; I'll tell you when it works.`,
          );
        }
        this.setState("reconnecting");
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          return;
        }
      }
    }
  }

  private wire(ns: NotificationPort): void {
    this.ns = ns;
    this.connectedAt = Date.now();
    ns.on("presence", ({ contact }) => this.core.updateGhost(contact));
    ns.on("reverseListAdd", ({ email, friendlyName }) => {
      const name = friendlyName && friendlyName !== email ? `${friendlyName} (${email})` : email;
      const onList = ns.contacts.get(email.toLowerCase())?.lists.forward;
      void this.core.notify(
        this.userId,
        onList
          ? `👋 ${name} added you to their MSN contact list.`
          : `👋 ${name} added you to their MSN contact list. To add them back, say \`add ${email}\`.`,
      );
    });
    ns.on("ring", (ring) => void this.answer(ns, ring));
    ns.on("closed", ({ reason, error }) => void this.onClosed(ns, reason, error));
  }

  private afterConnect(ns: NotificationPort): void {
    void this.core
      .syncContacts(this.userId, () => ns.contacts.values())
      .catch((e) => this.core.log.error("contact sync failed", { userId: this.userId, error: String(e) }));
    if (ns.email !== this.login.email || ns.friendlyName !== this.login.friendlyName) {
      this.login = { ...this.login, email: ns.email, friendlyName: ns.friendlyName };
      void this.core.store.upsertLogin(this.login).catch(() => undefined);
    }
  }

  private async onClosed(
    ns: NotificationPort,
    reason: MsnCloseReason,
    error: Error | undefined,
  ): Promise<void> {
    if (this.ns !== ns) return; // an old session we already replaced
    this.ns = null;
    await this.core.closePortalSwitchboards(this.userId);
    if (reason === "local" || this.state === "stopped") return;
    this.core.log.warn("MSN connection closed", {
      userId: this.userId,
      reason,
      error: error ? String(error) : undefined,
    });
    if (reason === "other-login") {
      this.setState("logged-in-elsewhere");
      await this.disableAutoConnect();
      await this.core.notify(
        this.userId,
        "⚠️ Disconnected: you logged in to MSN somewhere else. I won't reconnect on my own, so the two don't fight; say `reconnect` when you want the bridge back.",
      );
      return;
    }
    if (reason === "login-failed") {
      this.setState("bad-credentials");
      await this.disableAutoConnect();
      await this.core.notify(
        this.userId,
        "❌ MSN refused the login. Log in again with `login <email> <password>`.",
      );
      return;
    }
    this.announcedDrop = true;
    this.setState("reconnecting");
    await this.core.notify(this.userId, `⚠️ Disconnected from MSN: ${CLOSE_TEXT[reason]}. Reconnecting…`);
    void this.start(true);
  }

  private async disableAutoConnect(): Promise<void> {
    this.login = { ...this.login, autoConnect: false };
    await this.core.store.upsertLogin(this.login).catch(() => undefined);
  }

  private async answer(ns: NotificationPort, ring: MsnRing): Promise<void> {
    try {
      const sb = await ns.answerInvitation(ring);
      await this.core.routeSwitchboard(this, sb);
    } catch (e) {
      this.core.log.warn("could not answer an MSN chat invitation", {
        userId: this.userId,
        error: String(e),
      });
    }
  }

  async openSwitchboardWith(emails: readonly string[]): Promise<SwitchboardPort> {
    if (!(await this.waitForConnection(this.core.options.reconnectWaitMs)))
      throw new NotDeliveredError("you are not connected to MSN right now", "not_connected");
    const ns = this.ns;
    if (!ns) throw new NotDeliveredError("you are not connected to MSN right now", "not_connected");
    const online = (): string[] =>
      emails.filter((e) => {
        const status = ns.contacts.get(e.toLowerCase())?.status;
        return status !== undefined && status !== "FLN";
      });
    let reachable = online();
    // Messages queued during a reconnect come right after login, before the ILN burst may have
    // said who is online: give it the same grace as the ghosts get before calling anyone offline.
    const sinceLogin = Date.now() - this.connectedAt;
    if (reachable.length === 0 && sinceLogin < this.core.options.offlineGraceMs) {
      await sleep(this.core.options.offlineGraceMs - sinceLogin);
      reachable = online();
    }
    if (reachable.length === 0) {
      const who = emails.length === 1 ? this.core.contactLabel(ns, emails[0]!) : "everyone in this chat";
      throw new NotDeliveredError(`${who} is offline`, "contact_offline");
    }
    const started = performance.now();
    const sb = await ns.openSwitchboard();
    try {
      const joined = await Promise.allSettled(
        reachable.map(async (email) => {
          await sb.invite(email);
          await sb.waitForJoin(email, this.core.options.joinTimeoutMs);
        }),
      );
      if (!joined.some((r) => r.status === "fulfilled")) {
        const first = joined.find((r): r is PromiseRejectedResult => r.status === "rejected");
        const reason: unknown = first?.reason;
        // Rung but never joined: their client hangs or ignores us. Say so, not "server timeout".
        if (reason instanceof Error && reason.name === "MsnTimeoutError") {
          const who =
            reachable.length === 1 ? this.core.contactLabel(ns, reachable[0]!) : "nobody in this chat";
          throw new NotDeliveredError(
            `${who} did not join the chat within ${Math.round(this.core.options.joinTimeoutMs / 1000)} s`,
          );
        }
        throw reason ?? new NotDeliveredError("nobody joined the chat");
      }
      this.core.metrics.switchboardSetup(secondsSince(started));
      return sb;
    } catch (e) {
      await sb.close().catch(() => undefined);
      throw e;
    }
  }

  onGroupFormed(from: Portal, sb: SwitchboardPort): void {
    void this.core
      .formGroup(this, from, sb)
      .catch((e) =>
        this.core.log.error("could not form a group portal", { userId: this.userId, error: String(e) }),
      );
  }

  /** For `status`: how the connection is, in words. */
  describe(): string {
    const ns = this.ns;
    switch (this.state) {
      case "connected": {
        const contacts = ns ? [...ns.contacts.values()].filter((c) => c.lists.forward) : [];
        const online = contacts.filter((c) => c.status !== "FLN").length;
        return `Connected to MSN as ${ns?.email} (${ns?.friendlyName}) using ${ns?.protocolVersion}. ${online} of ${contacts.length} contacts online.`;
      }
      case "connecting":
        return `Connecting to MSN as ${this.login.email}…`;
      case "reconnecting":
        return `Reconnecting to MSN as ${this.login.email}…`;
      case "logged-in-elsewhere":
        return `Disconnected: ${this.login.email} logged in somewhere else. Say \`reconnect\` to take over again.`;
      case "bad-credentials":
        return `Disconnected: MSN refused the password for ${this.login.email}. Use \`login\` again.`;
      default:
        return `Not connected (${this.login.email}). Say \`reconnect\` to connect.`;
    }
  }
}
