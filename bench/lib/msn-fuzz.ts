/**
 * Seeded, deterministic generator of hostile MSN server streams, and the driver that feeds one
 * through everything the client does with server bytes before a session's own state: the framing
 * decoder, the MIME classifier and the dialect parsers the notification/switchboard sessions call
 * per command. Shared by `bench/fuzz.ts` (a million inputs) and the unit tests (a bounded subset),
 * so a failing input is reproduced from its (seed, index) pair in either.
 */
import {
  CommandDecoder,
  DEFAULT_MAX_LINE_BYTES,
  DEFAULT_MAX_PAYLOAD_BYTES,
  SERVER_PAYLOAD_COMMANDS,
  type MsnCommand,
} from "../../src/msnp/framing.js";
import { FramingError, MsnError } from "../../src/msnp/errors.js";
import { classifyMessage } from "../../src/msnp/mime.js";
import { decodeParam } from "../../src/msnp/encoding.js";
import { dialectFor, type Dialect, type ListSync } from "../../src/msnp/dialect.js";

// ---------------------------------------------------------------------------------------------
// Randomness

/** A small PRNG (mulberry32): the same seed gives the same inputs on every machine and Node. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new RangeError("pick from an empty list");
    return item;
  }

  /** Small values much more often than large ones (sizes, counts). */
  skewed(max: number): number {
    return Math.floor(max ** this.next()) - 1 + (this.chance(0.5) ? 1 : 0);
  }
}

/** The RNG of input `index` of a campaign: inputs are independent, so any one can be replayed. */
export function inputRng(seed: number, index: number): Rng {
  return new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
}

// ---------------------------------------------------------------------------------------------
// Real transcripts (msnp.md §3–9), as a server sends them

function mime(headers: string, body: string | Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`${headers}\r\n`, "utf8"),
    typeof body === "string" ? Buffer.from(body) : body,
  ]);
}

