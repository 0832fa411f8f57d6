/**
 * One-shot move of a bridge database from SQLite to PostgreSQL, for installations that outgrow the
 * embedded file. Everything happens in ONE PostgreSQL transaction: the schema is created at the
 * SQLite database's version, every table is copied, row counts are checked, later migrations are
 * applied, and only then is it committed. A failure at any point leaves the target as empty as it
 * was. The SQLite file is opened read-only and never changed.
 *
 * Rows are copied as stored. Passwords stay encrypted with the same key file (the ciphertext is
 * bound to the user ID, not to the database), so the bridge reads them unchanged once it runs with
 * `database.uri` pointing at PostgreSQL and the same `bridge.credentials_key_file`.
 */
import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import pg from "pg";
import { StoreError } from "./errors.js";
import {
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  SCHEMA_VERSION_TABLE_SQL,
  migrationSql,
  pendingMigrations,
  type Migration,
} from "./migrations.js";
import { MIGRATION_LOCK_ID, redactUri } from "./postgres-store.js";

/** The migration was refused or failed; the target database was left unchanged. */
export class DatabaseMigrationError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseMigrationError";
  }
}

export interface TableCopy {
  table: string;
  rows: number;
}

export interface MigrationReport {
  /** Schema version of the SQLite database. */
  sourceVersion: number;
  /** Schema version of the PostgreSQL database after the move (the bridge's latest). */
  targetVersion: number;
  /** Every table copied, in copy order, with the row count found on both sides. */
  tables: TableCopy[];
}

export interface MigrateOptions {
  /** Path of the SQLite database file. */
  sqlitePath: string;
  /** `postgres://` or `postgresql://` URL of an empty database. */
  postgresUri: string;
  /** Progress lines for a human (one per step). */
  progress?: (line: string) => void;
  /** Override the migration list (tests only). */
  migrations?: readonly Migration[];
}

// Rows per INSERT: large enough to be fast, small enough to stay far below PostgreSQL's
// 65,535 bind parameters per statement for any table we have.
const BATCH_PARAMETERS = 8_000;

type SqliteValue = string | number | bigint | Buffer | null;
type PgValue = string | number | boolean | Buffer | null;

interface SourceTable {
  name: string;
  columns: string[];
  /** Columns referencing another column of the same table (e.g. a group portal's parent room). */
  selfReferences: { from: string; to: string }[];
  /** Other tables this one references, which must be filled first. */
  dependsOn: string[];
  count: number;
}

