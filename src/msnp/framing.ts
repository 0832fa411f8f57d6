/**
 * MSNP wire framing: CRLF-terminated command lines, some followed by a byte-counted payload
 * (msnp.md §1). The decoder is incremental and bounded; the encoder refuses anything that could
 * smuggle extra commands or break the server's parser.
 */
import { isUtf8 } from "node:buffer";
import { FramingError, MsnArgumentError } from "./errors.js";

/** One command as it appeared on the wire. `args` excludes the name; TrIDs are left in `args`. */
export interface MsnCommand {
  name: string;
  args: string[];
  payload: Buffer | null;
}

/**
 * Server→client commands that may carry a payload. For these, a payload follows only when the last
 * token is all digits (`ADL 5 OK` and `UUX 7 0` style replies exist).
 */
export const SERVER_PAYLOAD_COMMANDS: ReadonlySet<string> = new Set([
  "MSG",
  "NOT",
  "UBX",
  "GCF",
  "ADL",
  "RML",
  "FQY",
  "UBN",
  "NFY",
  "SDG",
  "IPG",
]);

/**
 * Of those, the ones that always carry a payload. A non-numeric length on these means the stream
 * is corrupt (we would otherwise read the payload bytes as command lines).
 */
const MANDATORY_PAYLOAD_COMMANDS: ReadonlySet<string> = new Set(["MSG", "NOT", "UBX", "UBN", "NFY", "IPG"]);

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

export interface DecoderOptions {
  /** Longest accepted command line in bytes, excluding the terminator. */
  maxLineBytes?: number;
  /** Largest accepted payload in bytes. */
  maxPayloadBytes?: number;
  /** Commands that may carry a payload; defaults to {@link SERVER_PAYLOAD_COMMANDS}. */
  payloadCommands?: ReadonlySet<string>;
}

const LF = 0x0a;
const CR = 0x0d;
const NAME_PATTERN = /^[A-Z0-9]{3}$/;
const DIGITS = /^\d+$/;

/**
 * Incremental decoder: feed it whatever TCP delivers, get back the complete commands. After it has
 * thrown a {@link FramingError} it stays failed (the stream position is lost), so the connection
 * must be dropped.
 */
export class CommandDecoder {
  private readonly maxLineBytes: number;
  private readonly maxPayloadBytes: number;
  private readonly payloadCommands: ReadonlySet<string>;

  /**
   * The start of a command line whose LF has not arrived yet, one piece per read. Joined once when
   * the LF comes: re-concatenating on every read would cost O(n²) for a line trickled in byte by
   * byte (a 16 KiB line sent one byte per segment took ~200 ms of CPU).
   */
  private partialLine: Buffer[] = [];
  private partialLength = 0;
  /** Set while a payload command's line is parsed and its payload bytes are still arriving. */
  private pendingCommand: { name: string; args: string[]; length: number } | null = null;
  private payloadChunks: Buffer[] = [];
  private payloadReceived = 0;
  private failure: FramingError | null = null;

  constructor(options: DecoderOptions = {}) {
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.payloadCommands = options.payloadCommands ?? SERVER_PAYLOAD_COMMANDS;
  }

  /** Bytes currently held by the decoder (for tests and diagnostics). */
  get bufferedBytes(): number {
    return this.partialLength + this.payloadReceived;
  }

  push(chunk: Uint8Array): MsnCommand[] {
    if (this.failure) {
      throw new FramingError("decoder-failed", `decoder already failed: ${this.failure.message}`);
    }
    try {
      return this.consume(chunk);
    } catch (error) {
      if (error instanceof FramingError) {
        this.failure = error;
        this.partialLine = [];
        this.partialLength = 0;
        this.pendingCommand = null;
        this.payloadChunks = [];
        this.payloadReceived = 0;
      }
      throw error;
    }
  }

  private consume(chunk: Uint8Array): MsnCommand[] {
    const out: MsnCommand[] = [];
    let data: Buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);

