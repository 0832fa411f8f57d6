/**
 * `MSG` payloads: a MIME-like header block, an empty line, then the body (msnp.md §8). Parsing is
 * total — any byte sequence yields a result — because payloads come from arbitrary third-party
 * clients relayed byte-for-byte by the server.
 */
import { isUtf8 } from "node:buffer";
import { decodeParam, encodeParam } from "./encoding.js";
import { MsnArgumentError } from "./errors.js";

export interface MimeMessage {
  /** Headers in wire order, names as sent. */
  headers: Array<[name: string, value: string]>;
  body: Buffer;
}

const HEADER_END = Buffer.from("\r\n\r\n");
const CR = 0x0d;
const LF = 0x0a;

/**
 * Calls `onField(name, value)` for every `name: value` line of `text` (LF or CRLF separated; lines
 * without a colon, or starting with one, are skipped), both sides trimmed. One pass: the next
 * colon is remembered across lines, so a block of colon-less lines is not rescanned per line.
 */
function forEachField(text: string, onField: (name: string, value: string) => void): void {
  let lineStart = 0;
  let colon = -2;
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf("\n", lineStart);
    const next = lineEnd === -1 ? text.length + 1 : lineEnd + 1;
    if (lineEnd === -1) lineEnd = text.length;
    if (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === 0x0d) lineEnd--;
    if (colon !== -1 && colon < lineStart) colon = text.indexOf(":", lineStart);
    if (colon === -1) return; // no further line has a colon
    if (colon > lineStart && colon < lineEnd) {
      onField(trimField(text, lineStart, colon), trimField(text, colon + 1, lineEnd));
    }
    lineStart = next;
  }
}

/** `text.slice(start, end).trim()`, without the intermediate string when only spaces are trimmed. */
function trimField(text: string, start: number, end: number): string {
  while (start < end && text.charCodeAt(start) === 0x20) start++;
  while (end > start && text.charCodeAt(end - 1) === 0x20) end--;
  const first = text.charCodeAt(start);
  const last = text.charCodeAt(end - 1);
  // Other whitespace (tabs, NBSP, Unicode spaces) at either end: let trim() apply its full rules.
  return first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f
    ? text.slice(start, end)
    : text.slice(start, end).trim();
}

/**
 * Where the header block ends and the body starts: the first CRLF CRLF, or else (bare-LF clients)
 * the first LF LF, or else the whole payload is headers. Scanned in JS: for the usual ~100-byte
 * header block this is cheaper than a native `indexOf` call. `hash` is a hash of the bytes the
 * scan passed (the block and its terminator), the key of {@link HEADER_SUMMARIES}: the same
 * block always gets the same hash, and the memo compares the bytes, so a collision costs a miss.
 * Rotate-and-xor rather than multiply-and-add: ~7 % faster on the parser bench, and no collision
 * either way among 138,000 distinct generated header blocks (formats, typing users).
 */
function findHeaderEnd(payload: Buffer): { end: number; bodyStart: number; hash: number } {
  const n = payload.length;
  let hash = 0;
  for (let i = 0; i < n; i++) {
    const byte = payload[i] as number;
    hash = ((hash << 5) | (hash >>> 27)) ^ byte;
    if (byte !== LF) continue;
    if (payload[i - 1] === CR && payload[i + 1] === CR && payload[i + 2] === LF) {
      return { end: i - 1, bodyStart: i + 3, hash };
    }
    if (payload[i + 1] === LF) {
      // A CRLF CRLF anywhere later still wins over this LF LF (no earlier one exists).
      const crlf = payload.indexOf(HEADER_END, i);
      return crlf === -1 ? { end: i, bodyStart: i + 2, hash } : { end: crlf, bodyStart: crlf + 4, hash };
    }
  }
  return { end: n, bodyStart: n, hash };
}

/**
 * `findField` for one name: the trimmed value of the first `name: value` line of `text` whose
 * trimmed name lower-cases to `wanted`, found without building the other fields.
 */
