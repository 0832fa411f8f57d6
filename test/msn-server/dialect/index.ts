import type { Dialect } from "./dialect.js";
import { MSNP10, MSNP11, MSNP12, MSNP8, MSNP9 } from "./msnp8-12.js";
import { MSNP7 } from "./msnp7.js";

export type {
  ChallengeScheme,
  Dialect,
  ListEntryRef,
  ListSnapshot,
  ListedContact,
  ListedGroup,
  OutLine,
  PresenceInfo,
} from "./dialect.js";

/**
 * Every dialect the server implements, most preferred first: like Escargot (which prefers 18…2),
 * the highest version the client offers wins.
 */
export const ALL_DIALECTS: readonly Dialect[] = [MSNP12, MSNP11, MSNP10, MSNP9, MSNP8, MSNP7];

export function dialectByName(name: string): Dialect | undefined {
  return ALL_DIALECTS.find((d) => d.name === name.toUpperCase());
}

/**
 * Picks the dialect for a `VER` request: the first of the server's (enabled) dialects, in its own
 * preference order, that the client offered. Offered tokens are compared case-insensitively like
 * Escargot does; `CVR0` and unknown tokens are ignored.
 */
export function negotiateDialect(
  offered: readonly string[],
  enabled: readonly Dialect[],
): Dialect | undefined {
  const wanted = new Set(offered.map((v) => v.toUpperCase()));
  return enabled.find((d) => wanted.has(d.name));
}
