/**
 * Appservice registration file: what the homeserver needs to know about the bridge. Generated
 * once (`-r`), then copied into the homeserver's config; the tokens in it are secrets.
 */
import { closeSync, fsyncSync, openSync, writeSync, chmodSync } from "node:fs";
import { AppServiceRegistration } from "matrix-appservice-bridge";
import YAML from "yaml";
import type { BridgeConfig } from "./schema.js";

export const DEFAULT_REGISTRATION_ID = "msn";

export interface GenerateRegistrationOptions {
  /** URL the homeserver uses to reach the bridge, e.g. `http://127.0.0.1:8090`. */
  url: string;
  /** Appservice ID; must be unique on the homeserver and never change. Default "msn". */
  id?: string;
}

export class RegistrationExistsError extends Error {
  constructor(readonly file: string) {
    super(
      `Refusing to overwrite existing registration file ${file} (its tokens are already in use by the homeserver)`,
    );
    this.name = "RegistrationExistsError";
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Regex of the ghost users' IDs: `^@<prefix>.*:<domain>$`. Anchored at both ends: homeservers
 * match from the start only, so an unanchored pattern would also claim `@msn_x:example.org.evil`.
 */
export function ghostUserRegex(config: Pick<BridgeConfig, "homeserver" | "bridge">): string {
  return `^@${escapeRegex(config.bridge.user_prefix)}.*:${escapeRegex(config.homeserver.domain)}$`;
}

export function generateRegistration(
  config: Pick<BridgeConfig, "homeserver" | "bridge">,
  options: GenerateRegistrationOptions,
): AppServiceRegistration {
  const reg = new AppServiceRegistration(options.url);
  reg.setId(options.id ?? DEFAULT_REGISTRATION_ID);
  reg.setHomeserverToken(AppServiceRegistration.generateToken());
  reg.setAppServiceToken(AppServiceRegistration.generateToken());
  reg.setSenderLocalpart(config.bridge.bot_username);
  reg.setRateLimited(false);
  // Typing and presence (MSC2409) reach the bridge only when the homeserver pushes ephemeral events.
  reg.pushEphemeral = true;
  const domain = escapeRegex(config.homeserver.domain);
  reg.addRegexPattern("users", ghostUserRegex(config), true);
  reg.addRegexPattern("users", `^@${escapeRegex(config.bridge.bot_username)}:${domain}$`, true);
  return reg;
}

/**
 * The registration as YAML. Besides the MSC2409 key the library writes, it carries the stable
 * `receive_ephemeral` key that newer homeservers read instead.
 */
export function registrationToYaml(reg: AppServiceRegistration): string {
  const out: Record<string, unknown> = { ...reg.getOutput() };
  if (reg.pushEphemeralEnabled()) out.receive_ephemeral = true;
  return YAML.stringify(out);
}

/**
 * Writes the registration with mode 0600. An existing file is left alone unless `force` is set:
 * replacing it would silently invalidate the tokens the homeserver already has.
 */
export function writeRegistration(
  reg: AppServiceRegistration,
  file: string,
  options: { force?: boolean } = {},
): void {
  const text = registrationToYaml(reg);
  let fd: number;
  try {
    fd = openSync(file, options.force ? "w" : "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new RegistrationExistsError(file);
    throw err;
  }
  try {
    // The mode argument only applies when the file is created; a forced overwrite tightens it too.
    chmodSync(file, 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