function findField(text: string, name: string, wanted: string): string | undefined {
  let lineStart = 0;
  let colon = -2;
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf("\n", lineStart);
    const next = lineEnd === -1 ? text.length + 1 : lineEnd + 1;
    if (lineEnd === -1) lineEnd = text.length;
    if (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === 0x0d) lineEnd--;
    if (colon !== -1 && colon < lineStart) colon = text.indexOf(":", lineStart);
    if (colon === -1) return undefined;
    if (colon > lineStart && colon < lineEnd && fieldNameIs(text, lineStart, colon, name, wanted)) {
      return trimField(text, colon + 1, lineEnd);
    }
    lineStart = next;
  }
  return undefined;
}

/**
 * Whether `text.slice(start, end).trim().toLowerCase() === wanted`, in place for ASCII names.
 * `name` is the usual spelling, checked first.
 */
function fieldNameIs(text: string, start: number, end: number, name: string, wanted: string): boolean {
  if (end - start === name.length && text.startsWith(name, start)) return true;
  const s = skipSpaces(text, start, end);
  const e = skipSpacesBack(text, s, end);
  let printable = s < e;
  for (let i = s; i < e && printable; i++) {
    const c = text.charCodeAt(i);
    printable = c > 0x20 && c < 0x7f;
  }
  if (!printable) return text.slice(start, end).trim().toLowerCase() === wanted;
  if (e - s !== wanted.length) return false;
  for (let i = 0; i < wanted.length; i++) {
    const c = text.charCodeAt(s + i);
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== wanted.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * A parsed payload whose header list is built on first use: classifying a message reads a few
 * headers (usually from the memo, see {@link HEADER_SUMMARIES}), lookups scan the decoded block.
 */
class LazyMimeMessage implements MimeMessage {
  readonly #payload: Buffer;
  readonly #headerEnd: number;
  readonly #bodyStart: number;
  #headerText: string | null = null;
  #headers: Array<[string, string]> | null = null;
  #body: Buffer | null = null;

  constructor(payload: Buffer, headerEnd: number, bodyStart: number, headerText: string | null = null) {
    this.#payload = payload;
    this.#headerEnd = headerEnd;
    this.#bodyStart = bodyStart;
    this.#headerText = headerText;
  }

  /** A view of the payload after the header block (made on first use: text is decoded without it). */
  get body(): Buffer {
    this.#body ??= this.#payload.subarray(this.#bodyStart);
    return this.#body;
  }

  /** The header block decoded as UTF-8 (once). */
  get #text(): string {
    this.#headerText ??= this.#payload.toString("utf8", 0, this.#headerEnd);
    return this.#headerText;
  }

  get headers(): Array<[string, string]> {
    if (this.#headers === null) {
      const headers: Array<[string, string]> = [];
      forEachField(this.#text, (name, value) => {
        headers.push([name, value]);
      });
      this.#headers = headers;
    }
    return this.#headers;
  }

  set headers(headers: Array<[string, string]>) {
    this.#headers = headers;
  }

  /** {@link getHeader} with the lower-cased name given. */
  header(name: string, wanted: string): string | undefined {
    return this.#headers === null ? findField(this.#text, name, wanted) : findHeader(this, name, wanted);
  }

  /** Logged and serialised like the plain `{ headers, body }` it stands for. */
  toJSON(): MimeMessage {
    return { headers: this.headers, body: this.body };
  }
}

/** Splits a payload into headers and body. Header names keep their case; use {@link getHeader}. */
export function parseMime(payload: Buffer): MimeMessage {
  const { end, bodyStart } = findHeaderEnd(payload);
  return new LazyMimeMessage(payload, end, bodyStart);
}

/** Whether `text[start, end)` is one or more ASCII letters with nothing `trim()` would remove. */
function isAsciiWord(text: string, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i) | 0x20; // folds A-Z onto a-z
    if (c < 0x61 || c > 0x7a) return false;
  }
  return true;
}

/** Skips ASCII spaces forwards from `start`. */
function skipSpaces(text: string, start: number, end: number): number {
  while (start < end && text.charCodeAt(start) === 0x20) start++;
  return start;
}

/** Skips ASCII spaces backwards from `end`. */
function skipSpacesBack(text: string, start: number, end: number): number {
  while (end > start && text.charCodeAt(end - 1) === 0x20) end--;
  return end;
}

/** The X-MMS-IM-Format field names the parser reads; anything else is ignored. */
const FORMAT_KEYS = ["FN", "EF", "CO", "CS", "PF", "RL"] as const;

