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
const SPACE = 0x20;

/** Partial-line storage above this size is released once its line completes (memory per connection). */
const RETAINED_LINE_BUFFER_BYTES = 256;

/** `^[A-Z0-9]{3}$` without a regex: command names are checked on every line. */
function isCommandName(name: string): boolean {
  if (name.length !== 3) return false;
  for (let i = 0; i < 3; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39))) return false;
  }
  return true;
}

/** `^\d+$` (ASCII digits only). */
function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** A digit string's value, or +Infinity when it has more than 15 significant digits (not exact). */
function digitsValue(digits: string): number {
  let start = 0;
  while (start < digits.length - 1 && digits.charCodeAt(start) === 0x30) start++;
  if (digits.length - start > 15) return Number.POSITIVE_INFINITY;
  let value = 0;
  for (let i = start; i < digits.length; i++) value = value * 10 + (digits.charCodeAt(i) - 0x30);
  return value;
}

/** Whether a byte may appear in a command name (`[A-Z0-9]`). */
function isNameByte(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39);
}

/**
 * Command names seen so far, by their three bytes: every line then shares one string per name
 * instead of slicing a new one (cheaper to make, to look up in sets, to switch on). Bounded:
 * at most 36³ names exist, and past {@link MAX_INTERNED_NAMES} new ones are simply not kept.
 */
const internedNames = new Map<number, string>();
const MAX_INTERNED_NAMES = 1024;

function commandName(bytes: Buffer, start: number): string {
  const key =
    ((bytes[start] as number) << 16) | ((bytes[start + 1] as number) << 8) | (bytes[start + 2] as number);
  let name = internedNames.get(key);
  if (name === undefined) {
    name = bytes.toString("latin1", start, start + 3);
    if (internedNames.size < MAX_INTERNED_NAMES) internedNames.set(key, name);
  }
  return name;
}

/**
 * Decoded commands and their argument lists are built so that neither carries a V8 allocation
 * site (an object or array literal has one; a constructor call and `Array.prototype.slice` do not).
 * One read can hold hundreds of commands (a 64 KiB read: ~300), all alive until the caller has
 * handled the batch. Early in a process, while the young generation is still small, a scavenge
 * then finds nearly every command made at a literal still alive and V8 *pretenures* that literal:
 * from then on every command and argument list is allocated in the old space, where, dead or not,
 * it keeps the strings and payloads it points at alive through every scavenge until the next
 * full GC. On the parser bench with 64 KiB reads the first five or so 16 MiB passes then ran at a
 * quarter to half speed, with scavenges of 100–250 ms each promoting up to 16 MB; in the suite's
 * order it hit 4 of 10 processes at whichever chunk size was running
 * (`--trace-pretenuring-statistics`: sites at ratio 1.0, "undecided => tenure"; gone with
 * `--no-allocation-site-pretenuring`, and gone with this code). `new Array(n)` is tracked too.
 *
 * The prototype is Object.prototype, so a command is still the plain object {@link MsnCommand}
 * describes (equal to a literal under `assert.deepStrictEqual`, same JSON).
 */
const DecodedCommand = function (this: MsnCommand, name: string, args: string[], payload: Buffer | null) {
  this.name = name;
  this.args = args;
  this.payload = payload;
} as unknown as new (name: string, args: string[], payload: Buffer | null) => MsnCommand;
DecodedCommand.prototype = Object.prototype;

/**
 * Fields of the line being split; {@link splitArgs} returns a `slice` of it (see above for why not
 * a literal). It keeps the last line's fields until the next line overwrites them: at most one
 * command line's worth of strings (the line limit), shared by all decoders.
 */
const fieldScratch: string[] = [];

/** Splits on single spaces, keeping empty fields, like `split(" ")` (with which the parser bench ran ~10 % slower). */
function splitArgs(line: string, from: number): string[] {
  let count = 0;
  let start = from;
  for (;;) {
    const space = line.indexOf(" ", start);
    if (space === -1) {
      fieldScratch[count++] = line.slice(start);
      return fieldScratch.slice(0, count);
    }
    fieldScratch[count++] = line.slice(start, space);
    start = space + 1;
  }
}

/** Decodes `bytes[start, end)`, which must be valid UTF-8. */
function decodeLine(bytes: Buffer, start: number, end: number): string {
  const text = bytes.toString("utf8", start, end);
  // Invalid UTF-8 always decodes to at least one U+FFFD, so only text containing one (rare: valid
  // text may spell it too) needs the validator.
  if (text.includes("\uFFFD") && !isUtf8(bytes.subarray(start, end))) {
    throw new FramingError("invalid-utf8", "command line is not valid UTF-8");
  }
  return text;
}

