/**
 * One MSNP TCP connection (NS or SB): framing, TrID allocation, request/reply matching by TrID,
 * timeouts on everything, and a single ordered writer so commands never interleave.
 */
import net from "node:net";
import { CommandDecoder, encodeCommand, type DecoderOptions, type MsnCommand } from "./framing.js";
import {
  FramingError,
  MsnConnectionClosedError,
  MsnError,
  MsnNetworkError,
  MsnServerError,
  MsnTimeoutError,
} from "./errors.js";
import { NULL_LOGGER, TypedEventEmitter, errorMeta, type MsnLogger } from "./events.js";
import { commandCarriesTrId } from "./dialect.js";

export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
const MAX_TRID = 0xffffffff;
/** How long `close()` waits for the peer to finish the TCP close before destroying the socket. */
const CLOSE_GRACE_MS = 2_000;
/** Outgoing bytes queued in the socket beyond which the peer is considered stuck. */
const MAX_WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

export interface ConnectionOptions {
  host: string;
  port: number;
  connectTimeoutMs?: number;
  /** Default timeout of {@link MsnConnection.request}. */
  requestTimeoutMs?: number;
  decoder?: DecoderOptions;
  /** Which incoming commands carry a TrID as first argument. */
  carriesTrId?: (name: string) => boolean;
  logger?: MsnLogger;
  /** Prefix for log lines, e.g. `NS` or `SB`. */
  label?: string;
}

export interface RequestOptions {
  timeoutMs?: number;
  /**
   * Command names that complete the request (default: the request's own name). Other commands
   * that carry the same TrID (`LST` during `SYN`, `IRO` during `ANS`) are emitted as `command`.
   */
  replyNames?: readonly string[];
  /** Do not log the arguments (password hashes, cookies). */
  sensitive?: boolean;
  /**
   * Called with the allocated TrID just before the command is written, so the caller can route
   * same-TrID lines (which may arrive in the same read as the reply) before the promise settles.
   */
  onTrId?: (trId: number) => void;
  /**
   * Called synchronously with the reply before the promise resolves, so state changes it carries
   * are applied before any command that follows it in the same read (e.g. `ADD` then `ILN`).
   */
  onReply?: (reply: MsnCommand) => void;
}

export interface ConnectionEvents {
  /** A command that is not the reply to a pending request. */
  command: MsnCommand;
  /** The connection is gone; `error` is set when it ended abnormally. */
  close: { error: Error | null };
}

interface Pending {
  name: string;
  replyNames: readonly string[];
  onReply: ((reply: MsnCommand) => void) | undefined;
  resolve: (command: MsnCommand) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** Redacts cookies (`CKI <cookie>`) from logged incoming lines. */
function describeIncoming(command: MsnCommand): string {
  const args = command.args.map((arg, i, all) => (all[i - 1] === "CKI" ? "<cookie>" : arg));
  const payload = command.payload ? ` +${command.payload.length}B` : "";
  return `${command.name} ${args.join(" ")}${payload}`.trimEnd();
}

export class MsnConnection extends TypedEventEmitter<ConnectionEvents> {
  private readonly socket: net.Socket;
  private readonly decoder: CommandDecoder;
  private readonly pending = new Map<number, Pending>();
  private readonly carriesTrId: (name: string) => boolean;
  private readonly logger: MsnLogger;
  private readonly label: string;
  private readonly defaultTimeoutMs: number;
  private nextTrId = 1;
  private closedWith: { error: Error | null } | null = null;
  private closeTimer: NodeJS.Timeout | null = null;

