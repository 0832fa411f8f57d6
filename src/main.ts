#!/usr/bin/env node
/**
 * Command-line entry point: `-r` writes the registration, `--data-dir` does the next missing
 * first-run step (first-run.ts), otherwise the bridge runs until SIGTERM or SIGINT, on which it
 * logs out of MSN cleanly and exits 0.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCliArgs, USAGE, CliError } from "./cli/args.js";
import { activeEnvOverrides } from "./config/env-overrides.js";
import type { BridgeConfig } from "./config/schema.js";
import { EarlyListener } from "./matrix/early-listener.js";

/** config/config.sample.yaml, two levels above this compiled file (dist/src/ or /app/dist/src/). */
const SAMPLE_CONFIG = resolve(dirname(fileURLToPath(import.meta.url)), "../../config/config.sample.yaml");

async function main(argv: string[]): Promise<number> {
  const args = parseCliArgs(argv);
  if (args instanceof CliError) {
    process.stderr.write(`${args.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // The appservice port is bound before the bridge's libraries load (about a second of CPU), so
  // probes get /health and /live at once and /ready says "starting" (early-listener.ts). The
  // listener's thread boots now, on the other core, while this one loads the configuration code
  // (YAML and schema, ~130 ms): it can only bind once the configuration says where. With
  // MATRIX_AS_TLS_* the appservice serves HTTPS and binds the port itself, later. Paths that end
  // before the bridge runs leave through process.exit, which ends the thread too.
  const tls = process.env.MATRIX_AS_TLS_KEY || process.env.MATRIX_AS_TLS_CERT;
  const early = args.generateRegistration || tls ? null : EarlyListener.boot();
  const { loadConfig } = await import("./config/load.js");
  let config: BridgeConfig;
  let registrationFile: string;
  if (args.dataDir !== null) {
    const { firstRun } = await import("./first-run.js");
    const step = await firstRun(resolve(args.dataDir), { samplePath: SAMPLE_CONFIG, env: process.env });
    if (step.kind !== "ready") {
      process.stdout.write(step.message);
      return 0;
    }
    ({ config, registrationPath: registrationFile } = step);
  } else {
    config = loadConfig(args.config);
    registrationFile = args.registrationFile
      ? resolve(args.registrationFile)
      : config.appservice.registration;
  }

  if (args.generateRegistration) {
    const url = args.url ?? config.appservice.url;
    if (!url) {
      process.stderr.write(
        "error: -r needs the URL the homeserver uses to reach the bridge: -u http://host:port (or appservice.url in the config)\n",
      );
      return 2;
    }
    const { generateRegistration, writeRegistration } = await import("./config/registration.js");
    writeRegistration(generateRegistration(config, { url }), registrationFile);
    process.stdout.write(
      `Wrote ${registrationFile}.\nAdd it to your homeserver's app_service_config_files and restart the homeserver.\n`,
    );
    return 0;
  }

  await early?.bind(args.port ?? config.appservice.port, config.appservice.hostname);
  // The bridge's libraries load only to run: --help, -r and the first-run steps start faster
  // without them (a container healthcheck or a test spawns these often).
  const { createLogger, getLogger } = await import("./logging.js");
  const { startBridge } = await import("./app.js");
  createLogger(config.logging);
  const log = getLogger("main");
  const fromEnv = activeEnvOverrides(process.env);
  if (fromEnv.length > 0) {
    // Names only: the database URI may carry a password.
    log.info("config keys set from the environment", {
      keys: fromEnv.map((o) => `${o.path.join(".")} (${o.variable})`),
    });
  }
  const bridge = await startBridge(config, {
    configDir: dirname(resolve(args.config)),
    registrationFile,
    port: args.port ?? undefined,
    listener: early ?? undefined,
  });
  await new Promise<void>((done) => {
    const stop = (signal: string): void => {
      log.info(`received ${signal}`);
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      done();
    };
    const onTerm = (): void => stop("SIGTERM");
    const onInt = (): void => stop("SIGINT");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
  });
  await bridge.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (e: unknown) => {
    // Loaded by main() before anything can throw one, so this import costs nothing then.
    const { ConfigError } = await import("./config/load.js");
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
    } else {
      process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    process.exit(1);
  },
);
