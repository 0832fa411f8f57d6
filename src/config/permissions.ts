import type { BridgeConfig, PermissionLevel } from "./schema.js";

/**
 * What a Matrix user may do with the bridge. The most specific entry wins: an exact user ID beats
 * the user's server name, which beats "*". So `"*": admin` with `"@eve:x": user` makes Eve a plain
 * user, and an operator can narrow a broad grant for one account.
 *
 * Returns null when the user may not use the bridge at all.
 */
export function permissionFor(config: Pick<BridgeConfig, "bridge">, userId: string): PermissionLevel | null {
  const perms = config.bridge.permissions;
  const exact = lookup(perms, userId);
  if (exact) return exact;
  // The server name is everything after the first colon (it may itself contain a port).
  const colon = userId.indexOf(":");
  if (userId.startsWith("@") && colon > 1) {
    const byServer = lookup(perms, userId.slice(colon + 1));
    if (byServer) return byServer;
  }
  return lookup(perms, "*");
}

/** Whether `level` grants at least what `needed` requires (admin ≥ user). */
export function hasPermission(level: PermissionLevel | null, needed: PermissionLevel): boolean {
  if (level === null) return false;
  return needed === "user" || level === "admin";
}

function lookup(perms: Record<string, PermissionLevel>, key: string): PermissionLevel | null {
  // Own-property check so a user ID like "__proto__" cannot reach Object.prototype.
  return Object.hasOwn(perms, key) ? (perms[key] ?? null) : null;
}