  private constructor(socket: net.Socket, options: ConnectionOptions) {
    super();
    this.socket = socket;
    this.decoder = new CommandDecoder(options.decoder);
    this.carriesTrId = options.carriesTrId ?? commandCarriesTrId;
    this.logger = options.logger ?? NULL_LOGGER;
    this.label = options.label ?? "MSN";
    this.defaultTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;

    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) =>
      this.terminate(new MsnNetworkError(`${this.label} connection failed: ${error.message}`, error)),
    );
    // The peer finished sending; nothing more can arrive, so the connection is over.
    socket.on("end", () => this.terminate(null));
    socket.on("close", () => this.terminate(null));
  }

  /** Opens a TCP connection; rejects with {@link MsnTimeoutError} or {@link MsnNetworkError}. */
  static connect(options: ConnectionOptions): Promise<MsnConnection> {
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new MsnTimeoutError(`connect ${options.host}:${options.port}`, timeoutMs));
      }, timeoutMs);
      const onError = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(
          error instanceof MsnError
            ? error
            : new MsnNetworkError(
                `cannot connect to ${options.host}:${options.port}: ${error.message}`,
                error,
              ),
        );
      };
      socket.once("error", onError);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(new MsnConnection(socket, options));
      });
    });
  }

  get isClosed(): boolean {
    return this.closedWith !== null;
  }

  get remoteAddress(): string {
    return `${this.socket.remoteAddress ?? "?"}:${this.socket.remotePort ?? "?"}`;
  }

  private allocateTrId(): number {
    const trId = this.nextTrId;
    // Wrap within 1…2^32−1; after four billion commands the early ones are long settled.
    this.nextTrId = trId >= MAX_TRID ? 1 : trId + 1;
    return trId;
  }

  /**
   * Sends a command with a fresh TrID and resolves with the reply carrying that TrID. A numeric
   * error with that TrID rejects with {@link MsnServerError}; silence rejects with
   * {@link MsnTimeoutError}; a closed connection with {@link MsnConnectionClosedError}.
   */
  request(
    name: string,
    args: readonly string[],
    payload?: Uint8Array | string,
    options: RequestOptions = {},
  ): Promise<MsnCommand> {
    if (this.closedWith) {
      return Promise.reject(
        new MsnConnectionClosedError(`${this.label} connection is closed; cannot send ${name}`),
      );
    }
    const trId = this.allocateTrId();
    let bytes: Buffer;
    try {
      bytes = encodeCommand(name, trId, args, payload);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise<MsnCommand>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(trId);
        reject(new MsnTimeoutError(`${name} ${trId}`, timeoutMs));
      }, timeoutMs);
      this.pending.set(trId, {
        name,
        replyNames: options.replyNames ?? [name],
        onReply: options.onReply,
        resolve,
        reject,
        timer,
      });
      options.onTrId?.(trId);
      this.write(bytes, name, trId, args, options.sensitive ?? false);
    });
  }

  /**
   * Sends a command without waiting for a reply. With `withTrId` a TrID is allocated and returned
   * (for `MSG … N` whose later `NAK` must be correlated); otherwise none is sent (`PNG`, `OUT`).
   */
  send(
    name: string,
    args: readonly string[],
    payload?: Uint8Array | string,
    options: { withTrId?: boolean; sensitive?: boolean } = {},
  ): number | null {
    if (this.closedWith) {
      throw new MsnConnectionClosedError(`${this.label} connection is closed; cannot send ${name}`);
    }
    const trId = options.withTrId ? this.allocateTrId() : null;
    const bytes = encodeCommand(name, trId, args, payload);
    this.write(bytes, name, trId, args, options.sensitive ?? false);
    return trId;
  }

  private write(
    bytes: Buffer,
    name: string,
    trId: number | null,
    args: readonly string[],
    sensitive: boolean,
  ): void {
    const shown = sensitive ? "<redacted>" : args.join(" ");
    this.logger.debug(`${this.label} >> ${name}${trId === null ? "" : ` ${trId}`} ${shown}`.trimEnd(), {
      bytes: bytes.length,
    });
    // A peer that stops reading must not make us buffer without bound.
    if (this.socket.writableLength + bytes.length > MAX_WRITE_BUFFER_BYTES) {
      this.destroy(new MsnConnectionClosedError(`${this.label} peer is not reading; write buffer full`));
      throw new MsnConnectionClosedError(`${this.label} connection closed: write buffer full`);
    }
    // One write per command: Node queues whole buffers in order, so commands never interleave.
    this.socket.write(bytes);
  }

  private onData(chunk: Buffer): void {
    if (this.closedWith) return;
    let commands: MsnCommand[];
    try {
      commands = this.decoder.push(chunk);
    } catch (error) {
      const framing =
        error instanceof FramingError
          ? error
          : new FramingError("decoder-failed", `decoder failed: ${String(error)}`);
      this.logger.warn(`${this.label} framing error; closing connection`, errorMeta(framing));
      this.destroy(framing);
      return;
    }
    for (const command of commands) {
      if (this.closedWith) return;
      this.dispatch(command);
    }
  }

  private dispatch(command: MsnCommand): void {
    this.logger.debug(`${this.label} << ${describeIncoming(command)}`);
    const first = command.args[0];
    if (first !== undefined && /^\d{1,10}$/.test(first) && this.carriesTrId(command.name)) {
      const trId = Number(first);
      const pending = this.pending.get(trId);
      if (pending) {
        if (/^\d{3}$/.test(command.name)) {
          this.settle(trId, pending);
          pending.reject(new MsnServerError(Number(command.name), pending.name, trId));
          return;
        }
        if (pending.replyNames.includes(command.name)) {
          this.settle(trId, pending);
          try {
            pending.onReply?.(command);
          } catch (error) {
            pending.reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          pending.resolve(command);
          return;
        }
      }
    }
    this.emit("command", command);
  }

  private settle(trId: number, pending: Pending): void {
    clearTimeout(pending.timer);
    this.pending.delete(trId);
  }

  /** Ends the connection gracefully (our FIN first); resolves once the socket is closed. */
  close(): Promise<void> {
    if (this.closedWith) return Promise.resolve();
    return new Promise((resolve) => {
      this.once("close", () => resolve());
      this.socket.end();
      // A peer that never closes its side must not keep us waiting forever.
      this.closeTimer = setTimeout(() => this.destroy(null), CLOSE_GRACE_MS);
      this.closeTimer.unref();
    });
  }

  /** Tears the connection down at once; pending requests reject. */
  destroy(error: Error | null = null): void {
    this.terminate(error);
    this.socket.destroy();
  }

  private terminate(error: Error | null): void {
    if (this.closedWith) return;
    this.closedWith = { error };
    if (this.closeTimer) clearTimeout(this.closeTimer);
    if (!this.socket.destroyed) this.socket.destroy();
    const cause = error ? `: ${error.message}` : "";
    for (const [trId, pending] of this.pending) {
      this.settle(trId, pending);
      pending.reject(
        new MsnConnectionClosedError(
          `${this.label} connection closed before the reply to ${pending.name} ${trId}${cause}`,
        ),
      );
    }
    this.emit("close", { error });
  }

  protected override onListenerError(event: string, error: unknown): void {
    this.logger.error(`${this.label} listener for ${event} threw`, errorMeta(error));
  }
}
