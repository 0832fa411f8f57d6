/**
 * Client→server framing: splits a TCP byte stream into command lines and their payloads.
 *
 * Written independently of the client in src/msnp/ on purpose: the test server is the yardstick the
 * client is measured against, so it must not share the client's parsing code (or its bugs).
 */

/**
 * Commands a client may send with a payload (msnp.md §1, Escargot's list). The last argument is the
 * payload's length in bytes; the payload follows the CRLF without terminator.
 */
export const CLIENT_PAYLOAD_COMMANDS: ReadonlySet<string> = new Set([
  "MSG",
  "QRY",
  "UUX",
  "ADL",
  "RML",
  "FQY",
  "UUN",
  "UUM",
  "PUT",
  "DEL",
  "SDG",
  "VAS",
  "SDC",
  "NOT",
]);

/** One command as received, before any semantic validation. */
export interface InboundCommand {
  /** The command name exactly as sent (first token). */
  readonly name: string;
  /** Raw (still percent-encoded) arguments after the name; for payload commands without the length. */
  readonly args: readonly string[];
  /** The command line as received, without the line terminator. */
  readonly line: string;
  /** The payload of a payload command (exact bytes). */
  readonly payload?: Buffer;
}

/** Why the reader gave up on a connection; the connection must be dropped. */
export type FramingError =
  | { readonly kind: "non-utf8"; readonly detail: string }
  | { readonly kind: "line-too-long"; readonly detail: string }
  | { readonly kind: "payload-too-large"; readonly detail: string }
  | { readonly kind: "bad-payload-length"; readonly detail: string };

export interface FramingLimits {
  /** Longest accepted command line in bytes (without terminator). */
  readonly maxLineBytes: number;
  /** Largest accepted payload in bytes. Anything above is treated as an attack and drops the connection. */
  readonly maxPayloadBytes: number;
}

export const DEFAULT_FRAMING_LIMITS: FramingLimits = { maxLineBytes: 8 * 1024, maxPayloadBytes: 256 * 1024 };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Incremental reader. Feed it chunks; it returns the complete commands found so far, or an error
 * after which the connection has to be dropped (mirroring Escargot, which drops connections whose
 * command lines are not UTF-8, and adding the bounds Escargot lacks).
 */
export class CommandReader {
  private buffer: Buffer = Buffer.alloc(0);
  /** Set while waiting for the payload bytes of an already-parsed command line. */
  private pending: { name: string; args: string[]; line: string; length: number } | undefined;
  private failed = false;

  constructor(private readonly limits: FramingLimits = DEFAULT_FRAMING_LIMITS) {}

  /** Bytes currently buffered (for tests of the bound). */
  get bufferedBytes(): number {
    return this.buffer.length;
  }

  push(chunk: Buffer): { commands: InboundCommand[]; error?: FramingError } {
    const commands: InboundCommand[] = [];
    if (this.failed) return { commands };
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);

    for (;;) {
      if (this.pending) {
        if (this.buffer.length < this.pending.length) break;
        const payload = Buffer.from(this.buffer.subarray(0, this.pending.length));
        this.buffer = this.buffer.subarray(this.pending.length);
        const { name, args, line } = this.pending;
        this.pending = undefined;
        commands.push({ name, args, line, payload });
        continue;
      }

      const newline = this.buffer.indexOf(0x0a);
      if (newline < 0) {
        if (this.buffer.length > this.limits.maxLineBytes) {
          return this.fail(commands, {
            kind: "line-too-long",
            detail: `no line terminator within ${this.limits.maxLineBytes} bytes`,
          });
        }
        break;
      }
      if (newline > this.limits.maxLineBytes + 1) {
        return this.fail(commands, {
          kind: "line-too-long",
          detail: `line of ${newline} bytes exceeds ${this.limits.maxLineBytes}`,
        });
      }
      const rawLine = this.buffer.subarray(0, newline);
      this.buffer = this.buffer.subarray(newline + 1);

      let text: string;
      try {
        text = utf8.decode(rawLine);
      } catch {
        return this.fail(commands, { kind: "non-utf8", detail: "command line is not valid UTF-8" });
      }
      // Escargot strips surrounding whitespace (so a bare LF works too) and splits on runs of it.
      const line = text.replace(/\r$/, "");
      const tokens = line.trim().split(/[ \t]+/);
      const name = tokens[0] ?? "";
      if (name === "") continue;
      const args = tokens.slice(1);

      if (CLIENT_PAYLOAD_COMMANDS.has(name)) {
        const last = args[args.length - 1];
        if (last === undefined || !/^\d+$/.test(last)) {
          // Escargot's reader raises on a non-numeric length and the connection dies with it.
          return this.fail(commands, {
            kind: "bad-payload-length",
            detail: `${name} without a numeric payload length`,
          });
        }
        const length = Number(last);
        if (!Number.isSafeInteger(length) || length > this.limits.maxPayloadBytes) {
          return this.fail(commands, {
            kind: "payload-too-large",
            detail: `${name} announces ${last} bytes (limit ${this.limits.maxPayloadBytes})`,
          });
        }
        this.pending = { name, args: args.slice(0, -1), line, length };
        continue;
      }
      commands.push({ name, args, line });
    }
    return { commands };
  }

  private fail(
    commands: InboundCommand[],
    error: FramingError,
  ): { commands: InboundCommand[]; error: FramingError } {
    this.failed = true;
    this.buffer = Buffer.alloc(0);
    this.pending = undefined;
    return { commands, error };
  }
}
