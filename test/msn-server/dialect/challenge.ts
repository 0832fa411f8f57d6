import { createHash } from "node:crypto";

import type { ChallengeScheme } from "./dialect.js";

function md5(text: string): Buffer {
  return createHash("md5").update(text, "utf8").digest();
}

/** MSNP6–10 answers: lowercase hex of md5(challenge + product key) (msnp.md §6). */
export function md5ChallengeScheme(productId: string, productKey: string): ChallengeScheme {
  return { productId, answer: (challenge) => md5(challenge + productKey).toString("hex") };
}

const P = 0x7fffffffn;

/**
 * The MSNP11+ keyed transform, step by step as msnp.md §6 gives it (BigInt for the 64-bit
 * products). The final XOR uses the unmasked md5 words like real clients; Escargot's dormant
 * verifier XORs the masked ones, which only matters for servers that actually challenge.
 */
export function msnp11Answer(challenge: string, productId: string, productKey: string): string {
  const digest = md5(challenge + productKey);
  const d = [0, 1, 2, 3].map((i) => digest.readUInt32LE(i * 4));
  const m = d.map((w) => BigInt(w & 0x7fffffff));
  let text = challenge + productId;
  if (text.length % 8 !== 0) text += "0".repeat(8 - (text.length % 8));
  const bytes = Buffer.from(text, "ascii");
  const c: bigint[] = [];
  for (let i = 0; i < bytes.length; i += 4) c.push(BigInt(bytes.readUInt32LE(i)));
  let hi = 0n;
  let lo = 0n;
  for (let k = 0; k + 1 < c.length; k += 2) {
    const t = (m[0]! * (((c[k]! * 0x0e79a9c1n) % P) + hi) + m[1]!) % P;
    hi = (m[2]! * ((c[k + 1]! + t) % P) + m[3]!) % P;
    lo = lo + hi + t;
  }
  hi = (hi + m[1]!) % P;
  lo = (lo + m[3]!) % P;
  const out = Buffer.alloc(16);
  const h = Number(hi);
  const l = Number(lo);
  out.writeUInt32LE((d[0]! ^ h) >>> 0, 0);
  out.writeUInt32LE((d[1]! ^ l) >>> 0, 4);
  out.writeUInt32LE((d[2]! ^ h) >>> 0, 8);
  out.writeUInt32LE((d[3]! ^ l) >>> 0, 12);
  return out.toString("hex");
}

/** MSNP6–7: the public msmsgs pair. */
export const MSMSGS_CHALLENGE = md5ChallengeScheme("msmsgs@msnmsgr.com", "Q1P7W2E4J9R8U3S5");

/** MSNP8–10: md5 with the MSN 6.x pair (msnp.md §6 lists it among the public pairs). */
export const MSN6_CHALLENGE = md5ChallengeScheme("PROD0038W!61ZTF9", "VT6PX?UQTM4WM%YR");

/** MSNP11+: the MSN 7.0 pair with the MSNP11 transform. */
export const MSN7_CHALLENGE: ChallengeScheme = {
  productId: "PROD0090YUAUV{2B",
  answer: (challenge) => msnp11Answer(challenge, "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL"),
};