export async function migrateSqliteToPostgres(options: MigrateOptions): Promise<MigrationReport> {
  const { sqlitePath, postgresUri } = options;
  const migrations = options.migrations ?? MIGRATIONS;
  const say = options.progress ?? ((): void => undefined);
  const latest = options.migrations
    ? migrations.reduce((max, m) => Math.max(max, m.version), 0)
    : LATEST_SCHEMA_VERSION;
  if (!existsSync(sqlitePath)) {
    throw new DatabaseMigrationError(`SQLite database ${sqlitePath} does not exist`);
  }

  let source: Database.Database;
  try {
    source = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new DatabaseMigrationError(`cannot open SQLite database ${sqlitePath}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const client = new pg.Client({ connectionString: postgresUri, connectionTimeoutMillis: 15_000 });
  try {
    // A read transaction: every table is read from one snapshot even if something writes meanwhile
    // (the bridge should be stopped, but a forgotten one must not produce a torn copy).
    source.exec("BEGIN");
    const sourceVersion = readSourceVersion(source, sqlitePath);
    const toApplyBefore = migrations
      .filter((m) => m.version <= sourceVersion)
      .sort((a, b) => a.version - b.version);
    const toApplyAfter = pendingMigrations(sourceVersion, migrations);
    const tables = orderForInsert(readSourceTables(source));
    say(
      `SQLite ${sqlitePath}: schema version ${sourceVersion}, ` +
        tables.map((t) => `${t.name} ${t.count}`).join(", "),
    );

    try {
      await client.connect();
    } catch (err) {
      throw new DatabaseMigrationError(
        `cannot connect to PostgreSQL at ${redactUri(postgresUri)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    // An idle-client error would otherwise be an unhandled 'error' event.
    client.on("error", () => undefined);

    const copied: TableCopy[] = [];
    await client.query("BEGIN");
    try {
      // A bridge starting on the target meanwhile waits for this lock, then finds the schema ready.
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_ID]);
      await refuseNonEmptyTarget(client, postgresUri);

      await client.query(SCHEMA_VERSION_TABLE_SQL);
      for (const m of toApplyBefore) await client.query(migrationSql(m, "postgres"));
      const targetColumns = await readTargetColumns(client);

      for (const table of tables) {
        const columns = targetColumns.get(table.name);
        if (!columns) {
          throw new DatabaseMigrationError(
            `table ${table.name} of the SQLite database is not part of schema version ${sourceVersion}; ` +
              "was the file made by this bridge?",
          );
        }
        const missing = table.columns.filter((c) => !columns.has(c));
        if (missing.length > 0) {
          throw new DatabaseMigrationError(
            `table ${table.name}: column(s) ${missing.join(", ")} of the SQLite database are not part ` +
              `of schema version ${sourceVersion}`,
          );
        }
        try {
          await copyTable(source, client, table, columns);
        } catch (err) {
          if (err instanceof DatabaseMigrationError) throw err;
          throw new DatabaseMigrationError(`copying table ${table.name} failed: ${(err as Error).message}`, {
            cause: err,
          });
        }
        const res = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quote(table.name)}`);
        const inTarget = Number(res.rows[0]?.n);
        if (inTarget !== table.count) {
          throw new DatabaseMigrationError(
            `table ${table.name}: ${table.count} rows in SQLite but ${inTarget} in PostgreSQL after the copy`,
          );
        }
        copied.push({ table: table.name, rows: table.count });
        say(`copied ${table.name}: ${table.count} rows (count verified)`);
      }

      for (const m of toApplyAfter) {
        await client.query(migrationSql(m, "postgres"));
        await client.query(
          `INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)`,
          [m.version, m.description, Date.now()],
        );
        say(`applied migration ${m.version}: ${m.description}`);
      }
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
    say(`committed: PostgreSQL ${redactUri(postgresUri)} is at schema version ${latest}`);
    return { sourceVersion, targetVersion: latest, tables: copied };
  } catch (err) {
    if (err instanceof DatabaseMigrationError) throw err;
    throw new DatabaseMigrationError((err as Error).message, { cause: err });
  } finally {
    if (source.inTransaction) source.exec("ROLLBACK");
    source.close();
    await client.end().catch(() => undefined);
  }
}

function readSourceVersion(db: Database.Database, path: string): number {
  const hasTable = db
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`)
    .get();
  if (!hasTable) {
    throw new DatabaseMigrationError(`${path} is not a bridge database (it has no schema_version table)`);
  }
  const row = db.prepare(`SELECT COALESCE(MAX(version), 0) AS v FROM schema_version`).get() as { v: number };
  if (row.v === 0) {
    throw new DatabaseMigrationError(`${path} has no schema yet: nothing to migrate`);
  }
  return row.v;
}

function readSourceTables(db: Database.Database): SourceTable[] {
  const names = (
    db
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`,
      )
      .all() as { name: string }[]
  ).map((r) => r.name);
  return names.map((name) => {
    const columns = (db.prepare(`PRAGMA table_info(${quote(name)})`).all() as { name: string }[]).map(
      (c) => c.name,
    );
    const fks = db.prepare(`PRAGMA foreign_key_list(${quote(name)})`).all() as {
      table: string;
      from: string;
      to: string | null;
    }[];
    const count = (db.prepare(`SELECT count(*) AS n FROM ${quote(name)}`).get() as { n: number }).n;
    return {
      name,
      columns,
      selfReferences: fks
        .filter((f) => f.table === name && f.to !== null)
        .map((f) => ({ from: f.from, to: f.to! })),
      dependsOn: fks.filter((f) => f.table !== name).map((f) => f.table),
      count,
    };
  });
}

/** Referenced tables first; schema_version first of all (it names what the rest is). */
function orderForInsert(tables: SourceTable[]): SourceTable[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const ordered: SourceTable[] = [];
  const visiting = new Set<string>();
  const visit = (t: SourceTable): void => {
    if (ordered.includes(t)) return;
    if (visiting.has(t.name))
      throw new DatabaseMigrationError(`foreign keys between tables form a cycle at ${t.name}`);
    visiting.add(t.name);
    for (const dep of t.dependsOn) {
      const d = byName.get(dep);
      if (d) visit(d);
    }
    visiting.delete(t.name);
    ordered.push(t);
  };
  const schema = byName.get("schema_version");
  if (schema) visit(schema);
  for (const t of [...tables].sort((a, b) => a.name.localeCompare(b.name))) visit(t);
  return ordered;
}

async function refuseNonEmptyTarget(client: pg.Client, uri: string): Promise<void> {
  const res = await client.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
  );
  if (res.rows.length > 0) {
    const names = res.rows.map((r) => r.table_name);
    const shown = names.slice(0, 8).join(", ") + (names.length > 8 ? `, … (${names.length} tables)` : "");
    throw new DatabaseMigrationError(
      `the PostgreSQL database ${redactUri(uri)} is not empty (it has ${shown}); ` +
        "migrate into a new, empty database (e.g. createdb -O <owner> <name>)",
    );
  }
}

/** Column name → data type, per table of the current schema. */
async function readTargetColumns(client: pg.Client): Promise<Map<string, Map<string, string>>> {
  const res = await client.query<{ table_name: string; column_name: string; data_type: string }>(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
     WHERE table_schema = current_schema()`,
  );
  const tables = new Map<string, Map<string, string>>();
  for (const r of res.rows) {
    let cols = tables.get(r.table_name);
    if (!cols) tables.set(r.table_name, (cols = new Map()));
    cols.set(r.column_name, r.data_type);
  }
  return tables;
}

