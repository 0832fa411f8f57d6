/**
 * Splitting long text so that every `MSG` payload, headers included, fits the switchboard limit
 * (1664 bytes; one byte more and the server drops the connection — msnp.md §8.2).
 */
import { MsnArgumentError } from "./errors.js";
import { buildMime, textMessageHeaders, toCrlf, type TextFormat } from "./mime.js";

/** Largest `MSG` payload a switchboard accepts, in bytes. */
export const MAX_MSG_PAYLOAD_BYTES = 1664;

/** Refuse to split into absurdly small pieces (e.g. because of a kilobyte-long font name). */
const MIN_BODY_BYTES = 64;

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

interface Unit {
  text: string;
  bytes: number;
}

/**
 * Grapheme clusters, so an emoji with modifiers or a letter with combining marks is never torn
 * apart; a cluster too big for one chunk on its own falls back to code points (which are never cut,
 * so surrogate pairs and UTF-8 sequences stay whole).
 */
function units(text: string, maxBytes: number): Unit[] {
  const out: Unit[] = [];
  for (const { segment } of segmenter.segment(text)) {
    const bytes = Buffer.byteLength(segment, "utf8");
    if (bytes <= maxBytes) {
      out.push({ text: segment, bytes });
    } else {
      for (const codePoint of segment)
        out.push({ text: codePoint, bytes: Buffer.byteLength(codePoint, "utf8") });
    }
  }
  return out;
}

/**
 * Splits `text` into pieces of at most `maxBytes` UTF-8 bytes each. Prefers to break after a line
 * break, then after whitespace, as long as that keeps the piece at least half full. Concatenating the
 * pieces gives back `text` exactly.
 */
export function splitUtf8(text: string, maxBytes: number): string[] {
  if (maxBytes < 4) throw new MsnArgumentError(`cannot split into pieces of ${maxBytes} bytes`);
  if (text.length === 0) return [];
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return [text];

  const all = units(text, maxBytes);
  const pieces: string[] = [];
  let start = 0;
  while (start < all.length) {
    let end = start;
    let bytes = 0;
    while (end < all.length && bytes + (all[end]?.bytes ?? 0) <= maxBytes) {
      bytes += all[end]?.bytes ?? 0;
      end += 1;
    }
    if (end < all.length) {
      end = preferredBreak(all, start, end, maxBytes) ?? end;
    }
    pieces.push(
      all
        .slice(start, end)
        .map((unit) => unit.text)
        .join(""),
    );
    start = end;
  }
  return pieces;
}

/** Index just after the last line break (else whitespace) in [start, end) keeping ≥ half the budget. */
function preferredBreak(all: Unit[], start: number, end: number, maxBytes: number): number | null {
  let whitespace: number | null = null;
  let bytes = 0;
  for (let i = start; i < end; i += 1) bytes += all[i]?.bytes ?? 0;
  // Walk backwards, tracking the size the piece would have if cut after unit i.
  for (let i = end - 1; i > start; i -= 1) {
    if (bytes * 2 < maxBytes) break;
    const unit = all[i]?.text ?? "";
    if (unit === "\r\n" || unit === "\n" || unit === "\r") return i + 1;
    if (whitespace === null && /^\s+$/u.test(unit)) whitespace = i + 1;
    bytes -= all[i]?.bytes ?? 0;
  }
  return whitespace;
}

export interface SplitOptions {
  format?: Partial<TextFormat> | null;
  /** Defaults to {@link MAX_MSG_PAYLOAD_BYTES}. */
  maxPayloadBytes?: number;
}

/**
 * Splits a message for sending: line breaks become CRLF, and each returned body, wrapped in the
 * text headers (including `X-MMS-IM-Format` when `format` is given), is at most `maxPayloadBytes`.
 */
export function splitMessageText(text: string, options: SplitOptions = {}): string[] {
  const maxPayload = options.maxPayloadBytes ?? MAX_MSG_PAYLOAD_BYTES;
  const headerBytes = buildMime(textMessageHeaders(options.format), "").length;
  const budget = maxPayload - headerBytes;
  if (budget < MIN_BODY_BYTES) {
    throw new MsnArgumentError(`message headers take ${headerBytes} bytes; too little room for text`);
  }
  return splitUtf8(toCrlf(text), budget);
}