function msg(prefix: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${prefix} ${payload.length}\r\n`, "utf8"), payload]);
}

function lines(...text: string[]): Buffer {
  return Buffer.from(text.map((line) => `${line}\r\n`).join(""), "utf8");
}

const PROFILE = mime(
  "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: 1700000000\r\nEmailEnabled: 1\r\nMemberIdHigh: 0\r\nMemberIdLow: 1\r\nlang_preference: 1033\r\nClientIP: 127.0.0.1\r\nClientPort: 4242\r\n",
  "",
);
const TEXT = mime(
  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=BI; CO=ff0000; CS=0; PF=22\r\n",
  "Grüße — 日本語 😀\r\nsecond line",
);
const TYPING = mime(
  "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: bob@example.com\r\n",
  "\r\n",
);
const NUDGE = mime("MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n", "ID: 1\r\n\r\n");
const INVITE = mime(
  "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n",
  "Application-Name: File Transfer\r\nApplication-GUID: {5D3E02AB-6190-11d3-BBBB-00C04F795683}\r\nInvitation-Command: INVITE\r\nInvitation-Cookie: 57\r\nApplication-File: a b.txt\r\nApplication-FileSize: 1234\r\n\r\n",
);
const P2P_HEADER = Buffer.alloc(48);
P2P_HEADER.writeUInt32LE(0x12345, 0);
P2P_HEADER.writeUInt32LE(0xffffffff, 8);
P2P_HEADER.writeUInt32LE(1202, 16);
const P2P = mime(
  "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: alice@example.com\r\n",
  Buffer.concat([
    P2P_HEADER,
    Buffer.from("INVITE MSNMSGR:alice@example.com MSNSLP/1.0\r\n\r\n"),
    Buffer.alloc(4),
  ]),
);
const EMOTICON = mime(
  "MIME-Version: 1.0\r\nContent-Type: text/x-mms-emoticon\r\n",
  ':cat:\t<msnobj Creator="bob@example.com" Size="1" Type="2"/>\t',
);
const SYSTEM = mime(
  "MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n",
  "Type: 1\r\nArg1: 5\r\n",
);
const MAIL = mime(
  "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinitialemailnotification; charset=UTF-8\r\n",
  "Inbox-Unread: 3\r\nFolders-Unread: 0\r\n\r\n",
);
const UBX_PSM = Buffer.from(
  "<Data><PSM>at &amp; home &#x1F600; &#xD800;</PSM><CurrentMedia></CurrentMedia></Data>",
);

/** Pieces of real NS and SB sessions; a valid stream is any sequence of them. */
export const TRANSCRIPT_PIECES: readonly Buffer[] = [
  // MSNP7 login and list sync
  lines(
    "VER 1 MSNP7",
    "CVR 2 6.2.0205 6.2.0205 6.2.0205 https://example.invalid https://example.invalid",
    "INF 3 MD5",
    "USR 4 MD5 S 5aef4fef51aec18",
    "USR 5 OK alice@example.com Alice%20%C3%84 1",
  ),
  msg("MSG Hotmail Hotmail", PROFILE),
  lines(
    "SYN 6 1",
    "LSG 6 1 1 2 0 Other%20Contacts 0",
    "LSG 6 1 2 2 1 Friends 0",
    "LST 6 FL 1 1 2 bob@example.com Bob%20B 0",
    "BPR PHH 555-1234",
    "LST 6 FL 1 2 2 carol@example.com Carol 1",
    "LST 6 AL 1 1 2 bob@example.com Bob%20B",
    "LST 6 BL 1 0 0",
    "LST 6 RL 1 1 1 bob@example.com Bob%20B",
    "GTC 6 1 A",
    "BLP 6 1 AL",
  ),
  // MSNP12 login and counted list sync
  lines(
    "VER 1 MSNP12 CVR0",
    "CVR 2 7.0.0813 7.0.0813 7.0.0813 https://example.invalid https://example.invalid",
    "USR 3 TWN S lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct=1062764229,kpp=1,kv=5,ver=2.1.0173.1,tpf=43f8a4c8ed940c04e3740be46c4d1619",
    "USR 4 OK alice@example.com 1 0",
    "SBS 0 null",
    "SYN 5 2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00 2 1",
    "GTC A",
    "BLP AL",
    "PRP MFN Alice%20%C3%84",
    "LSG Friends 0e9f0a17-bc02-4b1d-96ee-0a8ea6b9c0a1",
    "LST N=bob@example.com F=Bob%20B C=8d1a5e73-1b88-4b5b-a1c1-0b6d2f1c3a44 11 0e9f0a17-bc02-4b1d-96ee-0a8ea6b9c0a1",
    "LST N=carol@example.com F=Carol C=5b0a8e1f-0000-4000-8000-000000000001 3",
  ),
  // Presence, list changes, keep-alive, challenge, redirects
  lines(
    "CHG 7 NLN 0",
    "ILN 7 NLN bob@example.com Bob%20B 268435456 %3Cmsnobj%2F%3E",
    "NLN AWY carol@example.com Carol%20%E2%99%A5 0",
    "FLN bob@example.com",
    "ADD 0 RL 12 dave@example.com Dave",
    "ADC 0 RL N=erin@example.com F=Erin",
    "REM 0 RL 13 dave@example.com",
    "REA 8 14 alice@example.com New%20Name",
    "QNG 50",
    "CHL 0 29409134351025259292",
    "XFR 9 SB 127.0.0.1:1864 CKI 17262740.1050826919.32308",
    "217 10",
    "OUT OTH",
  ),
  msg("UBX bob@example.com", UBX_PSM),
  lines("RNG 11752013 127.0.0.1:1864 CKI 849102291.520491113 bob@example.com Bob%20B"),
  msg("MSG Hotmail Hotmail", SYSTEM),
  msg("MSG Hotmail Hotmail", MAIL),
  msg("NOT", Buffer.from('<NOTIFICATION id="0"><MSG id="0"><BODY>hi</BODY></MSG></NOTIFICATION>')),
  // Switchboard
  lines(
    "USR 1 OK alice@example.com Alice",
    "CAL 2 RINGING 17342299",
    "JOI bob@example.com Bob%20B 268435456",
    "IRO 1 1 2 carol@example.com Carol",
    "ANS 1 OK",
    "ACK 3",
    "NAK 4",
    "BYE bob@example.com 1",
  ),
  msg("MSG bob@example.com Bob%20B", TEXT),
  msg("MSG bob@example.com Bob%20B", TYPING),
  msg("MSG bob@example.com Bob%20B", NUDGE),
  msg("MSG bob@example.com Bob%20B", INVITE),
  msg("MSG bob@example.com Bob%20B", P2P),
  msg("MSG bob@example.com Bob%20B", EMOTICON),
];

/** Whole payloads, for mutation inside a well-framed `MSG` (exercises the MIME layer, not framing). */
const PAYLOADS: readonly Buffer[] = [PROFILE, TEXT, TYPING, NUDGE, INVITE, P2P, EMOTICON, SYSTEM, MAIL];

// ---------------------------------------------------------------------------------------------
// Mutations

const INTERESTING_BYTES = [
  0x00, 0x0a, 0x0d, 0x20, 0x25, 0x3a, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xf8, 0xff,
];
const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0xff]),
  Buffer.from([0xc3]), // lead byte without continuation
  Buffer.from([0x80]), // lone continuation
  Buffer.from([0xc0, 0xaf]), // overlong
  Buffer.from([0xed, 0xa0, 0x80]), // UTF-16 surrogate
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // beyond U+10FFFF
  Buffer.from([0xe2, 0x82]), // truncated
];
const COMMAND_NAMES = [
  ...SERVER_PAYLOAD_COMMANDS,
  ...["NLN", "ILN", "LST", "LSG", "SYN", "CHL", "RNG", "XFR", "OUT", "911", "QNG", "PRP", "ADC"],
  ...["REM", "ADD", "JOI", "IRO", "BYE", "ACK", "NAK"],
];
const PAYLOAD_NAMES = ["MSG", "NOT", "UBX", "GCF", "ADL", "RML", "FQY", "UBN", "NFY", "SDG", "IPG"];

/** Replacement length tokens: huge, negative, non-numeric, exponent, padded, off by one. */
function hostileLength(rng: Rng, actual: number): string {
  switch (rng.int(14)) {
    case 0:
      return String(actual + 1);
    case 1:
      return String(Math.max(0, actual - 1));
    case 2:
      return `-${actual}`;
    case 3:
      return "-1";
    case 4:
      return "9".repeat(rng.range(7, 40));
    case 5:
      return String(2 ** 53 + 1);
    case 6:
      return "abc";
    case 7:
      return `${actual}x`;
    case 8:
      return "1e3";
    case 9:
      return `0x${actual.toString(16)}`;
    case 10:
      return `${"0".repeat(rng.range(1, 30))}${actual}`;
    case 11:
      return String(DEFAULT_MAX_PAYLOAD_BYTES + rng.range(0, 1));
    case 12:
      return "";
    default:
      return `${actual}.0`;
  }
}

function flipBits(rng: Rng, input: Buffer): Buffer {
  if (input.length === 0) return input;
  const out = Buffer.from(input);
  for (let n = rng.range(1, 8); n > 0; n--) {
    const at = rng.int(out.length);
    out[at] = (out[at] ?? 0) ^ (1 << rng.int(8));
  }
  return out;
}

function replaceBytes(rng: Rng, input: Buffer): Buffer {
  if (input.length === 0) return input;
  const out = Buffer.from(input);
  for (let n = rng.range(1, 6); n > 0; n--) out[rng.int(out.length)] = rng.pick(INTERESTING_BYTES);
  return out;
}

function insertAt(input: Buffer, at: number, bytes: Buffer): Buffer {
  return Buffer.concat([input.subarray(0, at), bytes, input.subarray(at)]);
}

function truncate(rng: Rng, input: Buffer): Buffer {
  return input.subarray(0, rng.int(input.length + 1));
}

function duplicate(rng: Rng, input: Buffer): Buffer {
  if (input.length === 0) return input;
  const start = rng.int(input.length);
  const end = rng.range(start, Math.min(input.length, start + 512));
  const copies = rng.chance(0.1) ? rng.range(2, 200) : 1;
  const piece = input.subarray(start, end);
  return insertAt(input, end, Buffer.concat(Array.from({ length: copies }, () => piece)));
}

function splice(rng: Rng, a: Buffer, b: Buffer): Buffer {
  return Buffer.concat([a.subarray(0, rng.int(a.length + 1)), b.subarray(rng.int(b.length + 1))]);
}

/** Rewrites the length token of one payload command line in the stream. */
function mutateLength(rng: Rng, input: Buffer): Buffer {
  const text = input.toString("latin1"); // byte-preserving
  const matches = [
    ...text.matchAll(/^(MSG|NOT|UBX|ADL|RML|GCF|IPG|NFY|UBN|SDG|FQY)( [^\r\n]*)? (\d+)\r?$/gm),
  ];
  if (matches.length === 0) return input;
  const match = rng.pick(matches);
  const digits = match[3] ?? "0";
  const at = (match.index ?? 0) + match[0].lastIndexOf(digits);
  const replacement = hostileLength(rng, Number(digits));
  return Buffer.concat([
    input.subarray(0, at),
    Buffer.from(replacement, "latin1"),
    input.subarray(at + digits.length),
  ]);
}

/** A well-framed `MSG` whose payload ends inside a multibyte character (the count is bytes). */
function cutMidUtf8(rng: Rng): Buffer {
  const body = Buffer.from("ä日😀".repeat(rng.range(1, 20)), "utf8");
  const payload = mime("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n", body);
  let cut = rng.range(1, payload.length - 1);
  while (cut < payload.length && ((payload[cut] ?? 0) & 0xc0) !== 0x80) cut++;
  const cutPayload = payload.subarray(0, Math.min(cut, payload.length - 1));
  return Buffer.concat([msg("MSG bob@example.com Bob", cutPayload), lines("QNG 50")]);
}

function invalidUtf8(rng: Rng, input: Buffer): Buffer {
  return insertAt(input, rng.int(input.length + 1), rng.pick(INVALID_UTF8));
}

/** A line that never ends: around, at or beyond the line limit. */
function endlessLine(rng: Rng, maxLineBytes: number): Buffer {
  const size = rng.pick([
    maxLineBytes - 1,
    maxLineBytes,
    maxLineBytes + 1,
    maxLineBytes + 2,
    rng.range(1, maxLineBytes * 3),
  ]);
  const prefix = rng.pick(["NLN NLN bob@example.com ", "MSG Hotmail Hotmail ", "", "LST N="]);
  const fill = rng.pick([0x41, 0x20, 0x0d, 0x00, 0x25]);
  const out = Buffer.alloc(Math.max(0, size), fill);
  out.write(prefix.slice(0, out.length), 0, "latin1");
  return rng.chance(0.3) ? Buffer.concat([out, Buffer.from("\r\n")]) : out;
}

function nulBytes(rng: Rng, input: Buffer): Buffer {
  let out = input;
  for (let n = rng.range(1, 5); n > 0; n--)
    out = insertAt(out, rng.int(out.length + 1), Buffer.alloc(rng.range(1, 4)));
  return out;
}

/** A `MSG` with a header block of thousands of lines (within or just beyond the payload limit). */
function giantHeaders(rng: Rng, maxPayloadBytes: number): Buffer {
  const count = rng.range(100, 20_000);
  const header = rng.pick([
    "X-H: v\r\n",
    "Content-Type: text/plain\r\n",
    ":\r\n",
    "a:b\n",
    "TypingUser: x\r\n",
  ]);
  let payload = Buffer.from(header.repeat(count));
  if (payload.length > maxPayloadBytes && rng.chance(0.7)) payload = payload.subarray(0, maxPayloadBytes);
  return Buffer.concat([
    msg("MSG bob@example.com Bob", payload),
    rng.chance(0.5) ? lines("ACK 5") : Buffer.alloc(0),
  ]);
}

/** Thousands of tiny commands in one stream (per-command overhead, no quadratic buffering). */
function tinyCommands(rng: Rng): Buffer {
  const line = rng.pick([
    "QNG\r\n",
    "\r\n",
    "\n",
    "ACK 1\r\n",
    "FLN a@b\r\n",
    "MSG a b 0\r\n",
    "NLN NLN a@b c\r\n",
    "LST 6 FL 1 1 1 a@b a\r\n",
  ]);
  return Buffer.from(line.repeat(rng.range(1000, 10_000)));
}

/**
 * One token of the parsers' own syntax repeated thousands of times inside a payload or line: the
 * shape that makes a backtracking or rescanning parser quadratic (`<PSM>` without `</PSM>`, runs
 * of `%`, `&#x`, `:`, `;`, tabs, bare CRs).
 */
function repetition(rng: Rng, limits: FuzzLimits): Buffer {
  const inPayload = rng.chance(0.8);
  const prefix = rng.pick(["UBX bob@example.com", "MSG bob@example.com Bob", "MSG Hotmail Hotmail"]);
  // Each prefix with the tokens its parser scans for (a UBX payload is searched for `<PSM>`).
  const token =
    inPayload && prefix === "UBX bob@example.com"
      ? rng.pick(["<PSM>", "<PSM", "&#x", "&", "</PSM"])
      : rng.pick(["%", "%C3", ":", ";", "=", "\t", "\r", "\n", " ", "\r\n\r", "a:b;", "&#x"]);
  const room = inPayload ? limits.maxPayloadBytes : limits.maxLineBytes - 40;
  // Half the time as much as the limit allows: quadratic cost only shows on big inputs.
  const size = rng.chance(0.5) ? room : Math.min(room, rng.skewed(400_000));
  const count = Math.max(1, Math.floor(size / token.length));
  const body = Buffer.from(token.repeat(count), "utf8");
  if (!inPayload) return Buffer.from(`NLN NLN bob@example.com ${body.toString("latin1")}\r\n`, "latin1");
  const head = rng.pick([
    "",
    "MIME-Version: 1.0\r\nContent-Type: text/plain\r\nX-MMS-IM-Format: FN=",
    "Content-Type: text/x-msmsgsinvite\r\n\r\n",
  ]);
  return msg(prefix, Buffer.concat([Buffer.from(head), body]));
}

function randomBytes(rng: Rng, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = rng.int(256);
  return out;
}

/** Random lines from the protocol's own vocabulary: plausible-looking, wrong in every detail. */
function randomCommands(rng: Rng): Buffer {
  const tokens = [
    "0",
    "1",
    "-1",
    "99999999999",
    "NLN",
    "FL",
    "AL",
    "BL",
    "RL",
    "OK",
    "CKI",
    "MFN",
    "N=",
    "F=%",
    "C=",
    "a@b",
    "@",
    "%ZZ",
    "%C3",
    "127.0.0.1:1864",
    ":",
    "[::1]:99999",
    "",
  ];
  const parts: Buffer[] = [];
  for (let n = rng.range(1, 40); n > 0; n--) {
    const name = rng.chance(0.9)
      ? rng.pick(COMMAND_NAMES)
      : rng.pick(["msg", "MS", "MSGG", "M G", "", "1", "\u00c4BC"]);
    const args = Array.from({ length: rng.int(8) }, () => rng.pick(tokens));
    if (PAYLOAD_NAMES.includes(name) && rng.chance(0.7)) {
      const payload = rng.chance(0.5) ? rng.pick(PAYLOADS) : randomBytes(rng, rng.skewed(300));
      parts.push(msg([name, ...args].join(" "), payload));
    } else {
      parts.push(
        Buffer.from(`${[name, ...args].join(" ")}${rng.pick(["\r\n", "\n", "\r\n", "\r"])}`, "utf8"),
      );
    }
  }
  return Buffer.concat(parts);
}

/** A well-framed `MSG` whose payload is mutated: only the MIME layer sees the damage. */
function mutatedPayload(rng: Rng): Buffer {
  let payload: Buffer = rng.pick(PAYLOADS);
  for (let n = rng.range(1, 3); n > 0; n--) {
    switch (rng.int(6)) {
      case 0:
        payload = flipBits(rng, payload);
        break;
      case 1:
        payload = replaceBytes(rng, payload);
        break;
      case 2:
        payload = truncate(rng, payload);
        break;
      case 3:
        payload = duplicate(rng, payload);
        break;
      case 4:
        payload = invalidUtf8(rng, payload);
        break;
      default:
        payload = splice(rng, payload, rng.pick(PAYLOADS));
    }
  }
  return msg(rng.pick(["MSG bob@example.com Bob%20B", "MSG Hotmail Hotmail"]), payload);
}

function validStream(rng: Rng): Buffer {
  return Buffer.concat(Array.from({ length: rng.range(1, 6) }, () => rng.pick(TRANSCRIPT_PIECES)));
}

export const STRATEGIES = [
  "valid",
  "bit-flip",
  "byte-replace",
  "truncate",
  "duplicate",
  "splice",
  "length",
  "mid-utf8",
  "invalid-utf8",
  "endless-line",
  "nul",
  "giant-headers",
  "tiny-commands",
  "random-bytes",
  "random-commands",
  "mime-mutation",
  "repetition",
  "stacked",
] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Relative frequencies: cheap mutations dominate, expensive big inputs are rarer. */
const WEIGHTS: Readonly<Record<Strategy, number>> = {
  valid: 3,
  "bit-flip": 12,
  "byte-replace": 10,
  truncate: 8,
  duplicate: 6,
  splice: 8,
  length: 12,
  "mid-utf8": 4,
  "invalid-utf8": 6,
  "endless-line": 2,
  nul: 5,
  "giant-headers": 0.5,
  "tiny-commands": 0.5,
  "random-bytes": 5,
  "random-commands": 8,
  "mime-mutation": 10,
  repetition: 1,
  stacked: 10,
};
const TOTAL_WEIGHT = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);

