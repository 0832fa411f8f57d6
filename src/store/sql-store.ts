/**
 * The Store implementation shared by both engines. Engines differ only in how they connect, run
 * migrations and bind values; the SQL here is portable (`?` placeholders, ON CONFLICT upserts).
 */
import { CredentialError, type CredentialCipher } from "./credentials.js";
import { StoreError } from "./errors.js";
import { MIGRATIONS, type Engine, type Migration } from "./migrations.js";
import type { GhostRecord, LoginRecord, OutboxMessage, PortalRecord, Store } from "./store.js";

/** A value a driver can bind. Booleans are mapped to the engine's representation by the driver. */
export type SqlValue = string | number | boolean | null;
export type SqlRow = Record<string, unknown>;

/** What an engine provides to SqlStore. SQL uses `?` placeholders. */
export interface SqlDriver {
  readonly engine: Engine;
  /** Connects (or opens the file). Errors must be StoreErrors with a clear, secret-free message. */
  connect(): Promise<void>;
  /** Applies pending migrations, each in its own transaction; returns the schema version before and after. */
  migrate(migrations: readonly Migration[]): Promise<{ from: number; to: number }>;
  all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  close(): Promise<void>;
}

export interface SqlStoreOptions {
  /** Encrypts passwords at rest. */
  cipher: CredentialCipher;
  /** Clock in ms, injectable for tests. */
  now?: () => number;
  /** How long appservice transaction IDs are remembered (default 7 days). */
  transactionRetentionMs?: number;
  /** Override the migration list (tests only). */
  migrations?: readonly Migration[];
}

const DAY_MS = 24 * 60 * 60 * 1000;
// Pruning on every transaction would be wasted work; once an hour keeps the table small.
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;

export class SqlStore implements Store {
  readonly #driver: SqlDriver;
  readonly #cipher: CredentialCipher;
  readonly #now: () => number;
  readonly #retentionMs: number;
  readonly #migrations: readonly Migration[] | undefined;
  #state: "new" | "open" | "closed" = "new";
  #lastPrune = 0;

  constructor(driver: SqlDriver, options: SqlStoreOptions) {
    this.#driver = driver;
    this.#cipher = options.cipher;
    this.#now = options.now ?? Date.now;
    this.#retentionMs = options.transactionRetentionMs ?? 7 * DAY_MS;
    this.#migrations = options.migrations;
  }

  get engine(): Engine {
    return this.#driver.engine;
  }

  async open(): Promise<void> {
    if (this.#state === "open") return;
    if (this.#state === "closed") throw new StoreError("store was closed; open a new one");
    await this.#driver.connect();
    try {
      await this.#driver.migrate(this.#migrations ?? MIGRATIONS);
      this.#state = "open";
      await this.pruneTransactions();
    } catch (err) {
      await this.#driver.close().catch(() => undefined);
      this.#state = "closed";
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    await this.#driver.close();
  }

  async ping(): Promise<void> {
    await this.#all("SELECT 1");
  }

  async #all(sql: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
    this.#assertOpen();
    return this.#driver.all(sql, params);
  }

  async #run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    this.#assertOpen();
    return this.#driver.run(sql, params);
  }

  #assertOpen(): void {
    if (this.#state !== "open") {
      throw new StoreError(this.#state === "new" ? "store is not open yet" : "store is closed");
    }
  }

  // ---- logins ----

  async getLogin(userId: string): Promise<LoginRecord | null> {
    const rows = await this.#all(`SELECT * FROM logins WHERE user_id = ?`, [userId]);
    return rows[0] ? this.#toLogin(rows[0]) : null;
  }

  async listLogins(): Promise<LoginRecord[]> {
    const rows = await this.#all(`SELECT * FROM logins ORDER BY user_id`);
    const logins: LoginRecord[] = [];
    for (const row of rows) {
      try {
        logins.push(this.#toLogin(row));
      } catch (err) {
        // One unreadable password must not keep every other user offline: listUnreadableLogins
        // reports it.
        if (!(err instanceof CredentialError)) throw err;
      }
    }
    return logins;
  }

  async listUnreadableLogins(): Promise<{ userId: string; email: string; reason: string }[]> {
    const rows = await this.#all(`SELECT * FROM logins ORDER BY user_id`);
    const unreadable: { userId: string; email: string; reason: string }[] = [];
    for (const row of rows) {
      try {
        this.#toLogin(row);
      } catch (err) {
        if (!(err instanceof CredentialError)) throw err;
        unreadable.push({ userId: str(row.user_id), email: str(row.email), reason: err.message });
      }
    }
    return unreadable;
  }

  async upsertLogin(login: LoginRecord): Promise<void> {
    // The user ID is bound into the ciphertext, so a password row cannot be moved to another user.
    const passwordEnc = this.#cipher.encrypt(login.password, login.userId);
    await this.#run(
      `INSERT INTO logins (user_id, email, password_enc, auto_connect, friendly_name, updated_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET
         email = excluded.email,
         password_enc = excluded.password_enc,
         auto_connect = excluded.auto_connect,
         friendly_name = excluded.friendly_name,
         updated_at = excluded.updated_at`,
      [login.userId, login.email, passwordEnc, login.autoConnect, login.friendlyName, this.#now()],
    );
  }

  async deleteLogin(userId: string): Promise<void> {
    await this.#run(`DELETE FROM logins WHERE user_id = ?`, [userId]);
  }

  #toLogin(row: SqlRow): LoginRecord {
    const userId = str(row.user_id);
    let password: string;
    try {
      password = this.#cipher.decrypt(str(row.password_enc), userId);
    } catch (err) {
      if (err instanceof CredentialError) {
        throw new CredentialError(`stored MSN password of ${userId}: ${err.message}`);
      }
      throw err;
    }
    return {
      userId,
      email: str(row.email),
      password,
      autoConnect: bool(row.auto_connect),
      friendlyName: strOrNull(row.friendly_name),
    };
  }

  // ---- management rooms ----

  async getManagementRoom(userId: string): Promise<string | null> {
    const rows = await this.#all(`SELECT room_id FROM management_rooms WHERE user_id = ?`, [userId]);
    return rows[0] ? str(rows[0].room_id) : null;
  }

  async setManagementRoom(userId: string, roomId: string): Promise<void> {
    await this.#run(
      `INSERT INTO management_rooms (user_id, room_id) VALUES (?, ?)
       ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id`,
      [userId, roomId],
    );
  }