async function copyTable(
  source: Database.Database,
  client: pg.Client,
  table: SourceTable,
  targetTypes: Map<string, string>,
): Promise<void> {
  if (table.count === 0) return;
  const columns = table.columns;
  const stmt = source.prepare(`SELECT ${columns.map(quote).join(", ")} FROM ${quote(table.name)}`);
  // BIGINT timestamps must not pass through a double; bigints are sent as text.
  stmt.safeIntegers(true);
  stmt.raw(true);
  let rows = stmt.all() as SqliteValue[][];
  const types = columns.map((c) => targetTypes.get(c) ?? "text");
  if (table.selfReferences.length > 0) rows = parentsFirst(rows, columns, table);

  const insert = `INSERT INTO ${quote(table.name)} (${columns.map(quote).join(", ")}) VALUES `;
  const perBatch = Math.max(1, Math.floor(BATCH_PARAMETERS / columns.length));
  for (let start = 0; start < rows.length; start += perBatch) {
    const batch = rows.slice(start, start + perBatch);
    const params: PgValue[] = [];
    const tuples = batch.map((row) => {
      const slots = row.map((value, i) => {
        params.push(toPg(value, types[i]!, table.name, columns[i]!));
        return `$${params.length}`;
      });
      return `(${slots.join(", ")})`;
    });
    await client.query(insert + tuples.join(", "), params);
  }
}

/**
 * Orders rows so that a row referenced through a self-reference (a group portal's parent 1:1
 * portal) is inserted before the rows pointing at it; the foreign key is checked per statement.
 */
function parentsFirst(rows: SqliteValue[][], columns: string[], table: SourceTable): SqliteValue[][] {
  const refs = table.selfReferences.map((r) => ({
    from: columns.indexOf(r.from),
    to: columns.indexOf(r.to),
  }));
  const remaining = [...rows];
  const ordered: SqliteValue[][] = [];
  const placed = refs.map(() => new Set<string>());
  const present = refs.map((r) => new Set(rows.map((row) => String(row[r.to]))));
  while (remaining.length > 0) {
    const ready = remaining.filter((row) =>
      refs.every((r, i) => {
        const v = row[r.from];
        // A reference to a row that is not there stays as it is: PostgreSQL then names the problem.
        return v === null || v === undefined || !present[i]!.has(String(v)) || placed[i]!.has(String(v));
      }),
    );
    if (ready.length === 0) {
      throw new DatabaseMigrationError(`table ${table.name}: rows reference each other in a cycle`);
    }
    for (const row of ready) {
      ordered.push(row);
      refs.forEach((r, i) => placed[i]!.add(String(row[r.to])));
      remaining.splice(remaining.indexOf(row), 1);
    }
  }
  return ordered;
}

function toPg(value: SqliteValue, type: string, table: string, column: string): PgValue {
  if (value === null) return null;
  if (type === "boolean") {
    // SQLite has no boolean type: the store wrote 0/1.
    if (value === 0n || value === 1n) return value === 1n;
    throw new DatabaseMigrationError(
      `${table}.${column}: expected 0 or 1 for a boolean, got ${String(value)}`,
    );
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