/**
 * `text.slice(start, end).trim().toUpperCase()` when that is one of {@link FORMAT_KEYS}, else "".
 * The usual two ASCII letters are compared in place; anything else takes the exact slow path
 * (Unicode case mapping: `ſ` upper-cases to `S`).
 */
function upperFieldName(text: string, start: number, end: number): string {
  const s = skipSpaces(text, start, end);
  const e = skipSpacesBack(text, s, end);
  if (e - s === 2 && isAsciiWord(text, s, e)) {
    const first = text.charCodeAt(s) & ~0x20;
    const second = text.charCodeAt(s + 1) & ~0x20;
    for (const key of FORMAT_KEYS) {
      if (key.charCodeAt(0) === first && key.charCodeAt(1) === second) return key;
    }
    return "";
  }
  const key = text.slice(start, end).trim().toUpperCase();
  return (FORMAT_KEYS as readonly string[]).includes(key) ? key : "";
}

/** Whether `text.slice(start, end).trim().toLowerCase() === wanted` (`wanted` lower-case ASCII). */
function lowerNameEquals(text: string, start: number, end: number, wanted: string): boolean {
  const s = skipSpaces(text, start, end);
  const e = skipSpacesBack(text, s, end);
  if (isAsciiWord(text, s, e)) {
    if (e - s !== wanted.length) return false;
    for (let i = 0; i < wanted.length; i++) {
      if ((text.charCodeAt(s + i) | 0x20) !== wanted.charCodeAt(i)) return false;
    }
    return true;
  }
  return text.slice(start, end).trim().toLowerCase() === wanted;
}

/**
 * `parseContentType(value)` reduced to what the classifier needs, without building the parameter
 * map: the media type and, when asked for, one parameter (the last one of that name, as the map).
 */
function contentTypeOf(
  value: string | undefined,
  param: string | null,
): { mediaType: string; param: string | null } {
  const text = value ?? "";
  let semicolon = text.indexOf(";");
  const mediaType = (semicolon === -1 ? text : text.slice(0, semicolon)).trim().toLowerCase();
  let found: string | null = null;
  while (param !== null && semicolon !== -1) {
    const start = semicolon + 1;
    semicolon = text.indexOf(";", start);
    const end = semicolon === -1 ? text.length : semicolon;
    const eq = text.indexOf("=", start);
    if (eq === -1 || eq >= end || !lowerNameEquals(text, start, eq, param)) continue;
    found = unquote(text.slice(eq + 1, end).trim());
  }
  return { mediaType, param: found };
}

/** A parameter value without its surrounding double quotes, if it has them. */
function unquote(raw: string): string {
  return raw.charCodeAt(0) === 0x22 ? raw.replace(/^"(.*)"$/, "$1") : raw;
}

