import type { Socket } from "node:net";

import type { TimerRegistry } from "../timers.js";
import { CommandReader, type FramingError, type FramingLimits, type InboundCommand } from "./framing.js";

/** A token of an outgoing command line; callers encode parameters themselves (see percent.ts). */
export type Token = string | number;

export type ConnectionKind = "ns" | "sb";

/** What a reply rule decided for one outgoing line. */
export type ReplyDecision =
  | { readonly action: "send" }
  | { readonly action: "drop" }
  | { readonly action: "delay"; readonly ms: number };

/** The server-side hooks a connection reports to. */
export interface ConnectionObserver {
  inbound(conn: MsnpConnection, cmd: InboundCommand): void;
  outbound(conn: MsnpConnection, line: string, payload: Buffer | undefined, decision: ReplyDecision): void;
  /** Decides whether an outgoing line is sent, dropped or delayed (test switches). */
  decide(conn: MsnpConnection, line: string, request: InboundCommand | undefined): ReplyDecision;
  framingError(conn: MsnpConnection, error: FramingError): void;
  handlerError(conn: MsnpConnection, cmd: InboundCommand, error: unknown): void;
}

/**
 * One client TCP connection speaking MSNP (NS or SB). Owns the socket, the reader and the
 * bookkeeping every handler needs: which command is being answered right now (for reply rules),
 * and a close that runs the session cleanup exactly once, whether the server or the peer ends it.
 */
export class MsnpConnection {
  /** The account this connection acts for, once known (USR I on the NS, USR/ANS on the SB). */
  email: string | undefined;
  /** Handles each received command; set by the session (NS or SB) that owns the connection. */
  handler: ((cmd: InboundCommand) => void) | undefined;
  private readonly reader: CommandReader;
  private request: InboundCommand | undefined;
  private closedFlag = false;
  private muted = false;
  private readonly closeHandlers: (() => void)[] = [];

  constructor(
    readonly id: number,
    readonly kind: ConnectionKind,
    private readonly socket: Socket,
    limits: FramingLimits,
    private readonly observer: ConnectionObserver,
    private readonly timers: TimerRegistry,
  ) {
    this.reader = new CommandReader(limits);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => {
      // ECONNRESET and friends: the close handler below does the cleanup.
    });
    socket.on("close", () => this.markClosed());
    socket.on("end", () => this.close());
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? "";
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }

  /** Registers cleanup to run once when the connection ends for any reason. */
  onClose(handler: () => void): void {
    if (this.closedFlag) handler();
    else this.closeHandlers.push(handler);
  }

  /** Sends one command line (and payload, whose byte length is appended as the last token). */
  send(tokens: readonly Token[], payload?: Buffer): void {
    if (this.closedFlag || this.muted) return;
    const parts = tokens.map(String);
    if (payload !== undefined) parts.push(String(payload.length));
    const line = parts.join(" ");
    const decision = this.observer.decide(this, line, this.request);
    this.observer.outbound(this, line, payload, decision);
    if (decision.action === "drop") return;
    const bytes =
      payload === undefined
        ? Buffer.from(`${line}\r\n`)
        : Buffer.concat([Buffer.from(`${line}\r\n`), payload]);
    if (decision.action === "delay") {
      this.timers.set(() => this.write(bytes), decision.ms);
      return;
    }
    this.write(bytes);
  }

  /** Writes raw bytes, bypassing reply rules and recording (for tests that need broken output). */
  writeRaw(bytes: Buffer): void {
    this.write(bytes);
  }

  /** Ends the connection after flushing what was sent (the server "closes the connection"). */
  close(): void {
    if (this.closedFlag) return;
    this.markClosed();
    this.socket.end();
    // A peer that never closes its half must not keep the socket around forever.
    const fallback = setTimeout(() => this.socket.destroy(), 5000);
    fallback.unref();
    this.socket.once("close", () => clearTimeout(fallback));
  }

  /**
   * Stops all further output: used while the whole server goes down, so that the cleanup of one
   * connection (e.g. FLN to its watchers) does not write into sockets that are about to vanish.
   */
  mute(): void {
    this.muted = true;
  }

  /** Resolves once everything written so far has been handed to the OS (or the socket is gone). */
  flushed(): Promise<void> {
    if (this.socket.destroyed || this.socket.writableFinished || this.socket.writableLength === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => resolve();
      this.socket.once("drain", done);
      this.socket.once("finish", done);
      this.socket.once("close", done);
    });
  }

  /** Drops the connection at once without flushing (abrupt network loss as the peer sees it). */
  destroy(reset = false): void {
    this.markClosed();
    if (reset && !this.socket.destroyed) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  private write(bytes: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(bytes);
  }

  private onData(chunk: Buffer): void {
    if (this.closedFlag) return;
    const { commands, error } = this.reader.push(chunk);
    for (const cmd of commands) {
      if (this.closedFlag) return;
      this.observer.inbound(this, cmd);
      this.request = cmd;
      try {
        this.handler?.(cmd);
      } catch (err) {
        // Escargot logs handler exceptions and answers nothing; the connection lives on.
        this.observer.handlerError(this, cmd, err);
      } finally {
        this.request = undefined;
      }
    }
    if (error && !this.closedFlag) {
      this.observer.framingError(this, error);
      this.destroy();
    }
  }

  private markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const handler of this.closeHandlers.splice(0)) {
      try {
        handler();
      } catch {
        // Cleanup of one session must not prevent the others'.
      }
    }
  }
}