function pickStrategy(rng: Rng): Strategy {
  let x = rng.next() * TOTAL_WEIGHT;
  for (const strategy of STRATEGIES) {
    x -= WEIGHTS[strategy];
    if (x < 0) return strategy;
  }
  return "stacked";
}

/** Decoder limits an input is decoded with: the defaults, or small ones so limit edges are cheap to hit. */
export interface FuzzLimits {
  maxLineBytes: number;
  maxPayloadBytes: number;
}

const LIMIT_CHOICES: readonly FuzzLimits[] = [
  { maxLineBytes: DEFAULT_MAX_LINE_BYTES, maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES },
  { maxLineBytes: 256, maxPayloadBytes: 1024 },
  { maxLineBytes: 64, maxPayloadBytes: 64 },
  { maxLineBytes: 1024, maxPayloadBytes: 16 * 1024 },
];

export interface FuzzInput {
  index: number;
  strategy: Strategy;
  limits: FuzzLimits;
  /** The stream as the server would send it. */
  bytes: Buffer;
  /** How TCP delivered it: read sizes, summing to `bytes.length`. */
  chunks: number[];
  /** Protocol version whose dialect parsers see the decoded commands. */
  version: string;
}

function mutate(rng: Rng, strategy: Strategy, limits: FuzzLimits): Buffer {
  switch (strategy) {
    case "valid":
      return validStream(rng);
    case "bit-flip":
      return flipBits(rng, validStream(rng));
    case "byte-replace":
      return replaceBytes(rng, validStream(rng));
    case "truncate":
      return truncate(rng, validStream(rng));
    case "duplicate":
      return duplicate(rng, validStream(rng));
    case "splice":
      return splice(rng, validStream(rng), validStream(rng));
    case "length":
      return mutateLength(rng, validStream(rng));
    case "mid-utf8":
      return cutMidUtf8(rng);
    case "invalid-utf8":
      return invalidUtf8(rng, validStream(rng));
    case "endless-line":
      return Buffer.concat([
        rng.chance(0.5) ? validStream(rng) : Buffer.alloc(0),
        endlessLine(rng, limits.maxLineBytes),
      ]);
    case "nul":
      return nulBytes(rng, validStream(rng));
    case "giant-headers":
      return giantHeaders(rng, limits.maxPayloadBytes);
    case "tiny-commands":
      return tinyCommands(rng);
    case "random-bytes":
      return randomBytes(rng, rng.skewed(2048));
    case "random-commands":
      return randomCommands(rng);
    case "mime-mutation":
      return mutatedPayload(rng);
    case "repetition":
      return repetition(rng, limits);
    case "stacked": {
      let out = validStream(rng);
      const steps: Strategy[] = [
        "bit-flip",
        "byte-replace",
        "truncate",
        "duplicate",
        "length",
        "invalid-utf8",
        "nul",
      ];
      for (let n = rng.range(2, 5); n > 0; n--) {
        const step = rng.pick(steps);
        if (step === "bit-flip") out = flipBits(rng, out);
        else if (step === "byte-replace") out = replaceBytes(rng, out);
        else if (step === "truncate") out = truncate(rng, out);
        else if (step === "duplicate") out = duplicate(rng, out);
        else if (step === "length") out = mutateLength(rng, out);
        else if (step === "invalid-utf8") out = invalidUtf8(rng, out);
        else out = nulBytes(rng, out);
      }
      return out;
    }
  }
}