/** Whether `key` names the header whose lower-cased name is `wanted`; `name` is the caller's spelling. */
function headerNameMatches(key: string, name: string, wanted: string): boolean {
  if (key === name) return true;
  // Lower-casing an ASCII name never changes its length, so only a non-ASCII name of another
  // length could still match (Unicode case mapping: U+0130 lower-cases to two code units).
  if (key.length !== wanted.length && isAscii(key)) return false;
  return key.toLowerCase() === wanted;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** `getHeader` with the lower-cased name precomputed (the classifier's fixed names). */
function findHeader(message: MimeMessage, name: string, wanted: string): string | undefined {
  for (const [key, value] of message.headers) {
    if (headerNameMatches(key, name, wanted)) return value;
  }
  return undefined;
}

/** Case-insensitive header lookup (first occurrence). */
export function getHeader(message: MimeMessage, name: string): string | undefined {
  return message instanceof LazyMimeMessage
    ? message.header(name, name.toLowerCase())
    : findHeader(message, name, name.toLowerCase());
}

/** Builds a payload; header names/values must not contain line breaks. */
export function buildMime(headers: ReadonlyArray<readonly [string, string]>, body: Buffer | string): Buffer {
  let head = "";
  for (const [name, value] of headers) {
    if (/[\r\n:]/.test(name) || /[\r\n]/.test(value) || name.length === 0) {
      throw new MsnArgumentError(`invalid MIME header ${JSON.stringify(name)}`);
    }
    head += `${name}: ${value}\r\n`;
  }
  return Buffer.concat([
    Buffer.from(`${head}\r\n`, "utf8"),
    typeof body === "string" ? Buffer.from(body, "utf8") : body,
  ]);
}

export interface ContentType {
  /** Lower-cased `type/subtype`. */
  mediaType: string;
  /** Lower-cased parameter names; values unquoted. */
  params: Map<string, string>;
}

export function parseContentType(value: string | undefined): ContentType {
  const text = value ?? "";
  const params = new Map<string, string>();
  let semicolon = text.indexOf(";");
  const mediaType = (semicolon === -1 ? text : text.slice(0, semicolon)).trim().toLowerCase();
  while (semicolon !== -1) {
    const start = semicolon + 1;
    semicolon = text.indexOf(";", start);
    const part = semicolon === -1 ? text.slice(start) : text.slice(start, semicolon);
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    const raw = part.slice(eq + 1).trim();
    params.set(key, unquote(raw));
  }
  return { mediaType, params };
}

// ---------------------------------------------------------------------------------------------
// X-MMS-IM-Format (msnp.md §8.4)

/** Optional fields are absent when the sender did not give them (or gave garbage). */
export interface TextFormat {
  /** Font name (decoded). */
  font?: string;
  bold: boolean;
  italic: boolean;
  underline: boolean;
  strikethrough: boolean;
  /** `#rrggbb` (converted from the wire's BGR). */
  color?: string;
  /** Windows charset number (the wire's hex `CS`), a font hint only. */
  charset?: number;
  /** Pitch-and-family byte (the wire's hex `PF`). */
  pitchFamily?: number;
  /** `RL=1`: right-to-left text. */
  rtl: boolean;
}

/** Whether `value` is 1…`maxDigits` hex digits (`^[0-9a-fA-F]{1,max}$`). */
function isHex(value: string, maxDigits: number): boolean {
  if (value.length === 0 || value.length > maxDigits) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const lower = c | 0x20; // folds A-F onto a-f
    if (!((c >= 0x30 && c <= 0x39) || (lower >= 0x61 && lower <= 0x66))) return false;
  }
  return true;
}

function parseHexValue(value: string | undefined): number | undefined {
  if (value === undefined || !isHex(value, 8)) return undefined;
  return parseInt(value, 16);
}

/** BGR hex (leading zeros usually dropped) → `#rrggbb`. */
export function bgrToRgb(value: string): string | null {
  if (!isHex(value, 6)) return null;
  const bgr = value.padStart(6, "0").toLowerCase();
  return `#${bgr.slice(4, 6)}${bgr.slice(2, 4)}${bgr.slice(0, 2)}`;
}

/** `#rrggbb` → BGR hex without leading zeros, as official clients write it. */
export function rgbToBgr(color: string): string {
  const match = /^#?([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})$/.exec(color);
  if (!match) throw new MsnArgumentError(`invalid colour ${JSON.stringify(color)}; expected #rrggbb`);
  const [, r = "", g = "", b = ""] = match;
  return parseInt(`${b}${g}${r}`, 16).toString(16);
}

export function parseTextFormat(value: string): TextFormat {
  // `KEY=value` fields separated by `;`; keys case-insensitive, the last of a key wins.
  let font: string | undefined;
  let effects = "";
  let color: string | undefined;
  let charsetText: string | undefined;
  let pitchFamilyText: string | undefined;
  let rtl: string | undefined;
  let start = 0;
  // Remembered across fields, so a run of fields without `=` is not rescanned per field.
  let eq = -2;
  while (start <= value.length) {
    let end = value.indexOf(";", start);
    if (end === -1) end = value.length;
    if (eq !== -1 && eq < start) eq = value.indexOf("=", start);
    if (eq === -1) break;
    if (eq < end) {
      const key = upperFieldName(value, start, eq);
      const fieldValue = key.length === 0 ? "" : trimField(value, eq + 1, end);
      switch (key) {
        case "FN":
          font = fieldValue;
          break;
        case "EF":
          effects = fieldValue;
          break;
        case "CO":
          color = fieldValue;
          break;
        case "CS":
          charsetText = fieldValue;
          break;
        case "PF":
          pitchFamilyText = fieldValue;
          break;
        case "RL":
          rtl = fieldValue;
          break;
      }
    }
    start = end + 1;
  }
  effects = effects.toUpperCase();
  const format: TextFormat = {
    bold: effects.includes("B"),
    italic: effects.includes("I"),
    underline: effects.includes("U"),
    strikethrough: effects.includes("S"),
    rtl: rtl === "1",
  };
  if (font) format.font = decodeParam(font);
  const rgb = bgrToRgb(color ?? "");
  if (rgb !== null) format.color = rgb;
  const charset = parseHexValue(charsetText);
  if (charset !== undefined) format.charset = charset;
  const pitchFamily = parseHexValue(pitchFamilyText);
  if (pitchFamily !== undefined) format.pitchFamily = pitchFamily;
  return format;
}

/** Builds the header value in the official order `FN, EF, CO, CS, PF` (+ `RL`); `FN` always first. */
export function buildTextFormat(format: Partial<TextFormat>): string {
  const font = format.font ?? "Segoe UI";
  let effects = "";
  if (format.bold) effects += "B";
  if (format.italic) effects += "I";
  if (format.underline) effects += "U";
  if (format.strikethrough) effects += "S";
  const parts = [
    // `;` and `=` would end the field early for the receiver's parser.
    `FN=${encodeParam(font, ";=")}`,
    `EF=${effects}`,
    `CO=${format.color ? rgbToBgr(format.color) : "0"}`,
    `CS=${(format.charset ?? 0).toString(16)}`,
    `PF=${(format.pitchFamily ?? 0x22).toString(16)}`,
  ];
  if (format.rtl) parts.push("RL=1");
  return parts.join("; ");
}

// ---------------------------------------------------------------------------------------------
// Classification

interface Base {
  /** Lower-cased media type, e.g. `text/plain`. */
  contentType: string;
  mime: MimeMessage;
}

export type MsnMessageContent =
  | (Base & { kind: "text"; text: string; format?: TextFormat; charset: string | null })
  | (Base & { kind: "typing"; typingUser: string | null })
  | (Base & { kind: "nudge" })
  | (Base & { kind: "datacast"; id: number | null })
  | (Base & {
      kind: "invite";
      fields: Map<string, string>;
      command: string | null;
      applicationName: string | null;
    })
  | (Base & { kind: "emoticon"; animated: boolean; shortcuts: string[] })
  | (Base & { kind: "p2p"; destination: string | null })
  | (Base & { kind: "clientcaps" })
  | (Base & { kind: "keepalive" })
  | (Base & { kind: "profile"; fields: Map<string, string> })
  | (Base & { kind: "mail"; fields: Map<string, string> })
  | (Base & { kind: "system"; type: number | null; arg1: string | null; fields: Map<string, string> })
  | (Base & { kind: "unknown" });

export type MsnMessageKind = MsnMessageContent["kind"];

/** Header-style `Key: value` lines of a body (invitations, datacasts, system messages). */
export function parseBodyFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  forEachField(body.toString("utf8"), (key, value) => {
    if (!fields.has(key)) fields.set(key, value);
  });
  return fields;
}