    while (data.length > 0) {
      if (this.pendingCommand) {
        // Payload bytes are collected as separate chunks so a large payload arriving in many reads
        // is copied once, not once per read.
        const pending = this.pendingCommand;
        const take = Math.min(pending.length - this.payloadReceived, data.length);
        if (take > 0) {
          this.payloadChunks.push(data.subarray(0, take));
          this.payloadReceived += take;
          data = data.subarray(take);
        }
        if (this.payloadReceived < pending.length) break;
        const payload = Buffer.concat(this.payloadChunks, pending.length);
        out.push({ name: pending.name, args: pending.args, payload });
        this.pendingCommand = null;
        this.payloadChunks = [];
        this.payloadReceived = 0;
        continue;
      }

      const lf = data.indexOf(LF);
      if (lf === -1) {
        // Copied, so a small piece never pins the caller's (possibly much larger) read buffer.
        this.partialLine.push(Buffer.from(data));
        this.partialLength += data.length;
        // +1: the CR of a maximal line may already be here while its LF is still in flight.
        if (this.partialLength > this.maxLineBytes + 1) {
          throw new FramingError(
            "line-too-long",
            `command line exceeds ${this.maxLineBytes} bytes without a line terminator`,
          );
        }
        break;
      }
      const total = this.partialLength + lf;
      // Checked before joining, so an overlong line is never copied. `total` includes the CR, if any.
      if (total > this.maxLineBytes + 1) {
        throw new FramingError(
          "line-too-long",
          `command line of ${total} bytes exceeds ${this.maxLineBytes}`,
        );
      }
      let line = data.subarray(0, lf);
      if (this.partialLength > 0) {
        line = Buffer.concat([...this.partialLine, line], total);
        this.partialLine = [];
        this.partialLength = 0;
      }
      // Whatever follows the line (payload or next command) stays in `data` for the next round.
      data = data.subarray(lf + 1);
      const lineEnd = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
      if (lineEnd > this.maxLineBytes) {
        throw new FramingError(
          "line-too-long",
          `command line of ${lineEnd} bytes exceeds ${this.maxLineBytes}`,
        );
      }
      if (lineEnd === 0) continue; // tolerate blank lines
      const command = this.parseLine(line.subarray(0, lineEnd));
      if (command) out.push(command);
    }
    return out;
  }

  /** Returns the command, or null when it is a payload command whose payload is still to come. */
  private parseLine(lineBytes: Buffer): MsnCommand | null {
    if (!isUtf8(lineBytes)) {
      throw new FramingError("invalid-utf8", "command line is not valid UTF-8");
    }
    const tokens = lineBytes.toString("utf8").split(" ");
    const name = tokens[0] ?? "";
    if (!NAME_PATTERN.test(name)) {
      throw new FramingError("malformed-line", `malformed command name ${JSON.stringify(name.slice(0, 16))}`);
    }
    const args = tokens.slice(1);
    if (!this.payloadCommands.has(name)) {
      return { name, args, payload: null };
    }
    const last = args.at(-1) ?? "";
    if (!DIGITS.test(last)) {
      if (MANDATORY_PAYLOAD_COMMANDS.has(name)) {
        throw new FramingError(
          "bad-length",
          `${name} without a valid payload length: ${JSON.stringify(last)}`,
        );
      }
      return { name, args, payload: null };
    }
    // Compare as a number only once it is known to be short enough to be exact.
    const digits = last.replace(/^0+(?=\d)/, "");
    const length = digits.length > 15 ? Number.POSITIVE_INFINITY : Number(digits);
    if (length > this.maxPayloadBytes) {
      throw new FramingError(
        "payload-too-large",
        `${name} payload of ${last} bytes exceeds the limit of ${this.maxPayloadBytes}`,
      );
    }
    const commandArgs = args.slice(0, -1);
    if (length === 0) {
      return { name, args: commandArgs, payload: Buffer.alloc(0) };
    }
    this.pendingCommand = { name, args: commandArgs, length };
    return null;
  }
}

/**
 * Characters that must never appear inside a command argument: separators, line breaks and any
 * control character (C0, DEL, C1).
 */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_ARG_CHARS = /[\u0000-\u0020\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Throws {@link MsnArgumentError} unless `value` can be sent as a single command argument. */
export function assertValidArgument(value: string, what = "argument"): void {
  if (value.length === 0) {
    throw new MsnArgumentError(`${what} must not be empty`);
  }
  const bad = FORBIDDEN_ARG_CHARS.exec(value);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).padStart(4, "0");
    throw new MsnArgumentError(`${what} contains a forbidden character U+${code}`);
  }
  if (LONE_SURROGATE.test(value)) {
    throw new MsnArgumentError(`${what} contains a lone surrogate (not encodable as UTF-8)`);
  }
}

/**
 * Encodes one client command. `trId` null means the command carries none (`PNG`, `OUT`). When a
 * payload is given its UTF-8 byte length is appended as the last argument and the payload follows
 * the CRLF directly.
 */
export function encodeCommand(
  name: string,
  trId: number | null,
  args: readonly string[],
  payload?: Uint8Array | string,
): Buffer {
  if (!/^[A-Z]{3}$/.test(name)) {
    throw new MsnArgumentError(`invalid command name ${JSON.stringify(name)}`);
  }
  const parts = [name];
  if (trId !== null) {
    if (!Number.isInteger(trId) || trId < 0 || trId > 0xffffffff) {
      throw new MsnArgumentError(`invalid transaction id ${trId}`);
    }
    parts.push(String(trId));
  }
  for (const arg of args) {
    assertValidArgument(arg, `${name} argument`);
    parts.push(arg);
  }
  let body: Buffer | null = null;
  if (payload !== undefined) {
    if (typeof payload === "string") {
      if (LONE_SURROGATE.test(payload)) {
        throw new MsnArgumentError(`${name} payload contains a lone surrogate (not encodable as UTF-8)`);
      }
      body = Buffer.from(payload, "utf8");
    } else {
      body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    }
    parts.push(String(body.length));
  }
  const line = Buffer.from(`${parts.join(" ")}\r\n`, "utf8");
  return body ? Buffer.concat([line, body]) : line;
}
