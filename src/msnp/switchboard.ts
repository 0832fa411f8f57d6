/**
 * One switchboard (SB) connection: a chat session with one or more contacts (msnp.md §7–8).
 * Created by {@link NotificationSession.openSwitchboard} (we invite) or
 * {@link NotificationSession.answerInvitation} (we were invited). Short-lived by design: the
 * bridge maps conversations, not SB connections, to rooms.
 */
import { MsnConnection } from "./connection.js";
import type { Dialect } from "./dialect.js";
import { decodeParam } from "./encoding.js";
import {
  FramingError,
  MsnArgumentError,
  MsnConnectionClosedError,
  MsnDeliveryError,
  MsnProtocolError,
  MsnTimeoutError,
} from "./errors.js";
import { NULL_LOGGER, TypedEventEmitter, errorMeta, type MsnLogger } from "./events.js";
import type { MsnCommand } from "./framing.js";
import {
  buildMime,
  buildNudgeMessage,
  buildTypingMessage,
  classifyMessage,
  textMessageHeaders,
  type MsnMessageContent,
  type MsnMessageKind,
  type TextFormat,
} from "./mime.js";
import { MAX_MSG_PAYLOAD_BYTES, splitMessageText } from "./split.js";
import { validateEmail } from "./validate.js";

export type AckMode = "U" | "N" | "A";

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export type SwitchboardCloseReason =
  "local" | "server-out" | "socket-error" | "socket-closed" | "protocol-error";

export interface SwitchboardEvents {
  /** A text message (`text/plain`). `text` has `\n` line breaks. */
  message: { from: string; fromName: string; text: string; format?: TextFormat };
  /** The sender is typing (repeats every few seconds while they type; no "stopped" event exists). */
  typing: { from: string };
  nudge: { from: string; fromName: string };
  /** A contact joined (`JOI`). Participants present when we answered come via `IRO`, not this. */
  join: { email: string; name: string };
  /** A contact left (`BYE`); `idle` when the server removed them for inactivity. */
  leave: { email: string; idle: boolean };
  /** A payload the client does not handle (invitations, P2P, custom emoticons, unknown types…). */
  unsupported: {
    from: string;
    fromName: string;
    contentType: string;
    kind: MsnMessageKind;
    content: MsnMessageContent;
  };
  /** A `NAK` for a message sent with ack mode `N` (or one whose `A` wait had already ended). */
  deliveryFailed: { trId: number };
  closed: { reason: SwitchboardCloseReason; error?: Error };
}

export interface SendTextOptions {
  format?: Partial<TextFormat> | null;
  /** `N` (default): NAK on failure only. `A`: wait for ACK per chunk. `U`: no acknowledgement. */
  ack?: AckMode;
  /** How long to wait for each ACK in mode `A`; defaults to the request timeout. */
  ackTimeoutMs?: number;
  /**
   * Chunks to leave out at the start: the ones an earlier switchboard already had acknowledged
   * when it died. The split is deterministic, so a resend with the same text and format continues
   * exactly where the first attempt stopped instead of repeating what arrived.
   */
  skipChunks?: number;
  /**
   * Called after each chunk is done with: acknowledged (`A`) or written (`N`, `U`), with its index
   * among all chunks of the message. A caller that may resend counts these.
   */
  onChunkDone?: (index: number, total: number) => void;
}

export interface SwitchboardConnectOptions {
  host: string;
  port: number;
  cookie: string;
  /** Our own address, as the server spelled it at login. */
  email: string;
  dialect: Dialect;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  logger?: MsnLogger;
  maxPayloadBytes?: number;
}

/** `email;{guid}` (MSNP16+ endpoints) → `email`. */
export function stripEndpoint(handle: string): string {
  const semicolon = handle.indexOf(";");
  return semicolon === -1 ? handle : handle.slice(0, semicolon);
}

interface Participant {
  email: string;
  name: string;
}

/**
 * Most participants a switchboard tracks: far beyond any real conversation, but a server flooding
 * `JOI`/`IRO` with new addresses must not grow the session's memory (or its `join` events) without bound.
 */
export const MAX_SWITCHBOARD_MEMBERS = 1_000;

