#!/usr/bin/env node
/**
 * `migrate-db`: moves the bridge's SQLite database into an empty PostgreSQL database
 * (src/store/migrate-sqlite-to-postgres.ts does the work; this prints and sets the exit status).
 *
 *   node dist/src/cli/migrate-db.js --from sqlite:/data/msn-bridge.db --to postgres://u:p@host/db
 */
import { CliError } from "./args.js";
import { MIGRATE_DB_USAGE, parseMigrateDbArgs } from "./migrate-db-args.js";
import { DatabaseMigrationError, migrateSqliteToPostgres } from "../store/migrate-sqlite-to-postgres.js";
import { redactUri } from "../store/postgres-store.js";

async function main(argv: string[]): Promise<number> {
  const args = parseMigrateDbArgs(argv);
  if (args instanceof CliError) {
    process.stderr.write(`migrate-db: ${args.message}\n\n${MIGRATE_DB_USAGE}`);
    return 2;
  }
  if (args === null) {
    process.stdout.write(MIGRATE_DB_USAGE);
    return 0;
  }
  try {
    const report = await migrateSqliteToPostgres({
      sqlitePath: args.sqlitePath,
      postgresUri: args.postgresUri,
      progress: (line) => process.stdout.write(`migrate-db: ${line}\n`),
    });
    const rows = report.tables.reduce((sum, t) => sum + t.rows, 0);
    process.stdout.write(
      `migrate-db: done: ${rows} rows in ${report.tables.length} tables moved to ${redactUri(args.postgresUri)}.\n` +
        "Next: set database.uri in config.yaml to that URL (keep bridge.credentials_key_file as it is),\n" +
        "start the bridge, check that it works, then archive the SQLite file.\n",
    );
    return 0;
  } catch (err) {
    if (err instanceof DatabaseMigrationError) {
      process.stderr.write(`migrate-db: ${err.message}\nmigrate-db: nothing was written to PostgreSQL.\n`);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`migrate-db: error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
