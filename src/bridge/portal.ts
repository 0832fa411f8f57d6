/**
 * A portal: one Matrix room standing for one MSN conversation of one login. The room outlives
 * any switchboard: SBs are attached as they come (RNG) or opened on demand when the Matrix user
 * writes, and dropped when they close. Each direction has its own ordered queue.
 */
import type { PortalRecord } from "../store/store.js";
import type { MatrixPort } from "./matrix-port.js";
import type { Log } from "./log.js";
import type { SwitchboardPort, SwitchboardPortEvents, MsnTextFormat } from "./msn-ports.js";
import { OrderedQueue } from "./ordered-queue.js";
import {
  certainlyNotApplied,
  nextTransactionId,
  retryWhileNotApplied,
  type RetryOptions,
} from "./matrix-retry.js";
import { matrixMessageToMsn, msnTextToMatrix, notBridgedNotice } from "./translate.js";
import { describeMsnError, NotDeliveredError } from "./errors.js";
import { noMetrics, secondsSince, type BridgeMetrics, type NotBridgedReason } from "./metrics.js";

/**
 * A minute of outage of a busy chat at 15 messages a second: people type far slower, and 1,000
 * MSN messages (at most 1,664 bytes each) are a few megabytes per portal in the worst case.
 */
export const RELAY_BUFFER_MESSAGES = 1000;

/** What a portal needs from the login it belongs to. */
export interface PortalOwner {
  readonly userId: string;
  /** The login's own MSN address, or null while not connected. */
  readonly ownEmail: string | null;
  /** Opens a switchboard and gets the given contacts into it; rejects with a reason when it cannot. */
  openSwitchboardWith(emails: readonly string[]): Promise<SwitchboardPort>;
  /** A third person joined a 1:1 switchboard: the conversation becomes a group portal. */
  onGroupFormed(from: Portal, sb: SwitchboardPort): void;
}

export interface PortalOptions {
  typingTimeoutMs: number;
  /** How often a Matrix user's ongoing typing is repeated to MSN. */
  typingRepeatMs: number;
  /**
   * MSN messages a portal holds for the homeserver at most (default RELAY_BUFFER_MESSAGES). When
   * it is full, the oldest are kept and newer ones dropped; the user gets one notice per gap.
   */
  relayBufferMessages?: number;
  /** How MSN messages wait out a homeserver that cannot be reached. */
  homeserverRetry: RetryOptions;
  /** How long each message chunk waits for the switchboard server's ACK (default 15 s). */
  ackTimeoutMs?: number;
  metrics?: BridgeMetrics;
}

/** Fresh switchboards a message is sent on after the first one failed it (see `deliver`). */
const MAX_RESENDS = 1;

export type BufferedEvent = {
  /** `at`: performance.now() when the SB emitted it, so latency counts the time spent buffered. */
  [K in keyof SwitchboardPortEvents]: { event: K; payload: SwitchboardPortEvents[K]; at?: number };
}[keyof SwitchboardPortEvents];

/**
 * Records an SB's events until a portal takes it over, so nothing it says while the bridge
 * looks up or creates the room is lost. `take()` stops recording and hands the events over.
 */
export function bufferSwitchboardEvents(sb: SwitchboardPort): { take(): BufferedEvent[] } {
  const events: BufferedEvent[] = [];
  const names: (keyof SwitchboardPortEvents)[] = [
    "message",
    "typing",
    "nudge",
    "join",
    "leave",
    "unsupported",
    "closed",
  ];
  const listeners = names.map((event) => {
    const listener = (payload: unknown): void => {
      events.push({ event, payload, at: performance.now() } as BufferedEvent);
    };
    sb.on(event, listener as never);
    return { event, listener };
  });
  return {
    take() {
      for (const { event, listener } of listeners) sb.off(event, listener as never);
      return events;
    },
  };
}

type Handlers = {
  [K in keyof SwitchboardPortEvents]: (payload: SwitchboardPortEvents[K], receivedAt?: number) => void;
};

export class Portal {
  private readonly switchboards = new Map<SwitchboardPort, Handlers>();
  /** The SB that most recently carried a message: replies go there (official-client rule). */
  private active: SwitchboardPort | null = null;
  private opening: Promise<SwitchboardPort> | null = null;
  private readonly outgoing = new OrderedQueue();
  private readonly incoming = new OrderedQueue();
  private readonly ghostTyping = new Map<string, NodeJS.Timeout>();
  private userTypingTimer: NodeJS.Timeout | null = null;
  private readonly metrics: BridgeMetrics;
  /** MSN messages queued or in flight towards the homeserver. */
  private relaying = 0;
  /** Messages lost since the last one accepted; its notice is queued where the gap began. */
  private openLoss: { count: number } | null = null;

