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

const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;

/** Length of the UTF-8 sequence starting at `bytes[i]` if it is well-formed, else 0. */
function validSequenceLength(bytes: readonly number[], i: number): number {
  const b0 = bytes[i] ?? 0;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 < 0x80) return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0; // no UTF-16 surrogates
  if (b0 >= 0xe1 && b0 <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** Decodes a run of escaped bytes; bytes that do not form valid UTF-8 stay as their `%XX` text. */
function decodeEscapedRun(bytes: number[], literals: string[]): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const length = validSequenceLength(bytes, i);
    if (length === 0) {
      out += literals[i];
      i += 1;
    } else {
      out += Buffer.from(bytes.slice(i, i + length)).toString("utf8");
      i += length;
    }
  }
  return out;
}

/**
 * Lenient percent-decoding: raw characters pass through, `%XX` runs are decoded as UTF-8, and
 * anything malformed (`%ZZ`, a trailing `%`, bytes that are not valid UTF-8) is kept literally.
 * Never throws.
 */
export function decodeParam(value: string): string {
  if (!value.includes("%")) return value;
  let out = "";
  let runBytes: number[] = [];
  let runLiterals: string[] = [];
  const flush = (): void => {
    if (runBytes.length > 0) {
      out += decodeEscapedRun(runBytes, runLiterals);
      runBytes = [];
      runLiterals = [];
    }
  };
  let i = 0;
  while (i < value.length) {
    const hex = value.slice(i + 1, i + 3);
    if (value[i] === "%" && HEX_PAIR.test(hex)) {
      runBytes.push(parseInt(hex, 16));
      runLiterals.push(value.slice(i, i + 3));
      i += 3;
      continue;
    }
    flush();
    out += value[i];
    i += 1;
  }
  flush();
  return out;
}
