import { isAbsolute, resolve } from "node:path";
import type { CredentialCipher } from "./credentials.js";
import { StoreError } from "./errors.js";
import { PostgresStore } from "./postgres-store.js";
import type { SqlStore } from "./sql-store.js";
import { SqliteStore } from "./sqlite-store.js";

export interface OpenStoreOptions {
  /** Relative SQLite paths resolve against this directory (the config file's). */
  configDir: string;
  cipher: CredentialCipher;
  /** Clock in ms, injectable for tests. */
  now?: () => number;
}

/**
 * Opens the store named by `database.uri` and brings its schema up to date:
 * `sqlite:<path>` (or `sqlite::memory:`) → SQLite, `postgres://…` / `postgresql://…` → PostgreSQL.
 */
export async function openStore(uri: string, options: OpenStoreOptions): Promise<SqlStore> {
  const storeOptions = { cipher: options.cipher, ...(options.now ? { now: options.now } : {}) };
  let store: SqlStore;
  if (uri.startsWith("sqlite:")) {
    const file = uri.slice("sqlite:".length);
    if (file === "") throw new StoreError(`database URI ${JSON.stringify(uri)} names no file`);
    store = new SqliteStore(
      file === ":memory:" || isAbsolute(file) ? file : resolve(options.configDir, file),
      storeOptions,
    );
  } else if (uri.startsWith("postgres://") || uri.startsWith("postgresql://")) {
    store = new PostgresStore(uri, storeOptions);
  } else {
    // Only the scheme is echoed: the rest may hold a password.
    const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(uri)?.[0] ?? "(none)";
    throw new StoreError(`unsupported database URI scheme ${scheme}; use sqlite:<path> or postgres://…`);
  }
  await store.open();
  return store;
}