/**
 * Incremental decoder: feed it whatever TCP delivers, get back the complete commands. After it has
 * thrown a {@link FramingError} it stays failed (the stream position is lost), so the connection
 * must be dropped.
 *
 * Lines and payloads that lie entirely inside one read are parsed in place: the only copy is the
 * payload's own buffer. Only the tail of a read (a line still waiting for its LF, a payload still
 * waiting for bytes) is kept between reads.
 */
export class CommandDecoder {
  private readonly maxLineBytes: number;
  private readonly maxPayloadBytes: number;
  private readonly payloadCommands: ReadonlySet<string>;

  /**
   * The start of a command line whose LF has not arrived yet, copied into one buffer that grows by
   * doubling up to the line limit. Appending is amortised O(1) per byte: re-concatenating on every
   * read cost O(n²) for a line trickled in byte by byte (a 16 KiB line sent one byte per segment
   * took ~200 ms of CPU). Copied so a small tail never pins the caller's read buffer.
   */
  private lineBuffer: Buffer | null = null;
  private lineLength = 0;
  /**
   * The payload command whose line is parsed and whose payload bytes are still arriving: name,
   * arguments (null while no payload is pending) and announced length. Fields, not one
   * `{ name, args, length }` object: such a literal, one per MSG, was pretenured in some processes
   * (see {@link DecodedCommand}), which promoted every MSG's arguments to the old space and halved
   * the parser bench's throughput for the whole run.
   */
  private pendingName = "";
  private pendingArgs: string[] | null = null;
  private pendingLength = 0;
  /** The pending payload's bytes so far (`payloadReceived` of them), in a buffer that grows. */
  private payloadBuffer: Buffer | null = null;
  private payloadReceived = 0;
  private failure: FramingError | null = null;

  constructor(options: DecoderOptions = {}) {
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.payloadCommands = options.payloadCommands ?? SERVER_PAYLOAD_COMMANDS;
  }

  /** Bytes currently held by the decoder (for tests and diagnostics). */
  get bufferedBytes(): number {
    return this.lineLength + this.payloadReceived;
  }

  push(chunk: Uint8Array): MsnCommand[] {
    if (this.failure) {
      throw new FramingError("decoder-failed", `decoder already failed: ${this.failure.message}`);
    }
    try {
      return this.consume(
        Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      );
    } catch (error) {
      if (error instanceof FramingError) {
        this.failure = error;
        this.lineBuffer = null;
        this.lineLength = 0;
        this.pendingArgs = null;
        this.payloadBuffer = null;
        this.payloadReceived = 0;
      }
      throw error;
    }
  }

  private consume(data: Buffer): MsnCommand[] {
    const out: MsnCommand[] = [];
    const end = data.length;
    let pos = 0;

    while (pos < end) {
      if (this.pendingArgs !== null) {
        pos = this.takePayload(data, pos, out);
        continue;
      }

      const lf = data.indexOf(LF, pos);
      if (lf === -1) {
        this.appendPartialLine(data, pos, end);
        break;
      }
      let command: MsnCommand | null;
      if (this.lineLength === 0) {
        this.checkLineLength(lf - pos);
        command = this.parseLine(data, pos, lf);
      } else {
        this.checkLineLength(this.lineLength + lf - pos);
        this.appendPartialLine(data, pos, lf);
        const line = this.lineBuffer as Buffer;
        const length = this.lineLength;
        this.lineLength = 0;
        command = this.parseLine(line, 0, length);
        if (line.length > RETAINED_LINE_BUFFER_BYTES) this.lineBuffer = null;
      }
      // Whatever follows the line (payload or next command) is handled in the next round.
      pos = lf + 1;
      if (command) out.push(command);
    }
    return out;
  }

  /** Consumes payload bytes from `data` at `pos`; returns the new position. */
  private takePayload(data: Buffer, pos: number, out: MsnCommand[]): number {
    const missing = this.pendingLength - this.payloadReceived;
    const available = data.length - pos;
    if (this.payloadReceived === 0 && available >= missing) {
      // The whole payload is in this read: one copy into its own buffer. A view would be cheaper
      // but would pin the whole read buffer for as long as the message is kept (e.g. queued
      // while the homeserver is down).
      const payload = Buffer.allocUnsafe(missing);
      data.copy(payload, 0, pos, pos + missing);
      this.finishPayload(payload, out);
      return pos + missing;
    }
    // A payload spread over reads is copied into a buffer that grows by doubling up to the
    // announced length: amortised O(1) per byte however it is split (a 1 MiB payload trickled in
    // 200k reads must not cost 200k objects), and memory follows what arrived, not what was
    // announced (a bare `MSG … 1048576` line does not reserve 1 MiB).
    const take = Math.min(missing, available);
    const received = this.payloadReceived + take;
    let buffer = this.payloadBuffer;
    if (buffer === null || buffer.length < received) {
      const grown = Buffer.allocUnsafe(
        Math.min(this.pendingLength, Math.max(received, 2 * (buffer?.length ?? 512))),
      );
      if (buffer !== null) buffer.copy(grown, 0, 0, this.payloadReceived);
      this.payloadBuffer = buffer = grown;
    }
    data.copy(buffer, this.payloadReceived, pos, pos + take);
    this.payloadReceived = received;
    if (take === missing) {
      // Grown up to exactly the announced length, so the buffer is the payload.
      this.payloadBuffer = null;
      this.payloadReceived = 0;
      this.finishPayload(buffer, out);
    }
    return pos + take;
  }

