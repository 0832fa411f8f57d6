/**
 * Command-line parsing. Pure: no I/O, no process.exit; the caller decides what to print.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";

export interface CliArgs {
  /** Config file path (default `config.yaml`; `<dataDir>/config.yaml` with `--data-dir`). */
  config: string;
  /**
   * `-d`: the container layout. The config is `<dir>/config.yaml`; a missing config is created
   * from the sample, a missing registration is generated, each followed by an exit (first-run.ts).
   */
  dataDir: string | null;
  /** `-r`: write a registration file and exit. */
  generateRegistration: boolean;
  /** `-u`: URL the homeserver uses to reach the bridge (only with `-r`). */
  url: string | null;
  /** `-f`: registration file to write (with `-r`) or read; null means the config's `appservice.registration`. */
  registrationFile: string | null;
  /** `-p`: listen port overriding `appservice.port`. */
  port: number | null;
  /** `-h`: print usage and exit. */
  help: boolean;
}

export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

export const USAGE = `Usage: matrix-appservice-msn [options]

Bridges MSN Messenger accounts into Matrix as an application service.

Options:
  -c, --config FILE              config file (default: config.yaml)
  -d, --data-dir DIR             first-run mode (the container image's default):
                                 DIR/config.yaml missing: write the sample there, exit 0;
                                 registration missing: generate it, exit 0;
                                 both present: run the bridge
  -r, --generate-registration    write the appservice registration file and exit
  -u, --url URL                  with -r: URL the homeserver uses to reach the bridge
                                 (default: appservice.url from the config)
  -f, --file FILE                registration file to write or read
                                 (default: appservice.registration from the config)
  -p, --port PORT                port to listen on (overrides appservice.port)
  -h, --help                     show this help and exit

First run:
  matrix-appservice-msn -c config.yaml -r -u http://127.0.0.1:8090
  then add the registration file to the homeserver's app_service_config_files and restart it.

Environment (each overrides its config key; empty means unset):
  MSN_HOMESERVER_URL      homeserver.url
  MSN_HOMESERVER_DOMAIN   homeserver.domain
  MSN_APPSERVICE_URL      appservice.url
  MSN_DATABASE_URI        database.uri
`;

const OPTIONS = {
  config: { type: "string", short: "c" },
  "data-dir": { type: "string", short: "d" },
  "generate-registration": { type: "boolean", short: "r" },
  url: { type: "string", short: "u" },
  file: { type: "string", short: "f" },
  port: { type: "string", short: "p" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parses `argv` without the node binary and script path (i.e. `process.argv.slice(2)`). */
export function parseCliArgs(argv: string[]): CliArgs | CliError {
  let values: {
    config?: string;
    "data-dir"?: string;
    "generate-registration"?: boolean;
    url?: string;
    file?: string;
    port?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    return new CliError(describeParseError(err));
  }

  const dataDir = values["data-dir"] ?? null;
  const args: CliArgs = {
    config: values.config ?? (dataDir ? join(dataDir, "config.yaml") : "config.yaml"),
    dataDir,
    generateRegistration: values["generate-registration"] ?? false,
    url: values.url ?? null,
    registrationFile: values.file ?? null,
    port: null,
    help: values.help ?? false,
  };
  if (args.help) return args;

  if (args.config === "") return new CliError("--config: expected a file path");
  if (dataDir !== null) {
    if (dataDir === "") return new CliError("--data-dir: expected a directory path");
    // The data dir fixes where the config and registration live; a second source would be ambiguous.
    const clash = (
      [
        ["--config", values.config],
        ["--generate-registration", values["generate-registration"]],
        ["--file", values.file],
      ] as const
    ).find(([, v]) => v !== undefined);
    if (clash) return new CliError(`--data-dir cannot be combined with ${clash[0]}`);
  }
  if (args.registrationFile === "") return new CliError("--file: expected a file path");
  if (values.port !== undefined) {
    if (!/^[0-9]{1,5}$/.test(values.port) || Number(values.port) < 1 || Number(values.port) > 65535) {
      return new CliError(`--port: expected a port number 1-65535, got ${JSON.stringify(values.port)}`);
    }
    args.port = Number(values.port);
  }
  if (args.url !== null) {
    if (!args.generateRegistration) {
      return new CliError("--url is only used with --generate-registration (-r)");
    }
    if (!isHttpUrl(args.url)) {
      return new CliError(`--url: expected an http:// or https:// URL, got ${JSON.stringify(args.url)}`);
    }
  }
  return args;
}

function isHttpUrl(s: string): boolean {
  try {
    const url = new URL(s);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

function describeParseError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  // Node's messages run over several lines with advice about "--"; the first line says it all.
  const first = (e.message ?? String(err)).split("\n")[0]?.replace(/\.$/, "") ?? "";
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const m = /Unknown option '([^']+)'/.exec(first);
      return `unknown option ${m?.[1] ?? first} (see --help)`;
    }
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL": {
      const m = /Unexpected argument '([^']+)'/.exec(first);
      return `unexpected argument ${JSON.stringify(m?.[1] ?? first)}: options take the form -c FILE (see --help)`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return `${first} (see --help)`;
    default:
      return first;
  }
}
