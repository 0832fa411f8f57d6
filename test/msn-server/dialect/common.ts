import { createHash, randomBytes } from "node:crypto";

import type { OutLine, ProfileContext } from "./dialect.js";

export function line(...tokens: (string | number)[]): OutLine {
  return { tokens };
}

export function crlf(lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((l) => `${l}\r\n`).join(""), "utf8");
}

/** Stable pseudo member id (MemberIdHigh/Low) derived from the address. */
function memberId(email: string): [number, number] {
  const digest = createHash("md5").update(email, "utf8").digest();
  return [digest.readUInt32BE(0), digest.readUInt32BE(4)];
}

/**
 * `MSG Hotmail Hotmail` with `text/x-msmsgsprofile`, which Escargot sends after every login on
 * every dialect. `withClientAddress` adds ClientIP/ClientPort as the MSNP8+ profile carried them.
 */
export function profileMessage(ctx: ProfileContext, withClientAddress: boolean): OutLine {
  const [high, low] = memberId(ctx.email);
  const lines = [
    "MIME-Version: 1.0",
    "Content-Type: text/x-msmsgsprofile; charset=UTF-8",
    `LoginTime: ${Math.floor(ctx.loginTime.getTime() / 1000)}`,
    "EmailEnabled: 1",
    `MemberIdHigh: ${high}`,
    `MemberIdLow: ${low}`,
    "lang_preference: 1033",
    "preferredEmail: ",
    "country: ",
    "PostalCode: ",
    "Gender: ",
    "Kid: 0",
    "Age: ",
    "BDayPre: ",
    "Birthday: ",
    "Wallet: ",
    "Flags: 536872513",
    `MSPAuth: ${randomBytes(24).toString("base64url")}`,
  ];
  if (withClientAddress) lines.push(`ClientIP: ${ctx.clientIp}`, `ClientPort: ${ctx.clientPort}`);
  lines.push("");
  return { tokens: ["MSG", "Hotmail", "Hotmail"], payload: crlf(lines) };
}

export function systemMessage(type: number, minutes: number): OutLine {
  const payload = crlf([
    "MIME-Version: 1.0",
    "Content-Type: application/x-msmsgssystemmessage",
    "",
    `Type: ${type}`,
    `Arg1: ${minutes}`,
  ]);
  return { tokens: ["MSG", "Hotmail", "Hotmail"], payload };
}