  async getUserByManagementRoom(roomId: string): Promise<string | null> {
    const rows = await this.#all(`SELECT user_id FROM management_rooms WHERE room_id = ?`, [roomId]);
    return rows[0] ? str(rows[0].user_id) : null;
  }

  // ---- portals ----

  async getPortal(userId: string, conversationKey: string): Promise<PortalRecord | null> {
    const rows = await this.#all(`SELECT * FROM portals WHERE user_id = ? AND conversation_key = ?`, [
      userId,
      conversationKey,
    ]);
    return rows[0] ? toPortal(rows[0]) : null;
  }

  async getPortalByRoom(roomId: string): Promise<PortalRecord | null> {
    const rows = await this.#all(`SELECT * FROM portals WHERE room_id = ?`, [roomId]);
    return rows[0] ? toPortal(rows[0]) : null;
  }

  async listPortals(userId: string): Promise<PortalRecord[]> {
    const rows = await this.#all(`SELECT * FROM portals WHERE user_id = ? ORDER BY created_at, room_id`, [
      userId,
    ]);
    return rows.map(toPortal);
  }

  async upsertPortal(portal: PortalRecord): Promise<void> {
    await this.#run(
      `INSERT INTO portals (room_id, user_id, conversation_key, kind, participants, parent_room_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (room_id) DO UPDATE SET
         user_id = excluded.user_id,
         conversation_key = excluded.conversation_key,
         kind = excluded.kind,
         participants = excluded.participants,
         parent_room_id = excluded.parent_room_id,
         created_at = excluded.created_at`,
      [
        portal.roomId,
        portal.userId,
        portal.conversationKey,
        portal.kind,
        JSON.stringify(portal.participants),
        portal.parentRoomId,
        portal.createdAt,
      ],
    );
  }

  async deletePortal(roomId: string): Promise<void> {
    await this.#run(`DELETE FROM portals WHERE room_id = ?`, [roomId]);
  }

  // ---- ghosts ----

  async getGhost(email: string): Promise<GhostRecord | null> {
    const rows = await this.#all(`SELECT * FROM ghosts WHERE email = ?`, [email.toLowerCase()]);
    return rows[0] ? { email: str(rows[0].email), displayName: strOrNull(rows[0].display_name) } : null;
  }

  async upsertGhost(ghost: GhostRecord): Promise<void> {
    await this.#run(
      `INSERT INTO ghosts (email, display_name) VALUES (?, ?)
       ON CONFLICT (email) DO UPDATE SET display_name = excluded.display_name`,
      [ghost.email.toLowerCase(), ghost.displayName],
    );
  }

  // ---- appservice transactions ----

  async markTransaction(txnId: string): Promise<boolean> {
    const now = this.#now();
    const inserted = await this.#run(
      `INSERT INTO appservice_transactions (txn_id, seen_at) VALUES (?, ?) ON CONFLICT (txn_id) DO NOTHING`,
      [txnId, now],
    );
    if (now - this.#lastPrune >= PRUNE_INTERVAL_MS) await this.pruneTransactions();
    return inserted === 1;
  }

  async hasTransaction(txnId: string): Promise<boolean> {
    const rows = await this.#all(`SELECT 1 AS seen FROM appservice_transactions WHERE txn_id = ?`, [txnId]);
    return rows.length > 0;
  }

  async markEventHandled(eventId: string): Promise<void> {
    await this.#run(
      `INSERT INTO handled_matrix_events (event_id, handled_at) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING`,
      [eventId, this.#now()],
    );
  }

  async wasEventHandled(eventId: string): Promise<boolean> {
    const rows = await this.#all(`SELECT 1 AS seen FROM handled_matrix_events WHERE event_id = ?`, [eventId]);
    return rows.length > 0;
  }

  async addToOutbox(message: OutboxMessage): Promise<boolean> {
    // seq keeps the order of messages added within one millisecond.
    const added = await this.#run(
      `INSERT INTO matrix_outbox (event_id, room_id, sender, content, queued_at, seq)
       VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM matrix_outbox))
       ON CONFLICT (event_id) DO NOTHING`,
      [message.eventId, message.roomId, message.sender, JSON.stringify(message.content), this.#now()],
    );
    return added === 1;
  }

  async removeFromOutbox(eventId: string): Promise<void> {
    await this.#run(`DELETE FROM matrix_outbox WHERE event_id = ?`, [eventId]);
  }

  async listOutbox(): Promise<OutboxMessage[]> {
    const rows = await this.#all(`SELECT * FROM matrix_outbox ORDER BY seq`);
    return rows.map((row) => {
      let content: unknown;
      try {
        content = JSON.parse(str(row.content));
      } catch {
        content = undefined;
      }
      return {
        eventId: str(row.event_id),
        roomId: str(row.room_id),
        sender: str(row.sender),
        content:
          typeof content === "object" && content !== null && !Array.isArray(content)
            ? (content as Record<string, unknown>)
            : {},
      };
    });
  }

  /**
   * Forgets transaction IDs and handled event IDs older than the retention period (a homeserver
   * only replays recent ones). Runs at open and hourly from markTransaction; resolves with the
   * number of transaction IDs removed.
   */
  async pruneTransactions(): Promise<number> {
    const now = this.#now();
    this.#lastPrune = now;
    await this.#run(`DELETE FROM handled_matrix_events WHERE handled_at < ?`, [now - this.#retentionMs]);
    return this.#run(`DELETE FROM appservice_transactions WHERE seen_at < ?`, [now - this.#retentionMs]);
  }
}

