/**
 * Numbered schema migrations, shared by both engines. A migration is applied once, in its own
 * transaction, and recorded in `schema_version`. Never edit a released migration: add a new one.
 *
 * The SQL is written to run on both SQLite and PostgreSQL (TEXT, BIGINT, BOOLEAN, ON CONFLICT);
 * a migration that cannot be portable gives one statement list per engine.
 */
import { StoreError } from "./errors.js";

export type Engine = "sqlite" | "postgres";

export interface Migration {
  version: number;
  description: string;
  sql: string | Record<Engine, string>;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "logins, management rooms, portals, ghosts, appservice transactions",
    sql: `
CREATE TABLE logins (
  user_id       TEXT PRIMARY KEY,
  email         TEXT NOT NULL,
  password_enc  TEXT NOT NULL,
  auto_connect  BOOLEAN NOT NULL,
  friendly_name TEXT,
  updated_at    BIGINT NOT NULL
);

CREATE TABLE management_rooms (
  user_id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL UNIQUE
);

CREATE TABLE portals (
  room_id          TEXT PRIMARY KEY,
  user_id          TEXT NOT NULL,
  conversation_key TEXT NOT NULL,
  kind             TEXT NOT NULL CHECK (kind IN ('dm', 'group')),
  participants     TEXT NOT NULL,
  parent_room_id   TEXT REFERENCES portals (room_id) ON DELETE SET NULL,
  created_at       BIGINT NOT NULL,
  UNIQUE (user_id, conversation_key)
);
CREATE INDEX portals_parent_room_id ON portals (parent_room_id);

CREATE TABLE ghosts (
  email        TEXT PRIMARY KEY,
  display_name TEXT
);

CREATE TABLE appservice_transactions (
  txn_id  TEXT PRIMARY KEY,
  seen_at BIGINT NOT NULL
);
CREATE INDEX appservice_transactions_seen_at ON appservice_transactions (seen_at);
`,
  },
  {
    version: 2,
    description: "Matrix events already handled, so a replayed transaction does not bridge them twice",
    sql: `
CREATE TABLE handled_matrix_events (
  event_id   TEXT PRIMARY KEY,
  handled_at BIGINT NOT NULL
);
CREATE INDEX handled_matrix_events_handled_at ON handled_matrix_events (handled_at);
`,
  },
  {
    version: 3,
    description: "Matrix messages accepted from the homeserver but not yet on MSN, resent after a crash",
    sql: `
CREATE TABLE matrix_outbox (
  event_id  TEXT PRIMARY KEY,
  room_id   TEXT NOT NULL,
  sender    TEXT NOT NULL,
  content   TEXT NOT NULL,
  queued_at BIGINT NOT NULL,
  seq       BIGINT NOT NULL
);
`,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

export const SCHEMA_VERSION_TABLE_SQL = `CREATE TABLE IF NOT EXISTS schema_version (
  version     INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at  BIGINT NOT NULL
)`;

export function migrationSql(m: Migration, engine: Engine): string {
  return typeof m.sql === "string" ? m.sql : m.sql[engine];
}

/**
 * The migrations still to apply on a database at `current`. A database from a newer bridge is
 * refused: running old code on it could silently lose or misread data.
 */
export function pendingMigrations(
  current: number,
  migrations: readonly Migration[] = MIGRATIONS,
): Migration[] {
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  if (current > latest) {
    throw new StoreError(
      `database schema version ${current} is newer than this bridge understands (${latest}); ` +
        "upgrade the bridge or restore a backup",
    );
  }
  return [...migrations].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
}
