/**
 * SQLite engine (better-sqlite3): the default, for one bridge process on one machine.
 * WAL mode so reads never wait for the writer; foreign keys on (SQLite leaves them off by default).
 */
import { closeSync, existsSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { StoreConstraintError, StoreError, type ConstraintKind } from "./errors.js";
import { SCHEMA_VERSION_TABLE_SQL, migrationSql, pendingMigrations, type Migration } from "./migrations.js";
import { SqlStore, type SqlDriver, type SqlRow, type SqlStoreOptions, type SqlValue } from "./sql-store.js";

export class SqliteStore extends SqlStore {
  /** `path` is a file path or `:memory:`. */
  constructor(path: string, options: SqlStoreOptions) {
    super(new SqliteDriver(path), options);
  }
}

class SqliteDriver implements SqlDriver {
  readonly engine = "sqlite" as const;
  #db: Database.Database | null = null;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(readonly path: string) {}

  async connect(): Promise<void> {
    if (this.path !== ":memory:") {
      if (!existsSync(dirname(this.path))) {
        throw new StoreError(
          `cannot open SQLite database ${this.path}: directory ${dirname(this.path)} does not exist`,
        );
      }
      // Create the file ourselves so it starts private: it holds (encrypted) passwords and room maps.
      // SQLite gives its -wal/-shm files the same mode.
      if (!existsSync(this.path)) closeSync(openSync(this.path, "a", 0o600));
    }
    let db: Database.Database;
    try {
      db = new Database(this.path);
      db.pragma("journal_mode = WAL");
      db.pragma("foreign_keys = ON");
      db.pragma("busy_timeout = 5000");
      db.pragma("synchronous = NORMAL");
    } catch (err) {
      throw new StoreError(`cannot open SQLite database ${this.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#db = db;
  }

  async migrate(migrations: readonly Migration[]): Promise<{ from: number; to: number }> {
    const db = this.#open();
    db.exec(SCHEMA_VERSION_TABLE_SQL);
    const current = (): number =>
      (db.prepare(`SELECT COALESCE(MAX(version), 0) AS v FROM schema_version`).get() as { v: number }).v;
    const from = current();
    for (const m of pendingMigrations(from, migrations)) {
      // IMMEDIATE takes the write lock up front, so a second process cannot interleave.
      const apply = db.transaction(() => {
        if (current() >= m.version) return;
        db.exec(migrationSql(m, "sqlite"));
        db.prepare(`INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)`).run(
          m.version,
          m.description,
          Date.now(),
        );
      });
      try {
        apply.immediate();
      } catch (err) {
        throw new StoreError(
          `SQLite migration ${m.version} (${m.description}) failed: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    return { from, to: current() };
  }

  async all(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
    return this.#wrap(() => this.#prepare(sql).all(...bind(params)) as SqlRow[]);
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.#wrap(() => this.#prepare(sql).run(...bind(params)).changes);
  }

  async close(): Promise<void> {
    this.#statements.clear();
    this.#db?.close();
    this.#db = null;
  }

  #open(): Database.Database {
    if (!this.#db) throw new StoreError("SQLite database is not open");
    return this.#db;
  }

  #prepare(sql: string): Database.Statement {
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      stmt = this.#open().prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  #wrap<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw mapSqliteError(err);
    }
  }
}

function bind(params: readonly SqlValue[]): (string | number | null)[] {
  return params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p));
}

const SQLITE_CONSTRAINTS: Record<string, ConstraintKind> = {
  SQLITE_CONSTRAINT_UNIQUE: "unique",
  SQLITE_CONSTRAINT_PRIMARYKEY: "unique",
  SQLITE_CONSTRAINT_FOREIGNKEY: "foreign_key",
  SQLITE_CONSTRAINT_CHECK: "check",
  SQLITE_CONSTRAINT_NOTNULL: "not_null",
};

function mapSqliteError(err: unknown): Error {
  const code = (err as { code?: unknown }).code;
  const kind = typeof code === "string" ? SQLITE_CONSTRAINTS[code] : undefined;
  if (kind) return new StoreConstraintError(kind, (err as Error).message, { cause: err });
  if (err instanceof StoreError) return err;
  return new StoreError(`SQLite: ${(err as Error).message}`, { cause: err });
}
