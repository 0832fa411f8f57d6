/**
 * Percent-encoding of command parameters (friendly names, group names, font names).
 *
 * Outgoing: UTF-8 bytes, escaping `%`, space, every control character and every non-ASCII byte, as
 * the official clients did — the result is plain ASCII and can never break a command line.
 *
 * Incoming: servers disagree (Escargot returns raw UTF-8 and escapes only `%`, space, CR, LF), so
 * decoding accepts raw text and `%XX` mixed, and keeps anything malformed literally.
 */
import { MsnArgumentError } from "./errors.js";

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function mustEscape(byte: number, extra: string): boolean {
  return (
    byte <= 0x20 ||
    byte === 0x25 ||
    byte >= 0x7f ||
    (extra.length > 0 && extra.includes(String.fromCharCode(byte)))
  );
}

/**
 * Percent-encodes `value` for use as one command argument. `extra` lists further ASCII characters
 * to escape (e.g. `;` inside `X-MMS-IM-Format`). Throws {@link MsnArgumentError} on lone surrogates,
 * which have no UTF-8 form.
 */
export function encodeParam(value: string, extra = ""): string {
  if (LONE_SURROGATE.test(value)) {
    throw new MsnArgumentError("text contains a lone surrogate (not encodable as UTF-8)");
  }
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    out += mustEscape(byte, extra)
      ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
      : String.fromCharCode(byte);
  }
  return out;
}

/** Value of an ASCII hex digit, or -1. */
function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** The byte escaped as `%XX` at `value[i]`, or -1 when there is no well-formed escape there. */
function escapedByte(value: string, i: number): number {
  if (i + 2 >= value.length || value.charCodeAt(i) !== 0x25) return -1;
  const high = hexDigit(value.charCodeAt(i + 1));
  const low = hexDigit(value.charCodeAt(i + 2));
  return high === -1 || low === -1 ? -1 : (high << 4) | low;
}

/**
 * The code point of the well-formed UTF-8 sequence of escapes starting at `value[i]` and its
 * length in escapes (1–4), or null when the bytes there are not a well-formed sequence.
 */
function escapedCodePoint(value: string, i: number): { codePoint: number; escapes: number } | null {
  const b0 = escapedByte(value, i);
  if (b0 < 0x80) return { codePoint: b0, escapes: 1 };
  const cont = (k: number, lo = 0x80, hi = 0xbf): number => {
    const b = escapedByte(value, i + 3 * k);
    return b >= lo && b <= hi ? b & 0x3f : -1;
  };
  let c1: number, c2: number, c3: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    c1 = cont(1);
    return c1 === -1 ? null : { codePoint: ((b0 & 0x1f) << 6) | c1, escapes: 2 };
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    // No overlongs (E0 needs A0+), no UTF-16 surrogates (ED allows at most 9F).
    c1 = b0 === 0xe0 ? cont(1, 0xa0) : b0 === 0xed ? cont(1, 0x80, 0x9f) : cont(1);
    c2 = c1 === -1 ? -1 : cont(2);
    return c2 === -1 ? null : { codePoint: ((b0 & 0x0f) << 12) | (c1 << 6) | c2, escapes: 3 };
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    // No overlongs (F0 needs 90+), nothing beyond U+10FFFF (F4 allows at most 8F).
    c1 = b0 === 0xf0 ? cont(1, 0x90) : b0 === 0xf4 ? cont(1, 0x80, 0x8f) : cont(1);
    c2 = c1 === -1 ? -1 : cont(2);
    c3 = c2 === -1 ? -1 : cont(3);
    return c3 === -1 ? null : { codePoint: ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, escapes: 4 };
  }
  return null;
}

/**
 * Lenient percent-decoding: raw characters pass through, `%XX` runs are decoded as UTF-8, and
 * anything malformed (`%ZZ`, a trailing `%`, bytes that are not valid UTF-8) is kept literally.
 * Never throws.
 */
export function decodeParam(value: string): string {
  let percent = value.indexOf("%");
  if (percent === -1) return value;
  let out = "";
  let copied = 0;
  while (percent !== -1) {
    const escapeByte = escapedByte(value, percent);
    if (escapeByte === -1) {
      percent = value.indexOf("%", percent + 1);
      continue;
    }
    out += value.slice(copied, percent);
    const decoded = escapedCodePoint(value, percent);
    if (decoded === null) {
      // Not part of a well-formed sequence: this one escape stays as its text.
      out += value.slice(percent, percent + 3);
      copied = percent + 3;
    } else {
      out += String.fromCodePoint(decoded.codePoint);
      copied = percent + 3 * decoded.escapes;
    }
    percent = value.indexOf("%", copied);
  }
  return out + value.slice(copied);
}
