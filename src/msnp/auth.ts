/** MD5 login (MSNP2–7, msnp.md §3.3). */
import { createHash } from "node:crypto";

/**
 * The `USR … MD5 S` response: lowercase hex md5 of the challenge exactly as received followed by
 * the password, both UTF-8. The result is replayable on Escargot (the "challenge" is a fixed salt),
 * so treat it like the password itself: never log it.
 */
export function md5LoginHash(challenge: string, password: string): string {
  return createHash("md5")
    .update(Buffer.from(challenge + password, "utf8"))
    .digest("hex");
}