  constructor(
    public record: PortalRecord,
    private readonly owner: PortalOwner,
    private readonly matrix: MatrixPort,
    private readonly log: Log,
    private readonly opts: PortalOptions,
  ) {
    this.metrics = opts.metrics ?? noMetrics;
  }

  get roomId(): string {
    return this.record.roomId;
  }

  /** Matrix messages queued for MSN or on their way (0 when the next one goes out at once). */
  get outgoingPending(): number {
    return this.outgoing.size;
  }

  get openSwitchboards(): number {
    return this.switchboards.size;
  }

  /** Who speaks for the bridge in this room: the contact's ghost in a DM, the bot in a group. */
  get noticeSender(): string | null {
    return this.record.kind === "dm" ? (this.record.participants[0] ?? null) : null;
  }

  /**
   * Starts listening to an SB. `earlier` are events it emitted before this portal was known
   * (a contact's first message can arrive while the room is still being created); they are
   * handled first, in order.
   */
  attachSwitchboard(sb: SwitchboardPort, earlier: readonly BufferedEvent[] = []): void {
    if (this.switchboards.has(sb)) return;
    const handlers: Handlers = {
      message: (m, receivedAt = performance.now()) => {
        this.active = sb;
        this.queueRelay(m.from, m.text, m.format, receivedAt);
      },
      typing: (t) =>
        this.incoming.push(() => this.relayTyping(t.from)).catch((e) => this.logError("relay typing", e)),
      nudge: (n) =>
        this.incoming
          .push(() =>
            this.matrix.sendMessage(n.from, this.roomId, { msgtype: "m.emote", body: "sent you a nudge!" }),
          )
          .catch((e) => this.logError("relay nudge", e)),
      join: (j) => this.onJoin(sb, j.email),
      leave: () => this.onLeave(sb),
      unsupported: (u) =>
        this.incoming
          .push(() =>
            this.matrix.sendMessage(u.from, this.roomId, {
              msgtype: "m.notice",
              body: `(sent something the bridge cannot show: ${u.kind})`,
            }),
          )
          .catch((e) => this.logError("relay unsupported", e)),
      closed: () => this.detachSwitchboard(sb),
    };
    for (const [event, handler] of Object.entries(handlers)) {
      sb.on(event as keyof SwitchboardPortEvents, handler as never);
    }
    this.switchboards.set(sb, handlers);
    this.active = sb;
    for (const { event, payload, at } of earlier)
      (handlers[event] as (p: unknown, at?: number) => void)(payload, at);
  }

  /** Stops listening to an SB without closing it (it may move to another portal). */
  detachSwitchboard(sb: SwitchboardPort): void {
    const handlers = this.switchboards.get(sb);
    if (!handlers) return;
    for (const [event, handler] of Object.entries(handlers)) {
      sb.off(event as keyof SwitchboardPortEvents, handler as never);
    }
    this.switchboards.delete(sb);
    if (this.active === sb) this.active = [...this.switchboards.keys()].at(-1) ?? null;
  }

  /** Closes every SB (logout, portal deleted, shutdown). */
  async closeSwitchboards(): Promise<void> {
    const sbs = [...this.switchboards.keys()];
    for (const sb of sbs) this.detachSwitchboard(sb);
    this.stopUserTyping();
    await Promise.allSettled(sbs.map((sb) => sb.close()));
  }

  /** A Matrix message from the portal's owner, in room order. */
  sendFromMatrix(eventId: string, content: Record<string, unknown>): Promise<void> {
    return this.outgoing.push(async () => {
      const out = matrixMessageToMsn(content, (mxc) => this.matrix.mediaUrl(mxc));
      if (out.kind === "unsupported") {
        await this.notBridged(out.reason, eventId, "unsupported");
        return;
      }
      this.stopUserTyping();
      try {
        await this.deliver(out.text);
        this.metrics.messageBridged("matrix_to_msn");
      } catch (e) {
        this.log.warn("message not delivered", { roomId: this.roomId, error: String(e) });
        await this.notBridged(describeMsnError(e), eventId, this.failureClass(e));
      }
    });
  }

  /** A Matrix event MSN cannot carry (reaction, redaction, sticker…). */
  refuse(eventId: string, reason: string): Promise<void> {
    return this.outgoing.push(() => this.notBridged(reason, eventId, "unsupported"));
  }

  private async notBridged(reason: string, eventId: string, kind: NotBridgedReason): Promise<void> {
    this.metrics.notBridged(kind);
    await this.matrix.sendMessage(this.noticeSender, this.roomId, notBridgedNotice(reason, eventId));
  }

