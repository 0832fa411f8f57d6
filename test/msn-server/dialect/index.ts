import type { Dialect } from "./dialect.js";
import { MSNP7 } from "./msnp7.js";

export type { ChallengeScheme, Dialect, ListSnapshot, ListedContact, OutLine } from "./dialect.js";

/** Every dialect the server implements, most preferred first (Escargot prefers the highest). */
export const ALL_DIALECTS: readonly Dialect[] = [MSNP7];

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
