#!/usr/bin/env node
/**
 * The container image's HEALTHCHECK: GET /live on the appservice listener, found from the same
 * config (and `MSN_*` environment) the bridge runs with, so changing appservice.port in the config
 * does not leave the check probing the old one. Exits 0 when live, 1 otherwise.
 *
 *   node dist/src/healthcheck.js [--data-dir DIR | -c FILE]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "./config/load.js";

const TIMEOUT_MS = 4_000;

/** Where to reach a listener bound to `hostname`: a wildcard address is reached on loopback. */
export function probeHost(hostname: string): string {
  if (hostname === "0.0.0.0") return "127.0.0.1";
  if (hostname === "::" || hostname === "[::]") return "[::1]";
  return hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { "data-dir": { type: "string", short: "d" }, config: { type: "string", short: "c" } },
    strict: true,
  });
  const configPath = values.config ?? join(values["data-dir"] ?? ".", "config.yaml");
  const { hostname, port } = loadConfig(configPath).appservice;
  const url = `http://${probeHost(hostname)}:${port}/live`;
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  await res.body?.cancel();
  if (res.ok) return 0;
  process.stderr.write(`unhealthy: GET ${url} answered ${res.status}\n`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    // fetch's own message is just "fetch failed"; the cause says why (ECONNREFUSED, timeout...).
    const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : "";
    process.stderr.write(`unhealthy: ${e instanceof Error ? e.message : String(e)}${cause}\n`);
    process.exit(1);
  },
);
