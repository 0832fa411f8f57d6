/**
 * Parameter encoding as Escargot does it.
 *
 * Escargot percent-decodes every argument it receives, whatever the client meant, and on output it
 * escapes only `%`, space, CR and LF — everything else (including non-ASCII) goes out as raw UTF-8.
 * Clients therefore see e.g. `Älice%20100%25`; a faithful test server must produce exactly that.
 */

const OUTPUT_ESCAPES: Readonly<Record<string, string>> = {
  "%": "%25",
  " ": "%20",
  "\r": "%0D",
  "\n": "%0A",
};

/** Encodes a parameter for a server→client command line (Escargot's minimal escaping). */
export function encodeParam(value: string): string {
  return value.replace(/[% \r\n]/g, (c) => OUTPUT_ESCAPES[c] ?? c);
}

/**
 * Decodes a received parameter the way Python's `urllib.parse.unquote` does: valid `%XX` escapes
 * become bytes, anything else (a lone `%`, `%G1`) stays literal, and byte sequences that are not
 * valid UTF-8 decode to U+FFFD instead of failing.
 */
export function decodeParam(value: string): string {
  if (!value.includes("%")) return value;
  const bytes: number[] = [];
  const raw = Buffer.from(value, "utf8");
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number;
    if (b === 0x25 && isHex(raw[i + 1]) && isHex(raw[i + 2])) {
      bytes.push(parseInt(String.fromCharCode(raw[i + 1] as number, raw[i + 2] as number), 16));
      i += 2;
    } else {
      bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

function isHex(b: number | undefined): boolean {
  if (b === undefined) return false;
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}
