#!/usr/bin/env node
/**
 * Command-line entry point: `-r` writes the registration, otherwise the bridge runs until SIGTERM
 * or SIGINT, on which it logs out of MSN cleanly and exits 0.
 */
import { dirname, resolve } from "node:path";
import { parseCliArgs, USAGE, CliError } from "./cli/args.js";
import { ConfigError, loadConfig } from "./config/load.js";
import { generateRegistration, writeRegistration } from "./config/registration.js";
import { createLogger, getLogger } from "./logging.js";
import { startBridge } from "./app.js";

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
  const config = loadConfig(args.config);
  const registrationFile = args.registrationFile
    ? resolve(args.registrationFile)
    : config.appservice.registration;

  if (args.generateRegistration) {
    const url = args.url ?? config.appservice.url;
    if (!url) {
      process.stderr.write(
        "error: -r needs the URL the homeserver uses to reach the bridge: -u http://host:port (or appservice.url in the config)\n",
      );
      return 2;
    }
    writeRegistration(generateRegistration(config, { url }), registrationFile);
    process.stdout.write(
      `Wrote ${registrationFile}.\nAdd it to your homeserver's app_service_config_files and restart the homeserver.\n`,
    );
    return 0;
  }

  createLogger(config.logging);
  const log = getLogger("main");
  const bridge = await startBridge(config, {
    configDir: dirname(resolve(args.config)),
    registrationFile,
    port: args.port ?? undefined,
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
  (e: unknown) => {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
    } else {
      process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    process.exit(1);
  },
);