  /** The metric label for a failed delivery; the user already got the precise sentence. */
  private failureClass(e: unknown): NotBridgedReason {
    if (e instanceof NotDeliveredError && e.kind !== "other") return e.kind;
    if (this.owner.ownEmail === null) return "not_connected";
    // The puppet refuses known-offline contacts itself; the server says 217 for the rest.
    const code = typeof e === "object" && e !== null && "code" in e ? (e as { code: unknown }).code : null;
    return code === 217 ? "contact_offline" : "delivery_failed";
  }

  /**
   * The Matrix→MSN delivery guarantee (docs/reliability.md). Every chunk goes out with ack mode
   * `A` and counts as sent once the switchboard server acknowledged it. When the switchboard dies
   * with a chunk unacknowledged, answers NAK, or gives no ACK within `ackTimeoutMs`, the chunks not
   * yet acknowledged are sent again on a fresh switchboard (waiting for a reconnect if the whole
   * login dropped); when that fails too, the caller gets the error and the user a not-bridged
   * notice. So: at least once, or an explicit failure. A chunk the server relayed but whose ACK
   * never came back (connection lost, ACK timeout) reaches the contact twice: MSN messages carry
   * no id a receiving client could de-duplicate on. A NAKed chunk was not delivered, and chunks
   * already acknowledged are never repeated.
   */
  private async deliver(text: string): Promise<void> {
    let acknowledged = 0;
    for (let attempt = 0; ; attempt++) {
      const sb = await this.ensureSwitchboard();
      try {
        await sb.sendText(text, {
          ack: "A",
          ackTimeoutMs: this.opts.ackTimeoutMs ?? 15_000,
          skipChunks: acknowledged,
          onChunkDone: (index) => (acknowledged = index + 1),
        });
        return;
      } catch (e) {
        // A switchboard that failed a message is not trusted with the next one.
        this.detachSwitchboard(sb);
        sb.close().catch(() => undefined);
        if (attempt >= MAX_RESENDS) throw e;
        this.log.info("message not acknowledged; resending on a fresh switchboard", {
          roomId: this.roomId,
          acknowledgedChunks: acknowledged,
          error: String(e),
        });
      }
    }
  }

  private usable(sb: SwitchboardPort | null): sb is SwitchboardPort {
    return sb !== null && this.switchboards.has(sb) && sb.participants.size > 0;
  }

  private async ensureSwitchboard(): Promise<SwitchboardPort> {
    if (this.usable(this.active)) return this.active;
    for (const sb of this.switchboards.keys()) if (this.usable(sb)) return (this.active = sb);
    if (!this.opening) {
      this.opening = this.owner
        .openSwitchboardWith(this.record.participants)
        .then((sb) => {
          this.attachSwitchboard(sb);
          return sb;
        })
        .finally(() => (this.opening = null));
    }
    return this.opening;
  }

  /**
   * Queues an MSN message for Matrix, in order, unless RELAY_BUFFER_MESSAGES already wait (the
   * homeserver is down or far behind): then it is dropped, counted, and reported in the room.
   */
  private queueRelay(
    from: string,
    text: string,
    format: MsnTextFormat | undefined,
    receivedAt: number,
  ): void {
    if (this.relaying >= (this.opts.relayBufferMessages ?? RELAY_BUFFER_MESSAGES)) {
      this.metrics.msnMessageLost?.("buffer_full");
      this.noteLoss();
      return;
    }
    this.relaying++;
    // Losses after this message are a new gap, reported after it.
    this.openLoss = null;
    // One transaction ID for every attempt: a retry of a send that did reach the homeserver
    // gets the same event back instead of a second one.
    const txnId = nextTransactionId();
    this.incoming
      .push(() => this.relayMessage(from, text, format, receivedAt, txnId))
      .catch((e) => {
        if (certainlyNotApplied(e)) {
          // The homeserver stayed unreachable for the whole retry window.
          this.metrics.msnMessageLost?.("homeserver_unreachable");
          this.noteLoss();
        }
        this.logError("relay message", e);
      })
      .finally(() => this.relaying--);
  }

  /** Counts lost messages into the open gap, queueing the gap's notice when it is new. */
  private noteLoss(count = 1): void {
    if (this.openLoss) {
      this.openLoss.count += count;
      return;
    }
    const loss = { count };
    this.openLoss = loss;
    this.incoming
      .push(() => this.sendLossNotice(loss))
      .catch((e) => this.logError("lost-messages notice", e));
  }