/**
 * Body text (`bytes` from `start`): UTF-8 when valid (what Escargot enforces), otherwise Latin-1
 * (the historic default).
 */
function decodeBodyText(bytes: Buffer, start = 0): string {
  const text = bytes.toString("utf8", start);
  // Invalid UTF-8 always decodes to at least one U+FFFD, so only text containing one (rare: valid
  // text may spell it too) needs the validator.
  return text.includes("\uFFFD") && !isUtf8(bytes.subarray(start)) ? bytes.toString("latin1", start) : text;
}

/** Normalises CRLF and lone CR to `\n`. */
function normaliseLineBreaks(text: string): string {
  return text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
}

const MAIL_TYPES = new Set([
  "text/x-msmsgsinitialemailnotification",
  "text/x-msmsgsemailnotification",
  "text/x-msmsgsactivemailnotification",
  "text/x-msmsgsinitialmdatanotification",
  "text/x-msmsgsoimnotification",
]);

/**
 * Memo for a pure parse of header values that repeat (a handful of `Content-Type` values exist).
 * Bounded in entries and value length; emptied when full (a flood of distinct values costs one
 * parse each, as without the memo).
 */
class HeaderValueMemo<T> {
  private readonly entries = new Map<string, T>();

  constructor(
    private readonly parse: (value: string) => T,
    private readonly maxEntries = 512,
    private readonly maxValueLength = 256,
  ) {}

