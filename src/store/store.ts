/**
 * Persistence for the bridge core. One interface, two engines (SQLite default, PostgreSQL);
 * both must pass the same store test suite. All methods are async so that either engine fits.
 *
 * Credentials are encrypted at rest by the implementation (AES-256-GCM with the bridge's key);
 * callers only ever see plaintext passwords in memory.
 */

/** A Matrix user's MSN account ("login" / puppet). */
export interface LoginRecord {
  /** Matrix user ID that owns this login, e.g. `@alice:example.org`. */
  userId: string;
  /** MSN e-mail exactly as the server spelled it in `USR … OK`. */
  email: string;
  /** Plaintext password (encrypted by the store before it reaches disk). */
  password: string;
  /**
   * Whether the bridge should keep this login connected. False after `OUT OTH`
   * (logged in elsewhere) or a failed login, until the user says `reconnect` or `login`.
   */
  autoConnect: boolean;
  /** Last friendly name the server reported for the account, if any. */
  friendlyName: string | null;
}

/** A Matrix room bridged to an MSN conversation. */
export interface PortalRecord {
  roomId: string;
  /** The login that receives this conversation (Matrix user ID). */
  userId: string;
  /**
   * Conversation key within the login: the contact's lower-cased e-mail for a 1:1 portal,
   * `group:<id>` for a multi-party portal.
   */
  conversationKey: string;
  kind: "dm" | "group";
  /** Lower-cased e-mails of the MSN participants (excluding the login itself). */
  participants: string[];
  /** For a group portal: the 1:1 portal room it grew out of, if any. */
  parentRoomId: string | null;
  createdAt: number;
}

/** Cached profile of a ghost, so the bridge only calls the homeserver when something changed. */
export interface GhostRecord {
  /** Lower-cased contact e-mail. */
  email: string;
  displayName: string | null;
}

/** A Matrix message on its way to MSN (see Store.addToOutbox). */
export interface OutboxMessage {
  eventId: string;
  roomId: string;
  sender: string;
  content: Record<string, unknown>;
}

export interface Store {
  /** Opens the database and runs pending numbered migrations. */
  open(): Promise<void>;
  close(): Promise<void>;
  /** A cheap round trip to the database; rejects when the store is not open or the database is gone. */
  ping(): Promise<void>;

  getLogin(userId: string): Promise<LoginRecord | null>;
  listLogins(): Promise<LoginRecord[]>;
  upsertLogin(login: LoginRecord): Promise<void>;
  deleteLogin(userId: string): Promise<void>;

  getManagementRoom(userId: string): Promise<string | null>;
  /** Replaces any previous management room of the user. */
  setManagementRoom(userId: string, roomId: string): Promise<void>;
  getUserByManagementRoom(roomId: string): Promise<string | null>;

  getPortal(userId: string, conversationKey: string): Promise<PortalRecord | null>;
  getPortalByRoom(roomId: string): Promise<PortalRecord | null>;
  listPortals(userId: string): Promise<PortalRecord[]>;
  upsertPortal(portal: PortalRecord): Promise<void>;
  deletePortal(roomId: string): Promise<void>;

  getGhost(email: string): Promise<GhostRecord | null>;
  upsertGhost(ghost: GhostRecord): Promise<void>;

  /**
   * Records an appservice transaction ID; resolves false if it was already recorded
   * (a replay after a crash), true the first time.
   */
  markTransaction(txnId: string): Promise<boolean>;
  /** Whether the transaction ID was recorded by markTransaction (and not yet pruned). */
  hasTransaction(txnId: string): Promise<boolean>;

  /**
   * Records that a Matrix event was handled (its message went to MSN, or its command ran), so a
   * transaction the homeserver replays after a crash does not handle it twice. Remembered as long
   * as transaction IDs.
   */
  markEventHandled(eventId: string): Promise<void>;
  wasEventHandled(eventId: string): Promise<boolean>;

  /**
   * The outbox: Matrix messages acknowledged to the homeserver before they reached MSN. A message
   * is added before its transaction is acknowledged and removed once it went to MSN (or was
   * refused with a notice); whatever a crash leaves here is sent after the restart, in order.
   * Resolves false when the event is already there.
   */
  addToOutbox(message: OutboxMessage): Promise<boolean>;
  removeFromOutbox(eventId: string): Promise<void>;
  /** Oldest first. */
  listOutbox(): Promise<OutboxMessage[]>;

  /**
   * Logins whose stored password cannot be decrypted (the credentials key file was replaced or
   * the row was altered). listLogins leaves them out; the bridge asks their users to log in again.
   */
  listUnreadableLogins(): Promise<{ userId: string; email: string; reason: string }[]>;
}