/** Read sizes as TCP delivers them: one read, single bytes, tiny reads, segments, or a mix. */
export function chunkSizes(rng: Rng, length: number): number[] {
  if (length === 0) return [];
  const mode = rng.int(6);
  if (mode === 0) return [length];
  if (mode === 1 && length <= 4096) return Array.from({ length }, () => 1);
  const sizes: number[] = [];
  for (let left = length; left > 0;) {
    let size: number;
    if (mode === 2) size = rng.range(1, 8);
    else if (mode === 3) size = rng.range(1, 1460);
    else if (mode === 4) size = rng.pick([1, 2, 3, 1460, 16384, 65536]);
    else size = rng.range(1, Math.max(1, Math.ceil(length / 3)));
    size = Math.min(size, left);
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

const VERSIONS = ["MSNP7", "MSNP8", "MSNP10", "MSNP11", "MSNP12"];

/** Input `index` of the campaign `seed`: always the same bytes, chunking and limits. */
export function generateInput(seed: number, index: number): FuzzInput {
  const rng = inputRng(seed, index);
  const strategy = pickStrategy(rng);
  const limits = rng.chance(0.5) ? LIMIT_CHOICES[0]! : rng.pick(LIMIT_CHOICES);
  const bytes = mutate(rng, strategy, limits);
  return {
    index,
    strategy,
    limits,
    bytes,
    chunks: chunkSizes(rng, bytes.length),
    version: rng.pick(VERSIONS),
  };
}

// ---------------------------------------------------------------------------------------------
// Driving one input

export type FuzzVerdict =
  /** Every byte decoded into commands (possibly with a partial command left pending). */
  | { kind: "ok" }
  /** Refused with a typed error (the decoder's FramingError, or any MsnError): the connection would close. */
  | { kind: "rejected"; error: MsnError }
  /** Anything else: an untyped exception or a broken invariant. A bug. */
  | { kind: "crash"; error: unknown; where: string };

export interface FuzzResult {
  verdict: FuzzVerdict;
  commands: number;
  /** Largest `decoder.bufferedBytes` seen after any read. */
  maxBuffered: number;
  /** The bound `maxBuffered` must respect for this input's limits. */
  bufferBound: number;
  durationMs: number;
}

/** What the decoder may hold between reads: a partial line (plus its CR) or one payload. */
export function bufferBound(limits: FuzzLimits): number {
  return Math.max(limits.maxLineBytes + 1, limits.maxPayloadBytes);
}

const COMMAND_NAME = /^[A-Z0-9]{3}$/;

class InvariantError extends Error {
  override readonly name = "InvariantError";
}

/**
 * Per-command work as the sessions do it, minus their sockets: the notification session's dialect
 * parsers (presence, list changes, list sync, renames, personal messages, challenges), the
 * switchboard's name decoding, and the MIME classifier for every payload.
 */
function handleCommand(command: MsnCommand, dialect: Dialect, sync: ListSync, limits: FuzzLimits): number {
  if (!COMMAND_NAME.test(command.name))
    throw new InvariantError(`command name ${JSON.stringify(command.name)}`);
  if (command.payload && command.payload.length > limits.maxPayloadBytes) {
    throw new InvariantError(`payload of ${command.payload.length} bytes over the limit`);
  }
  let sink = 0;
  sync.handle(command);
  const { name, args } = command;
  if (command.payload) {
    const content = classifyMessage(command.payload);
    sink += content.kind.length + content.mime.headers.length;
    if (content.kind === "text") sink += content.text.length;
  }
  switch (name) {
    case "ILN":
      sink += dialect.parseInitialPresence(args) ? 1 : 0;
      break;
    case "NLN":
      sink += dialect.parsePresence(args) ? 1 : 0;
      break;
    case "FLN":
      sink += dialect.parseOffline(args)?.length ?? 0;
      break;
    case "UBX":
      sink += dialect.parsePersonalMessage(command)?.personalMessage.length ?? 0;
      break;
    case "USR":
      sink += dialect.parseLoginOk(args.slice(1))?.email.length ?? 0;
      break;
    case "CHL":
      if (args[1] !== undefined) sink += dialect.answerChallenge(args[1]).length;
      break;
    case dialect.renameCommandName:
      sink +=
        dialect.parseRenameReply(/^\d+$/.test(args[0] ?? "") ? args.slice(1) : args)?.friendlyName.length ??
        0;
      break;
    default:
      sink += dialect.parseListChange(command) ? 1 : 0;
  }
  // Switchboard: sender names (MSG/JOI/IRO) and every other argument a session might decode.
  for (const arg of args) sink += decodeParam(arg).length;
  return sink;
}

let sinkTotal = 0;

/** Feeds one input through decoder, classifier and dialect parsers; never throws. */
export function runInput(input: FuzzInput): FuzzResult {
  const started = performance.now();
  const bound = bufferBound(input.limits);
  const decoder = new CommandDecoder(input.limits);
  const dialect = dialectFor(input.version);
  const sync = dialect.createListSync(6);
  sync.onSynReply(["1", "2", "1"]);
  let commands = 0;
  let maxBuffered = 0;
  let verdict: FuzzVerdict = { kind: "ok" };
  let offset = 0;
  try {
    for (const size of input.chunks) {
      const read = input.bytes.subarray(offset, offset + size);
      offset += size;
      let decoded: MsnCommand[];
      try {
        decoded = decoder.push(read);
      } catch (error) {
        if (!(error instanceof FramingError)) throw error;
        verdict = { kind: "rejected", error };
        break;
      } finally {
        maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
      }
      if (decoder.bufferedBytes > bound) {
        throw new InvariantError(`decoder holds ${decoder.bufferedBytes} bytes, bound ${bound}`);
      }
      for (const command of decoded) {
        commands++;
        sinkTotal += handleCommand(command, dialect, sync, input.limits);
      }
    }
    if (verdict.kind === "rejected" && verdict.error instanceof FramingError) {
      // A failed decoder must stay failed: the stream position is lost.
      try {
        decoder.push(Buffer.from("QNG 50\r\n"));
        throw new InvariantError("decoder accepted input after a framing error");
      } catch (error) {
        if (!(error instanceof FramingError && error.kind === "decoder-failed")) throw error;
      }
    }
    sinkTotal += sync.result().contacts.size;
  } catch (error) {
    verdict =
      error instanceof MsnError
        ? { kind: "rejected", error }
        : { kind: "crash", error, where: error instanceof InvariantError ? "invariant" : "exception" };
  }
  return { verdict, commands, maxBuffered, bufferBound: bound, durationMs: performance.now() - started };
}

/** Keeps the optimiser from dropping the parsers' work; meaningless as a number. */
export function fuzzSink(): number {
  return sinkTotal;
}

/** The command names, payload sizes and outcome of one decode, to compare chunkings. */
function decodeFingerprint(input: FuzzInput, chunks: readonly number[]): string {
  const decoder = new CommandDecoder(input.limits);
  const seen: string[] = [];
  let offset = 0;
  try {
    for (const size of chunks) {
      for (const c of decoder.push(input.bytes.subarray(offset, offset + size))) {
        seen.push(`${c.name} ${c.args.join(" ")} ${c.payload ? c.payload.toString("hex") : "-"}`);
      }
      offset += size;
    }
    return `ok ${seen.join("|")}`;
  } catch (error) {
    // Commands before the error differ with the read sizes (a throwing read returns none); the
    // kind of error must not.
    return error instanceof FramingError ? `error ${error.kind}` : `crash ${String(error)}`;
  }
}

/**
 * The decoder must not depend on how TCP split the stream: decoded in one read and in the input's
 * reads, the commands (or the kind of framing error) must be the same. Returns a description of
 * the difference, or null.
 */
export function reframingMismatch(input: FuzzInput): string | null {
  const whole = decodeFingerprint(input, input.bytes.length === 0 ? [] : [input.bytes.length]);
  const split = decodeFingerprint(input, input.chunks);
  return whole === split
    ? null
    : `one read: ${whole.slice(0, 200)}; ${input.chunks.length} reads: ${split.slice(0, 200)}`;
}

/** One line naming an input so it can be replayed: `seed=1 index=42 strategy=length …`. */
export function describeInput(seed: number, input: FuzzInput): string {
  const preview = JSON.stringify(input.bytes.subarray(0, 120).toString("latin1"));
  return `seed=${seed} index=${input.index} strategy=${input.strategy} version=${input.version} limits=${input.limits.maxLineBytes}/${input.limits.maxPayloadBytes} bytes=${input.bytes.length} reads=${input.chunks.length} start=${preview}`;
}
