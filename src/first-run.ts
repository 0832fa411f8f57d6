/**
 * First run in a data directory (`--data-dir`, the container image's default), the flow operators
 * know from the mautrix images: each start does the next missing step and says what to do next.
 *
 *   no config.yaml         → write the commented sample there, exit 0
 *   config, no registration → generate the registration, exit 0
 *   both                    → run the bridge
 *
 * The set-up steps exit 0 (as mautrix's do): they did what was asked, and a restart policy of
 * `on-failure` then leaves the container stopped for the operator to read the message instead of
 * looping. Starting again with the sample still unedited is an error (exit 1), so an `always`
 * restart policy cannot go on to register a bridge for example.org.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "./config/load.js";
import type { BridgeConfig } from "./config/schema.js";
import type { Env } from "./config/env-overrides.js";

export type FirstRunStep =
  | { kind: "wrote-config"; configPath: string; message: string }
  | { kind: "wrote-registration"; registrationPath: string; message: string }
  | { kind: "ready"; configPath: string; registrationPath: string; config: BridgeConfig };

/** The data directory cannot be set up; the message says what the operator should change. */
export class FirstRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FirstRunError";
  }
}

export interface FirstRunOptions {
  /** config/config.sample.yaml as shipped. */
  samplePath: string;
  /** Where the `MSN_*` overrides come from. */
  env: Env;
  /** For "must be writable by uid N"; default the process's. */
  uid?: number;
}

/**
 * The sample as written into a data dir. A container's listener must accept connections from
 * outside it, so the sample's loopback hostname becomes 0.0.0.0 (the schema default).
 */
export function dataDirSample(sampleText: string): string {
  const lines = sampleText.split("\n");
  // The section runs until the next line that starts in column 0 (a key or a comment).
  for (let i = lines.indexOf("appservice:") + 1; i > 0 && i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (/^\S/.test(line)) break;
    if (line === "  hostname: 127.0.0.1") {
      lines[i] = "  hostname: 0.0.0.0";
      break;
    }
  }
  return lines.join("\n");
}

export async function firstRun(dataDir: string, options: FirstRunOptions): Promise<FirstRunStep> {
  const uid = options.uid ?? process.getuid?.() ?? 1000;
  const writable =
    `${dataDir} must be writable by uid ${uid}` + (uid === 1000 ? " (the image's node user)" : "");
  let isDir: boolean;
  try {
    isDir = statSync(dataDir).isDirectory();
  } catch (err) {
    throw new FirstRunError(
      `data directory ${dataDir}: ${describeFsError(err)}` +
        ((err as NodeJS.ErrnoException).code === "ENOENT" ? " (mount a volume there)" : ""),
    );
  }
  if (!isDir) throw new FirstRunError(`data directory ${dataDir} is not a directory`);

  const configPath = join(dataDir, "config.yaml");
  const sample = dataDirSample(readFileSync(options.samplePath, "utf8"));
  let current: string | null;
  try {
    current = readFileSync(configPath, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new FirstRunError(`cannot read ${configPath}: ${describeFsError(err)}`);
    }
    current = null;
  }

  if (current === null) {
    try {
      // 0600: the config may come to hold a database password. "wx": never replace a file that
      // appeared in the meantime.
      writeFileSync(configPath, sample, { mode: 0o600, flag: "wx" });
    } catch (err) {
      throw new FirstRunError(`cannot write ${configPath}: ${describeFsError(err)}; ${writable}`);
    }
    return {
      kind: "wrote-config",
      configPath,
      message:
        `No config found: wrote the sample config to ${configPath}.\n` +
        `Edit it, then start the bridge again to generate the registration. Set at least:\n` +
        `  homeserver.url, homeserver.domain  the homeserver (or MSN_HOMESERVER_URL, MSN_HOMESERVER_DOMAIN)\n` +
        `  appservice.url                     where the homeserver reaches the bridge (or MSN_APPSERVICE_URL)\n` +
        `  bridge.permissions                 who may use the bridge\n` +
        `  msn.server                         the MSN server to log in to\n`,
    };
  }

  if (current === sample) {
    throw new FirstRunError(
      `${configPath} is still the unedited sample: edit it (homeserver, appservice.url, ` +
        `bridge.permissions, msn.server; see the comments in it), then start the bridge again`,
    );
  }

  const config = loadConfig(configPath, { env: options.env });
  const registrationPath = config.appservice.registration;
  try {
    statSync(registrationPath);
    return { kind: "ready", configPath, registrationPath, config };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new FirstRunError(`cannot read the registration ${registrationPath}: ${describeFsError(err)}`);
    }
  }

  const url = config.appservice.url;
  if (!url) {
    throw new FirstRunError(
      `cannot generate ${registrationPath}: set appservice.url in ${configPath} (or MSN_APPSERVICE_URL) ` +
        `to the URL the homeserver reaches the bridge at, e.g. http://msn-bridge:${config.appservice.port}`,
    );
  }
  // Loaded on demand: it pulls in matrix-appservice-bridge, which every other step can do without.
  const { generateRegistration, writeRegistration } = await import("./config/registration.js");
  try {
    writeRegistration(generateRegistration(config, { url }), registrationPath);
  } catch (err) {
    throw new FirstRunError(`cannot write ${registrationPath}: ${describeFsError(err)}; ${writable}`);
  }
  return {
    kind: "wrote-registration",
    registrationPath,
    message:
      `No registration found: wrote ${registrationPath} (the homeserver will reach the bridge at ${url}).\n` +
      `Add it to your homeserver (Synapse: list it under app_service_config_files in homeserver.yaml),\n` +
      `restart the homeserver, then start the bridge again.\n`,
  };
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "does not exist";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EROFS") return "read-only file system";
  return err instanceof Error ? err.message : String(err);
}