export class SwitchboardSession extends TypedEventEmitter<SwitchboardEvents> {
  private readonly connection: MsnConnection;
  private readonly ownEmail: string;
  private readonly logger: MsnLogger;
  private readonly requestTimeoutMs: number;
  private readonly members = new Map<string, Participant>();
  private memberLimitLogged = false;
  private session: string | null;
  private closeReason: { reason: SwitchboardCloseReason; error?: Error } | null = null;
  private closing = false;
  /** Serialises outgoing messages so chunks of two messages never interleave. */
  private sendChain: Promise<unknown> = Promise.resolve();

  private constructor(
    connection: MsnConnection,
    options: SwitchboardConnectOptions,
    sessionId: string | null,
  ) {
    super();
    this.connection = connection;
    this.ownEmail = options.email;
    this.logger = options.logger ?? NULL_LOGGER;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.session = sessionId;
    this.holdEvents();
    connection.on("command", (command) => this.onCommand(command));
    connection.on("close", ({ error }) => this.onConnectionClose(error));
  }

  private static async open(
    options: SwitchboardConnectOptions,
    sessionId: string | null,
  ): Promise<SwitchboardSession> {
    const connection = await MsnConnection.connect({
      host: options.host,
      port: options.port,
      connectTimeoutMs: options.connectTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
      logger: options.logger,
      label: "SB",
      decoder:
        options.maxPayloadBytes === undefined ? undefined : { maxPayloadBytes: options.maxPayloadBytes },
    });
    return new SwitchboardSession(connection, options, sessionId);
  }

  /** Connects to a switchboard obtained with `XFR SB` and authenticates (`USR`). */
  static async connectAsCaller(options: SwitchboardConnectOptions): Promise<SwitchboardSession> {
    const sb = await SwitchboardSession.open(options, null);
    try {
      const reply = await sb.connection.request(
        "USR",
        [options.dialect.switchboardHandle(options.email), options.cookie],
        undefined,
        { sensitive: true },
      );
      if (reply.args[1] !== "OK")
        throw new MsnProtocolError(`unexpected switchboard USR reply: ${reply.args.join(" ")}`);
      sb.releaseEventsSoon();
      return sb;
    } catch (error) {
      sb.abort(error);
      throw error;
    }
  }

  /** Joins a session we were invited to (`RNG`): `ANS`, then the `IRO` roster, then `ANS OK`. */
  static async connectAsAnswerer(
    options: SwitchboardConnectOptions & { sessionId: string },
  ): Promise<SwitchboardSession> {
    const sb = await SwitchboardSession.open(options, options.sessionId);
    try {
      const reply = await sb.connection.request(
        "ANS",
        [options.dialect.switchboardHandle(options.email), options.cookie, options.sessionId],
        undefined,
        { sensitive: true },
      );
      if (reply.args[1] !== "OK")
        throw new MsnProtocolError(`unexpected switchboard ANS reply: ${reply.args.join(" ")}`);
      sb.releaseEventsSoon();
      return sb;
    } catch (error) {
      sb.abort(error);
      throw error;
    }
  }

  /** Session id (from `RNG`, or from the first `CAL … RINGING`); null before the first invite. */
  get sessionId(): string | null {
    return this.session;
  }

  /** Everyone in the session except us: lower-cased address → friendly name. */
  get participants(): ReadonlyMap<string, string> {
    return new Map([...this.members].map(([key, p]) => [key, p.name]));
  }

  /** The address of a participant as the server spells it (keys of `participants` are lower-cased). */
  participantEmail(email: string): string | undefined {
    return this.members.get(stripEndpoint(email).toLowerCase())?.email;
  }

  hasParticipant(email: string): boolean {
    return this.members.has(stripEndpoint(email).toLowerCase());
  }

  get isClosed(): boolean {
    return this.closeReason !== null;
  }

  /** Our own address in this session. */
  get email(): string {
    return this.ownEmail;
  }

  /**
   * Invites a contact (`CAL`). Resolves when the server rings them — not when they join; use
   * {@link waitForJoin}. Rejects with `MsnServerError` (217 offline, 208 bad address, 215 already here).
   */
  async invite(email: string): Promise<void> {
    validateEmail(email);
    const reply = await this.connection.request("CAL", [email]);
    if (reply.args[1] !== "RINGING") {
      throw new MsnProtocolError(`unexpected CAL reply: ${reply.args.join(" ")}`);
    }
    const sessionId = reply.args[2];
    if (sessionId && this.session === null) this.session = sessionId;
  }

