/**
 * Answers to the server's `CHL` challenge (msnp.md §6). Escargot never sends one, but historic
 * servers disconnected clients that did not answer, and the answer is cheap to compute.
 */
import { createHash } from "node:crypto";

export interface ChallengeProduct {
  /** Sent in clear as the `QRY` argument. */
  productId: string;
  /** Secret mixed into the hash. */
  productKey: string;
}

/** The pair the MSN Messenger 5.x/6.x-era clients used for MSNP6–7. */
export const MSNP7_CHALLENGE_PRODUCT: ChallengeProduct = {
  productId: "msmsgs@msnmsgr.com",
  productKey: "Q1P7W2E4J9R8U3S5",
};

/** MSN Messenger 6.x pair, for the MD5 answer on MSNP8–10. */
export const MSN6_CHALLENGE_PRODUCT: ChallengeProduct = {
  productId: "PROD0038W!61ZTF9",
  productKey: "VT6PX?UQTM4WM%YR",
};

/** MSN Messenger 7.0 pair, for MSNP11+. */
export const MSNP11_CHALLENGE_PRODUCT: ChallengeProduct = {
  productId: "PROD0090YUAUV{2B",
  productKey: "YMM8C_H7KCQ2S_KL",
};

/** MSNP6–10: lowercase hex of md5(challenge + product key). */
export function answerChallengeMd5(challenge: string, productKey: string): string {
  return createHash("md5")
    .update(Buffer.from(challenge + productKey, "utf8"))
    .digest("hex");
}

const P = 0x7fffffffn;

/** MSNP11+: md5 keyed transform of §6, done in BigInt because the intermediate products exceed 2^53. */
export function answerChallengeMsnp11(challenge: string, product: ChallengeProduct): string {
  const digest = createHash("md5")
    .update(Buffer.from(challenge + product.productKey, "utf8"))
    .digest();
  const d = [0, 4, 8, 12].map((offset) => BigInt(digest.readUInt32LE(offset)));
  const [d0, d1, d2, d3] = d as [bigint, bigint, bigint, bigint];
  const [m0, m1, m2, m3] = d.map((word) => word & P) as [bigint, bigint, bigint, bigint];

  let text = challenge + product.productId;
  const padTo = Math.ceil(Buffer.byteLength(text, "utf8") / 8) * 8;
  text = text.padEnd(text.length + (padTo - Buffer.byteLength(text, "utf8")), "0");
  const words = Buffer.from(text, "utf8");

  let hi = 0n;
  let lo = 0n;
  for (let offset = 0; offset < words.length; offset += 8) {
    const c0 = BigInt(words.readUInt32LE(offset));
    const c1 = BigInt(words.readUInt32LE(offset + 4));
    const t = (m0 * (((c0 * 0x0e79a9c1n) % P) + hi) + m1) % P;
    hi = (m2 * ((c1 + t) % P) + m3) % P;
    lo = lo + hi + t;
  }
  hi = (hi + m1) % P;
  lo = (lo + m3) % P;

  const out = Buffer.alloc(16);
  out.writeUInt32LE(Number(d0 ^ hi), 0);
  out.writeUInt32LE(Number(d1 ^ lo), 4);
  out.writeUInt32LE(Number(d2 ^ hi), 8);
  out.writeUInt32LE(Number(d3 ^ lo), 12);
  return out.toString("hex");
}
