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

/** Splits a payload into headers and body. Header names keep their case; use {@link getHeader}. */
export function parseMime(payload: Buffer): MimeMessage {
  let end = payload.indexOf(HEADER_END);
  let bodyStart = end + HEADER_END.length;
  if (end === -1) {
    // Some third-party clients use bare LFs; the body then starts after the first blank line.
    const lfEnd = payload.indexOf("\n\n");
    if (lfEnd === -1) {
      end = payload.length;
      bodyStart = payload.length;
    } else {
      end = lfEnd;
      bodyStart = lfEnd + 2;
    }
  }
  const headers: Array<[string, string]> = [];
  for (const rawLine of payload.subarray(0, end).toString("utf8").split("\n")) {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return { headers, body: payload.subarray(bodyStart) };
}

/** Case-insensitive header lookup (first occurrence). */
export function getHeader(message: MimeMessage, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return message.headers.find(([key]) => key.toLowerCase() === wanted)?.[1];
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
  const [type = "", ...rest] = (value ?? "").split(";");
  const params = new Map<string, string>();
  for (const part of rest) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    const raw = part.slice(eq + 1).trim();
    params.set(key, raw.replace(/^"(.*)"$/, "$1"));
  }
  return { mediaType: type.trim().toLowerCase(), params };
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

function parseHexValue(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9a-fA-F]{1,8}$/.test(value)) return undefined;
  return parseInt(value, 16);
}

/** BGR hex (leading zeros usually dropped) → `#rrggbb`. */
export function bgrToRgb(value: string): string | null {
  if (!/^[0-9a-fA-F]{1,6}$/.test(value)) return null;
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
  const fields = new Map<string, string>();
  for (const part of value.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    fields.set(part.slice(0, eq).trim().toUpperCase(), part.slice(eq + 1).trim());
  }
  const effects = (fields.get("EF") ?? "").toUpperCase();
  const format: TextFormat = {
    bold: effects.includes("B"),
    italic: effects.includes("I"),
    underline: effects.includes("U"),
    strikethrough: effects.includes("S"),
    rtl: fields.get("RL") === "1",
  };
  const font = fields.get("FN");
  if (font) format.font = decodeParam(font);
  const color = bgrToRgb(fields.get("CO") ?? "");
  if (color !== null) format.color = color;
  const charset = parseHexValue(fields.get("CS"));
  if (charset !== undefined) format.charset = charset;
  const pitchFamily = parseHexValue(fields.get("PF"));
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
  for (const rawLine of body.toString("utf8").split("\n")) {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    if (!fields.has(key)) fields.set(key, line.slice(colon + 1).trim());
  }
  return fields;
}

/** Body text: UTF-8 when valid (what Escargot enforces), otherwise Latin-1 (the historic default). */
function decodeBodyText(body: Buffer): string {
  return isUtf8(body) ? body.toString("utf8") : body.toString("latin1");
}

/** Normalises CRLF and lone CR to `\n`. */
function normaliseLineBreaks(text: string): string {
  return text.replace(/\r\n?/g, "\n");
}

const MAIL_TYPES = new Set([
  "text/x-msmsgsinitialemailnotification",
  "text/x-msmsgsemailnotification",
  "text/x-msmsgsactivemailnotification",
  "text/x-msmsgsinitialmdatanotification",
  "text/x-msmsgsoimnotification",
]);

/** Classifies a `MSG` payload (switchboard or `MSG Hotmail Hotmail`). Never throws. */
export function classifyMessage(payload: Buffer): MsnMessageContent {
  const mime = parseMime(payload);
  const type = parseContentType(getHeader(mime, "Content-Type"));
  const contentType = type.mediaType;
  const base = { contentType, mime };
  switch (contentType) {
    case "text/plain": {
      const formatHeader = getHeader(mime, "X-MMS-IM-Format");
      const text = normaliseLineBreaks(decodeBodyText(mime.body));
      const charset = type.params.get("charset") ?? null;
      return formatHeader === undefined
        ? { ...base, kind: "text", text, charset }
        : { ...base, kind: "text", text, charset, format: parseTextFormat(formatHeader) };
    }
    case "text/x-msmsgscontrol":
      return { ...base, kind: "typing", typingUser: getHeader(mime, "TypingUser") ?? null };
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
      return { ...base, kind: "p2p", destination: getHeader(mime, "P2P-Dest") ?? null };
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