  get(value: string): T {
    if (value.length > this.maxValueLength) return this.parse(value);
    let parsed = this.entries.get(value);
    if (parsed === undefined) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      parsed = this.parse(value);
      this.entries.set(value, parsed);
    }
    return parsed;
  }
}

/** What the classifier reads from a header block. */
interface HeaderSummary {
  mediaType: string;
  charset: string | null;
  format: TextFormat | undefined;
  typingUser: string | null;
  destination: string | null;
}

function summariseHeaders(text: string): HeaderSummary {
  const { mediaType, charset } = CONTENT_TYPES.get(findField(text, "Content-Type", "content-type") ?? "");
  const formatHeader = findField(text, "X-MMS-IM-Format", "x-mms-im-format");
  return {
    mediaType,
    charset,
    format: formatHeader === undefined ? undefined : parseTextFormat(formatHeader),
    typingUser: findField(text, "TypingUser", "typinguser") ?? null,
    destination: findField(text, "P2P-Dest", "p2p-dest") ?? null,
  };
}

/** A memoised header block: a copy of its bytes, and what the classifier read from it. */
class HeaderBlockEntry {
  constructor(
    readonly bytes: Uint8Array,
    readonly summary: HeaderSummary,
  ) {}
}

/**
 * Summaries of whole header blocks, keyed by the blocks' bytes: a sender's client writes the same
 * block (its text format included) on every message. A hit costs the hash taken during the
 * header scan and one byte comparison, with no decoding: decoding every block to a string and
 * hashing that string for a string-keyed map was a quarter of the parser bench's time. Bounded in
 * entries and block size; emptied when full. A flood of distinct or colliding blocks costs one
 * parse each, as without the memo.
 */
class HeaderBlockMemo {
  readonly #entries = new Map<number, HeaderBlockEntry>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxBlockBytes: number,
  ) {}

  /** The summary of the block `payload[0, end)` whose scan hash is `hash`, if memoised. */
  get(payload: Buffer, end: number, hash: number): HeaderSummary | undefined {
    const entry = this.#entries.get(hash);
    if (entry === undefined) return undefined;
    const bytes = entry.bytes;
    if (bytes.length !== end) return undefined;
    for (let i = 0; i < end; i++) {
      if (bytes[i] !== payload[i]) return undefined;
    }
    return entry.summary;
  }

  set(payload: Buffer, end: number, hash: number, summary: HeaderSummary): void {
    if (end > this.maxBlockBytes) return;
    if (this.#entries.size >= this.maxEntries) this.#entries.clear();
    // Its own small copy: a view would pin the payload's buffer (or an 8 KiB pool slab).
    const bytes = new Uint8Array(end);
    bytes.set(payload.subarray(0, end));
    this.#entries.set(hash, new HeaderBlockEntry(bytes, summary));
  }
}

const HEADER_SUMMARIES = new HeaderBlockMemo(1024, 512);

const CONTENT_TYPES = new HeaderValueMemo((value) => {
  const { mediaType, param } = contentTypeOf(value, "charset");
  return { mediaType, charset: param };
});

