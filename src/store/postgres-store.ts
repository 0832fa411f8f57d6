/**
 * PostgreSQL engine (node-postgres Pool), for installations that already run PostgreSQL or want
 * the database off the bridge's disk. Same schema and migrations as SQLite.
 */
import pg from "pg";
import { getLogger } from "../logging.js";
import { StoreConstraintError, StoreError, type ConstraintKind } from "./errors.js";
import { SCHEMA_VERSION_TABLE_SQL, migrationSql, pendingMigrations, type Migration } from "./migrations.js";
import { SqlStore, type SqlDriver, type SqlRow, type SqlStoreOptions, type SqlValue } from "./sql-store.js";

const log = getLogger("store.postgres");

// Arbitrary constant identifying this bridge's migration lock among other users of the database.
// The SQLite → PostgreSQL move takes it too, so a bridge starting meanwhile waits for it.
export const MIGRATION_LOCK_ID = 0x6d736e62; // "msnb"

export interface PostgresStoreOptions extends SqlStoreOptions {
  /** Pool size (default 10). */
  maxConnections?: number;
}

export class PostgresStore extends SqlStore {
  /** `uri` is a `postgres://` or `postgresql://` connection URL. */
  constructor(uri: string, options: PostgresStoreOptions) {
    super(new PostgresDriver(uri, options.maxConnections ?? 10), options);
  }
}

/** The URI with any password masked, for messages. */
export function redactUri(uri: string): string {
  try {
    const url = new URL(uri);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(unparseable URI)";
  }
}

class PostgresDriver implements SqlDriver {
  readonly engine = "postgres" as const;
  #pool: pg.Pool | null = null;
  readonly #placeholders = new Map<string, string>();

  constructor(
    readonly uri: string,
    readonly maxConnections: number,
  ) {}

  async connect(): Promise<void> {
    const pool = new pg.Pool({
      connectionString: this.uri,
      max: this.maxConnections,
      connectionTimeoutMillis: 15_000,
      idleTimeoutMillis: 60_000,
    });
    // An idle client losing its connection (server restart) is reported here; without a listener
    // it would be an unhandled 'error' event and kill the process. The pool replaces the client.
    pool.on("error", (err) => log.warn("idle PostgreSQL connection failed", { err }));
    try {
      await pool.query("SELECT 1");
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new StoreError(
        `cannot connect to PostgreSQL at ${redactUri(this.uri)}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    this.#pool = pool;
  }

  async migrate(migrations: readonly Migration[]): Promise<{ from: number; to: number }> {
    const client = await this.#open().connect();
    const current = async (): Promise<number> => {
      const res = await client.query<{ v: number }>(
        `SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_version`,
      );
      return res.rows[0]?.v ?? 0;
    };
    try {
      // Two bridge processes starting together must not both apply a migration: take a
      // session-level advisory lock for the whole run and re-read the version under it.
      await client.query(`SELECT pg_advisory_lock($1)`, [MIGRATION_LOCK_ID]);
      try {
        await client.query(SCHEMA_VERSION_TABLE_SQL);
        const from = await current();
        for (const m of pendingMigrations(from, migrations)) {
          try {
            await client.query("BEGIN");
            await client.query(migrationSql(m, "postgres"));
            await client.query(
              `INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)`,
              [m.version, m.description, Date.now()],
            );
            await client.query("COMMIT");
          } catch (err) {
            await client.query("ROLLBACK").catch(() => undefined);
            throw new StoreError(
              `PostgreSQL migration ${m.version} (${m.description}) failed: ${(err as Error).message}`,
              { cause: err },
            );
          }
        }
        return { from, to: await current() };
      } finally {
        await client.query(`SELECT pg_advisory_unlock($1)`, [MIGRATION_LOCK_ID]).catch(() => undefined);
      }
    } finally {
      client.release();
    }
  }

  async all(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
    try {
      const res = await this.#open().query(this.#convert(sql), [...params]);
      return res.rows as SqlRow[];
    } catch (err) {
      throw mapPgError(err);
    }
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    try {
      const res = await this.#open().query(this.#convert(sql), [...params]);
      return res.rowCount ?? 0;
    } catch (err) {
      throw mapPgError(err);
    }
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = null;
    await pool?.end();
  }

  #open(): pg.Pool {
    if (!this.#pool) throw new StoreError("PostgreSQL pool is not open");
    return this.#pool;
  }

  /** `?` → `$1, $2, …`. Our SQL never has `?` inside string literals. */
  #convert(sql: string): string {
    let out = this.#placeholders.get(sql);
    if (out === undefined) {
      let n = 0;
      out = sql.replace(/\?/g, () => `$${++n}`);
      this.#placeholders.set(sql, out);
    }
    return out;
  }
}

const PG_CONSTRAINTS: Record<string, ConstraintKind> = {
  "23505": "unique",
  "23503": "foreign_key",
  "23514": "check",
  "23502": "not_null",
};

function mapPgError(err: unknown): Error {
  const e = err as { code?: unknown; message?: string; constraint?: string };
  const kind = typeof e.code === "string" ? PG_CONSTRAINTS[e.code] : undefined;
  if (kind) return new StoreConstraintError(kind, e.message ?? "constraint violation", { cause: err });
  if (err instanceof StoreError) return err;
  return new StoreError(`PostgreSQL: ${e.message ?? String(err)}`, { cause: err });
}