function toPortal(row: SqlRow): PortalRecord {
  const roomId = str(row.room_id);
  const kind = str(row.kind);
  if (kind !== "dm" && kind !== "group") throw new StoreError(`portal ${roomId} has unknown kind ${kind}`);
  let participants: unknown;
  try {
    participants = JSON.parse(str(row.participants));
  } catch {
    participants = undefined;
  }
  if (!Array.isArray(participants) || !participants.every((p) => typeof p === "string")) {
    throw new StoreError(`portal ${roomId} has a malformed participant list`);
  }
  return {
    roomId,
    userId: str(row.user_id),
    conversationKey: str(row.conversation_key),
    kind,
    participants,
    parentRoomId: strOrNull(row.parent_room_id),
    createdAt: num(row.created_at),
  };
}

function str(v: unknown): string {
  if (typeof v !== "string") throw new StoreError(`expected text in database row, got ${typeof v}`);
  return v;
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : str(v);
}

// PostgreSQL returns BIGINT as a string (it may exceed 2^53); our values are ms timestamps.
function num(v: unknown): number {
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n)) throw new StoreError(`expected a number in database row`);
  return n;
}

// SQLite has no boolean type and returns 0/1; PostgreSQL returns true/false.
function bool(v: unknown): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "number" || typeof v === "bigint") return v !== 0 && v !== 0n;
  throw new StoreError(`expected a boolean in database row`);
}