  /** Resolves once `email` is in the session; rejects with MsnTimeoutError or MsnConnectionClosedError. */
  waitForJoin(email: string, timeoutMs: number): Promise<void> {
    if (this.hasParticipant(email)) return Promise.resolve();
    if (this.closeReason) {
      return Promise.reject(new MsnConnectionClosedError("switchboard is closed"));
    }
    const wanted = stripEndpoint(email).toLowerCase();
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off("join", onJoin);
        this.off("closed", onClosed);
      };
      const onJoin = (event: { email: string }): void => {
        if (event.email.toLowerCase() !== wanted) return;
        cleanup();
        resolve();
      };
      const onClosed = (): void => {
        cleanup();
        reject(new MsnConnectionClosedError(`switchboard closed before ${email} joined`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new MsnTimeoutError(`waiting for ${email} to join`, timeoutMs));
      }, timeoutMs);
      this.on("join", onJoin);
      this.on("closed", onClosed);
    });
  }

  /**
   * Sends a text message, split into as many `MSG`s as the 1664-byte limit requires (in order,
   * never interleaved with other messages). Resolves with the TrIDs used. With ack `A` each chunk
   * waits for its ACK and a NAK rejects with {@link MsnDeliveryError}; with `N` a later NAK is
   * reported as `deliveryFailed`.
   */
  sendText(text: string, options: SendTextOptions = {}): Promise<number[]> {
    const ack = options.ack ?? "N";
    if (ack !== "U" && ack !== "N" && ack !== "A") {
      return Promise.reject(new MsnArgumentError(`invalid ack mode ${JSON.stringify(ack)}`));
    }
    let payloads: Buffer[];
    try {
      const headers = textMessageHeaders(options.format);
      // A lone surrogate (possible in JSON from Matrix) has no UTF-8 form; send U+FFFD rather
      // than losing the whole message.
      const wellFormed = text.replace(LONE_SURROGATE, "\ufffd");
      payloads = splitMessageText(wellFormed, { format: options.format }).map((body) =>
        buildMime(headers, body),
      );
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const ackTimeoutMs = options.ackTimeoutMs ?? this.requestTimeoutMs;
    const skip = options.skipChunks ?? 0;
    if (!Number.isInteger(skip) || skip < 0) {
      return Promise.reject(new MsnArgumentError(`invalid skipChunks ${skip}`));
    }
    return this.enqueue(async () => {
      const trIds: number[] = [];
      for (let i = skip; i < payloads.length; i++) {
        trIds.push(await this.sendPayload(payloads[i]!, ack, ackTimeoutMs));
        options.onChunkDone?.(i, payloads.length);
      }
      return trIds;
    });
  }

  /** Typing notification (ack `U`). Repeat every few seconds while typing; receivers time it out. */
  sendTyping(typingUser: string = this.ownEmail): void {
    this.connection.send("MSG", ["U"], buildTypingMessage(typingUser), { withTrId: true });
  }

  /** Sends a nudge (datacast `ID: 1`). */
  sendNudge(): Promise<void> {
    return this.enqueue(async () => {
      await this.sendPayload(buildNudgeMessage(), "N", this.requestTimeoutMs);
    });
  }

  /** Leaves the session (`OUT`) and closes the connection. Idempotent. */
  close(): Promise<void> {
    if (this.closeReason) return Promise.resolve();
    if (!this.closing) {
      this.closing = true;
      try {
        this.connection.send("OUT", []);
      } catch {
        // Already closing: nothing to say goodbye on.
      }
    }
    return this.connection.close();
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.sendChain.then(task, task);
    this.sendChain = run.catch(() => undefined);
    return run;
  }

  private async sendPayload(payload: Buffer, ack: AckMode, ackTimeoutMs: number): Promise<number> {
    if (payload.length > MAX_MSG_PAYLOAD_BYTES) {
      // The server would drop the whole connection; refuse here instead.
      throw new MsnArgumentError(`MSG payload of ${payload.length} bytes exceeds ${MAX_MSG_PAYLOAD_BYTES}`);
    }
    if (ack !== "A") {
      const trId = this.connection.send("MSG", [ack], payload, { withTrId: true });
      return trId ?? 0;
    }
    let sentTrId = 0;
    const reply = await this.connection.request("MSG", ["A"], payload, {
      replyNames: ["ACK", "NAK"],
      timeoutMs: ackTimeoutMs,
      onTrId: (trId) => {
        sentTrId = trId;
      },
    });
    if (reply.name === "NAK") throw new MsnDeliveryError(sentTrId);
    return sentTrId;
  }

  private onCommand(command: MsnCommand): void {
    switch (command.name) {
      case "MSG":
        this.onMessage(command);
        break;
      case "JOI":
        this.onJoin(command.args[0], command.args[1], true);
        break;
      case "IRO":
        // trid index total email name [client-id]
        this.onJoin(command.args[3], command.args[4], false);
        break;
      case "BYE":
        this.onBye(command.args);
        break;
      case "NAK": {
        const trId = Number(command.args[0]);
        if (Number.isInteger(trId)) this.emit("deliveryFailed", { trId });
        break;
      }
      case "ACK":
        break; // late ACK after an `A` wait timed out, or for `N`/`D` messages: nothing to do
      case "OUT":
        this.shutdown({ reason: "server-out" });
        break;
      default:
        if (/^\d{3}$/.test(command.name)) {
          this.logger.warn("SB error reply without a pending request", {
            code: command.name,
            args: command.args,
          });
        } else {
          this.logger.debug("SB ignoring unexpected command", { command: command.name });
        }
    }
  }

  private onJoin(handle: string | undefined, encodedName: string | undefined, announce: boolean): void {
    if (!handle) return;
    const email = stripEndpoint(handle);
    if (email.toLowerCase() === this.ownEmail.toLowerCase()) return; // our own other endpoints (MSNP16+)
    const key = email.toLowerCase();
    const name = encodedName === undefined ? email : decodeParam(encodedName) || email;
    const known = this.members.has(key);
    if (!known && this.members.size >= MAX_SWITCHBOARD_MEMBERS) {
      if (!this.memberLimitLogged) {
        this.memberLimitLogged = true;
        this.logger.warn("switchboard participant limit reached; ignoring further joins", {
          limit: MAX_SWITCHBOARD_MEMBERS,
        });
      }
      return;
    }
    this.members.set(key, { email: this.members.get(key)?.email ?? email, name });
    if (!known && announce) this.emit("join", { email, name });
  }

  private onBye(args: readonly string[]): void {
    const handle = args[0];
    if (!handle) return;
    const email = stripEndpoint(handle);
    const key = email.toLowerCase();
    const member = this.members.get(key);
    if (!member) return;
    this.members.delete(key);
    this.emit("leave", { email: member.email, idle: args[1] === "1" });
  }

  private onMessage(command: MsnCommand): void {
    const handle = command.args[0];
    if (!handle || !command.payload) return;
    const from = stripEndpoint(handle);
    const fromName = command.args[1] === undefined ? from : decodeParam(command.args[1]) || from;
    const content = classifyMessage(command.payload);
    switch (content.kind) {
      case "text":
        this.emit(
          "message",
          content.format
            ? { from, fromName, text: content.text, format: content.format }
            : { from, fromName, text: content.text },
        );
        break;
      case "typing":
        // Trust the authenticated sender, not the TypingUser header a client wrote itself.
        this.emit("typing", { from });
        break;
      case "nudge":
        this.emit("nudge", { from, fromName });
        break;
      case "keepalive":
      case "clientcaps":
        break;
      default:
        this.emit("unsupported", {
          from,
          fromName,
          contentType: content.contentType,
          kind: content.kind,
          content,
        });
    }
  }

  private onConnectionClose(error: Error | null): void {
    if (this.closing) {
      this.shutdown({ reason: "local" });
    } else if (error instanceof FramingError) {
      this.shutdown({ reason: "protocol-error", error });
    } else if (error) {
      this.shutdown({ reason: "socket-error", error });
    } else {
      this.shutdown({ reason: "socket-closed" });
    }
  }

  /** Used when authentication fails: the caller gets the error, nobody has seen the session. */
  private abort(error: unknown): void {
    this.closeReason = { reason: "protocol-error", error: error instanceof Error ? error : undefined };
    this.connection.destroy();
  }

  private shutdown(reason: { reason: SwitchboardCloseReason; error?: Error }): void {
    if (this.closeReason) return;
    this.closeReason = reason;
    this.connection.destroy();
    this.members.clear();
    this.logger.debug("switchboard closed", {
      reason: reason.reason,
      ...(reason.error ? errorMeta(reason.error) : {}),
    });
    this.emit("closed", reason);
  }

  protected override onListenerError(event: string, error: unknown): void {
    this.logger.error(`switchboard listener for ${event} threw`, errorMeta(error));
  }
}
