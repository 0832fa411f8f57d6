/**
 * Command line of the SQLite → PostgreSQL move (`migrate-db`). Pure: no I/O, no process.exit.
 */
import { parseArgs } from "node:util";
import { CliError } from "./args.js";

export interface MigrateDbArgs {
  /** SQLite database file (from `--from sqlite:<path>`), as given: relative to the working directory. */
  sqlitePath: string;
  /** PostgreSQL URL (`--to`). */
  postgresUri: string;
}

export const MIGRATE_DB_USAGE = `Usage: migrate-db --from sqlite:<path> --to postgres://<user>:<password>@<host>/<database>

Moves the bridge's SQLite database into an EMPTY PostgreSQL database, in one transaction:
creates the schema, copies every table, checks the row counts, then commits. The SQLite file is
only read. Stored MSN passwords are copied as they are: keep the same credentials key file.

Stop the bridge first; afterwards set database.uri in config.yaml to the PostgreSQL URL.

Options:
  --from URI    the SQLite database, sqlite:<path> (a relative path is taken from the
                current directory, not from the config file's)
  --to URI      an empty PostgreSQL database, postgres://… or postgresql://…
  -h, --help    show this help and exit

Exit status: 0 copied and committed, 1 refused or failed (the target is left unchanged),
2 wrong usage.
`;

/** Parses argv without the node binary and script path. Returns null for `--help`. */
export function parseMigrateDbArgs(argv: string[]): MigrateDbArgs | null | CliError {
  let values: { from?: string; to?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { from: { type: "string" }, to: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    const first = ((err as Error).message ?? String(err)).split("\n")[0] ?? "";
    return new CliError(`${first.replace(/\.$/, "")} (see --help)`);
  }
  if (values.help) return null;
  if (values.from === undefined) return new CliError("--from sqlite:<path> is required");
  if (values.to === undefined) return new CliError("--to postgres://… is required");
  if (!values.from.startsWith("sqlite:") || values.from.length === "sqlite:".length) {
    return new CliError(`--from: expected sqlite:<path>, got ${JSON.stringify(schemeOf(values.from))}`);
  }
  const sqlitePath = values.from.slice("sqlite:".length);
  if (sqlitePath === ":memory:") return new CliError("--from: an in-memory database has nothing to migrate");
  if (!/^postgres(ql)?:\/\//.test(values.to) || !isUrl(values.to)) {
    // Only the scheme is echoed: the rest may hold a password.
    return new CliError(`--to: expected a postgres://… URL, got ${JSON.stringify(schemeOf(values.to))}`);
  }
  return { sqlitePath, postgresUri: values.to };
}

function isUrl(s: string): boolean {
  try {
    return new URL(s).hostname !== "" || new URL(s).searchParams.has("host");
  } catch {
    return false;
  }
}

function schemeOf(s: string): string {
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(s)?.[0] ?? s.slice(0, 20);
}