/** Classifies a `MSG` payload (switchboard or `MSG Hotmail Hotmail`). Never throws. */
export function classifyMessage(payload: Buffer): MsnMessageContent {
  const { end, bodyStart, hash } = findHeaderEnd(payload);
  let headers = HEADER_SUMMARIES.get(payload, end, hash);
  let headerText: string | null = null;
  if (headers === undefined) {
    headerText = payload.toString("utf8", 0, end);
    headers = summariseHeaders(headerText);
    HEADER_SUMMARIES.set(payload, end, hash, headers);
  }
  const mime = new LazyMimeMessage(payload, end, bodyStart, headerText);
  const contentType = headers.mediaType;
  // The two kinds on nearly every message are built without spreading `base`.
  switch (contentType) {
    case "text/plain": {
      const text = normaliseLineBreaks(decodeBodyText(payload, bodyStart));
      const charset = headers.charset;
      // A copy: the memo's object is shared by every message with this header block.
      return headers.format === undefined
        ? { contentType, mime, kind: "text", text, charset }
        : { contentType, mime, kind: "text", text, charset, format: { ...headers.format } };
    }
    case "text/x-msmsgscontrol":
      return { contentType, mime, kind: "typing", typingUser: headers.typingUser };
  }
  const base = { contentType, mime };
  switch (contentType) {
    case "text/x-msnmsgr-datacast": {
      const idText = parseBodyFields(mime.body).get("ID");
      const id = idText !== undefined && /^\d+$/.test(idText) ? Number(idText) : null;
      return id === 1 ? { ...base, kind: "nudge" } : { ...base, kind: "datacast", id };
    }
    case "text/x-msmsgsinvite": {
      const fields = parseBodyFields(mime.body);
      return {
        ...base,
        kind: "invite",
        fields,
        command: fields.get("Invitation-Command") ?? null,
        applicationName: fields.get("Application-Name") ?? null,
      };
    }
    case "text/x-mms-emoticon":
    case "text/x-mms-animemoticon": {
      // Body: `shortcut\t<msnobj>\t` repeated.
      const tokens = decodeBodyText(mime.body).split("\t");
      const shortcuts: string[] = [];
      for (let i = 0; i + 1 < tokens.length; i += 2) {
        const shortcut = tokens[i]?.trim();
        if (shortcut) shortcuts.push(shortcut);
      }
      return { ...base, kind: "emoticon", animated: contentType === "text/x-mms-animemoticon", shortcuts };
    }
    case "application/x-msnmsgrp2p":
      return { ...base, kind: "p2p", destination: headers.destination };
    case "text/x-clientcaps":
      return { ...base, kind: "clientcaps" };
    case "text/x-keepalive":
      return { ...base, kind: "keepalive" };
    case "text/x-msmsgsprofile":
      return { ...base, kind: "profile", fields: new Map(mime.headers.map(([k, v]) => [k, v])) };
    case "application/x-msmsgssystemmessage": {
      const fields = parseBodyFields(mime.body);
      const typeText = fields.get("Type");
      return {
        ...base,
        kind: "system",
        type: typeText !== undefined && /^\d+$/.test(typeText) ? Number(typeText) : null,
        arg1: fields.get("Arg1") ?? null,
        fields,
      };
    }
    default:
      if (MAIL_TYPES.has(contentType)) {
        return { ...base, kind: "mail", fields: parseBodyFields(mime.body) };
      }
      return { ...base, kind: "unknown" };
  }
}

// ---------------------------------------------------------------------------------------------
// Builders for what the client sends

/** Header block of a text message; the body is appended by the caller (see split.ts). */
export function textMessageHeaders(format?: Partial<TextFormat> | null): Array<[string, string]> {
  const headers: Array<[string, string]> = [
    ["MIME-Version", "1.0"],
    ["Content-Type", "text/plain; charset=UTF-8"],
  ];
  if (format) headers.push(["X-MMS-IM-Format", buildTextFormat(format)]);
  return headers;
}

/** A `text/plain; charset=UTF-8` payload. `text` line breaks are normalised to CRLF. */
export function buildTextMessage(text: string, format?: Partial<TextFormat> | null): Buffer {
  return buildMime(textMessageHeaders(format), toCrlf(text));
}

/** Typing notification; the body is an empty line, as official clients send it. */
export function buildTypingMessage(typingUser: string): Buffer {
  return buildMime(
    [
      ["MIME-Version", "1.0"],
      ["Content-Type", "text/x-msmsgscontrol"],
      ["TypingUser", typingUser],
    ],
    "\r\n",
  );
}

export function buildNudgeMessage(): Buffer {
  return buildMime(
    [
      ["MIME-Version", "1.0"],
      ["Content-Type", "text/x-msnmsgr-datacast"],
    ],
    "ID: 1\r\n\r\n",
  );
}

/** Converts any line break style to CRLF (official clients misbehave on bare CR or LF). */
export function toCrlf(text: string): string {
  return text.replace(/\r\n|\r|\n/g, "\r\n");
}