  private finishPayload(payload: Buffer, out: MsnCommand[]): void {
    out.push(new DecodedCommand(this.pendingName, this.pendingArgs as string[], payload));
    this.pendingArgs = null;
  }

  /** `length` counts the line's bytes before its LF, so it includes the CR, if any. */
  private checkLineLength(length: number): void {
    // +1: the CR of a maximal line. The exact length without the CR is checked in parseLine.
    if (length > this.maxLineBytes + 1) {
      throw new FramingError("line-too-long", `command line of ${length} bytes exceeds ${this.maxLineBytes}`);
    }
  }

  private appendPartialLine(data: Buffer, start: number, end: number): void {
    const needed = this.lineLength + (end - start);
    // +1: the CR of a maximal line may already be here while its LF is still in flight.
    if (needed > this.maxLineBytes + 1) {
      throw new FramingError(
        "line-too-long",
        `command line exceeds ${this.maxLineBytes} bytes without a line terminator`,
      );
    }
    let buffer = this.lineBuffer;
    if (buffer === null || buffer.length < needed) {
      const grown = Buffer.allocUnsafe(
        Math.min(this.maxLineBytes + 1, Math.max(needed, 2 * (buffer?.length ?? 64))),
      );
      if (buffer !== null && this.lineLength > 0) buffer.copy(grown, 0, 0, this.lineLength);
      this.lineBuffer = buffer = grown;
    }
    data.copy(buffer, this.lineLength, start, end);
    this.lineLength = needed;
  }

  /**
   * Parses the line `bytes[start, end)` (without its LF). Returns the command, or null when it is
   * a blank line or a payload command whose payload is still to come.
   */
  private parseLine(bytes: Buffer, start: number, end: number): MsnCommand | null {
    if (end > start && bytes[end - 1] === CR) end--;
    if (end - start > this.maxLineBytes) {
      throw new FramingError(
        "line-too-long",
        `command line of ${end - start} bytes exceeds ${this.maxLineBytes}`,
      );
    }
    if (end === start) return null; // tolerate blank lines

    // The usual line starts with a well-formed name and a space (or ends there): the name comes
    // from the bytes and only the arguments are decoded.
    const nameEnd = start + 3;
    let name: string;
    let args: string[];
    if (
      // (Bounds first: past `end` lie the terminator or, in the line buffer, stale bytes.)
      nameEnd <= end &&
      (nameEnd === end || bytes[nameEnd] === SPACE) &&
      isNameByte(bytes[start] as number) &&
      isNameByte(bytes[start + 1] as number) &&
      isNameByte(bytes[start + 2] as number)
    ) {
      name = commandName(bytes, start);
      args = nameEnd === end ? [] : splitArgs(decodeLine(bytes, nameEnd + 1, end), 0);
    } else {
      const line = decodeLine(bytes, start, end);
      const firstSpace = line.indexOf(" ");
      name = firstSpace === -1 ? line : line.slice(0, firstSpace);
      if (!isCommandName(name)) {
        throw new FramingError(
          "malformed-line",
          `malformed command name ${JSON.stringify(name.slice(0, 16))}`,
        );
      }
      args = firstSpace === -1 ? [] : splitArgs(line, firstSpace + 1);
    }
    if (!this.payloadCommands.has(name)) {
      return new DecodedCommand(name, args, null);
    }
    const last = args.length > 0 ? (args[args.length - 1] as string) : "";
    if (!isDigits(last)) {
      if (MANDATORY_PAYLOAD_COMMANDS.has(name)) {
        throw new FramingError(
          "bad-length",
          `${name} without a valid payload length: ${JSON.stringify(last)}`,
        );
      }
      return new DecodedCommand(name, args, null);
    }
    const length = digitsValue(last);
    if (length > this.maxPayloadBytes) {
      throw new FramingError(
        "payload-too-large",
        `${name} payload of ${last} bytes exceeds the limit of ${this.maxPayloadBytes}`,
      );
    }
    args.pop();
    if (length === 0) {
      return new DecodedCommand(name, args, Buffer.alloc(0));
    }
    this.pendingName = name;
    this.pendingArgs = args;
    this.pendingLength = length;
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