  private async sendLossNotice(loss: { count: number }): Promise<void> {
    if (this.openLoss === loss) this.openLoss = null;
    const n = loss.count;
    const body = `⚠️ ${n} MSN message${n === 1 ? " was" : "s were"} lost while the Matrix homeserver was unreachable.`;
    const txnId = nextTransactionId();
    try {
      await retryWhileNotApplied(
        () => this.matrix.sendMessage(this.noticeSender, this.roomId, { msgtype: "m.notice", body }, txnId),
        this.opts.homeserverRetry,
      );
    } catch (e) {
      if (!certainlyNotApplied(e)) throw e;
      // Still unreachable after a whole retry window: the count waits for the next notice
      // rather than being forgotten.
      this.noteLoss(n);
    }
  }

  private async relayMessage(
    from: string,
    text: string,
    format: MsnTextFormat | undefined,
    receivedAt: number,
    txnId: string,
  ): Promise<void> {
    // Most messages follow no typing indicator: skip the await (and its microtask) then.
    if (this.ghostTyping.size > 0) await this.clearGhostTyping(from);
    // Order matters more than speed: while the homeserver is unreachable this portal's later
    // messages wait behind this one.
    const content = msnTextToMatrix(text, format);
    await retryWhileNotApplied(
      () => this.matrix.sendMessage(from, this.roomId, content, txnId),
      this.opts.homeserverRetry,
      (e, attempt, delayMs) =>
        this.log.warn("homeserver unreachable; will retry the message", {
          roomId: this.roomId,
          attempt,
          delayMs,
          error: String(e),
        }),
    );
    this.metrics.messageBridged("msn_to_matrix");
    this.metrics.msnToMatrixLatency(secondsSince(receivedAt));
  }

  private async relayTyping(from: string): Promise<void> {
    const key = from.toLowerCase();
    const previous = this.ghostTyping.get(key);
    if (previous) clearTimeout(previous);
    // MSN has no "stopped typing": the indicator lapses unless the control message repeats.
    const timer = setTimeout(() => {
      this.ghostTyping.delete(key);
      this.incoming.push(() => this.matrix.setGhostTyping(from, this.roomId, false)).catch(() => undefined);
    }, this.opts.typingTimeoutMs);
    timer.unref();
    this.ghostTyping.set(key, timer);
    if (!previous) await this.matrix.setGhostTyping(from, this.roomId, true);
  }

  private async clearGhostTyping(from: string): Promise<void> {
    const key = from.toLowerCase();
    const timer = this.ghostTyping.get(key);
    if (!timer) return;
    clearTimeout(timer);
    this.ghostTyping.delete(key);
    await this.matrix.setGhostTyping(from, this.roomId, false);
  }

  private onJoin(sb: SwitchboardPort, email: string): void {
    const known = this.record.participants.includes(email.toLowerCase());
    if (this.record.kind === "dm" && !known && sb.participants.size >= 2) {
      this.detachSwitchboard(sb);
      this.owner.onGroupFormed(this, sb);
      return;
    }
    if (this.record.kind === "group" && !known) {
      this.incoming
        .push(() => this.matrix.joinGhost(email, this.roomId))
        .catch((e) => this.logError("ghost join", e));
    }
  }

  private onLeave(sb: SwitchboardPort): void {
    // An SB with nobody else in it is useless to us (Escargot keeps it open forever); the next
    // message opens a fresh one, as official clients do.
    if (sb.participants.size === 0) {
      this.detachSwitchboard(sb);
      sb.close().catch(() => undefined);
    }
  }

  /** The owner's Matrix typing state in this room. */
  setUserTyping(typing: boolean): void {
    if (!typing) return this.stopUserTyping();
    if (this.userTypingTimer) return;
    const send = (): void => {
      const sb = this.active;
      const me = this.owner.ownEmail;
      // Never open an SB just to type: only an open one carries the control message.
      if (!this.usable(sb) || !me) return;
      try {
        sb.sendTyping(me);
      } catch (e) {
        this.log.debug("typing not sent", { error: String(e) });
      }
    };
    send();
    this.userTypingTimer = setInterval(send, this.opts.typingRepeatMs);
    this.userTypingTimer.unref();
  }

  private stopUserTyping(): void {
    if (this.userTypingTimer) clearInterval(this.userTypingTimer);
    this.userTypingTimer = null;
  }

  /** Waits for queued work in both directions (tests, shutdown). */
  async drain(): Promise<void> {
    await Promise.all([this.outgoing.drain(), this.incoming.drain()]);
  }

  dispose(): void {
    this.stopUserTyping();
    for (const t of this.ghostTyping.values()) clearTimeout(t);
    this.ghostTyping.clear();
  }

  private logError(what: string, e: unknown): void {
    this.log.error(`portal: ${what} failed`, { roomId: this.roomId, error: String(e) });
  }
}
