/**
 * One store test suite, run against both engines: SQLite in a temp file and a real PostgreSQL
 * server started for the run. Whatever the bridge core may rely on is asserted here for both.
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { CredentialCipher, CredentialError } from "../../../src/store/credentials.js";
import { StoreConstraintError, StoreError } from "../../../src/store/errors.js";
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from "../../../src/store/migrations.js";
import { openStore } from "../../../src/store/open-store.js";
import { PostgresStore } from "../../../src/store/postgres-store.js";
import type { SqlStore } from "../../../src/store/sql-store.js";
import { SqliteStore } from "../../../src/store/sqlite-store.js";
import type { LoginRecord, PortalRecord } from "../../../src/store/store.js";
import { startPostgres, type PostgresServer } from "../../harness/postgres.js";

type Row = Record<string, unknown>;

/** What the suite needs from an engine besides the Store itself. */
interface EngineFixture {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** URI of a new, empty database. */
  freshUri(): Promise<string>;
  /** Runs raw SQL (with `$1` placeholders) outside the store, as an attacker or operator would. */
  raw(uri: string, sql: string, params?: (string | number)[]): Promise<Row[]>;
  /** Everything on disk for this database that could leak a secret (SQLite only). */
  files(uri: string): string[];
  /** A store on `uri` constructed with a custom migration list (not opened). */
  withMigrations(uri: string, cipher: CredentialCipher, migrations: readonly Migration[]): SqlStore;
}

function sqliteFixture(): EngineFixture {
  let dir = "";
  let n = 0;
  const path = (uri: string): string => uri.slice("sqlite:".length);
  return {
    name: "SQLite",
    async setup() {
      dir = mkdtempSync(join(tmpdir(), "msn-store-"));
    },
    async teardown() {
      rmSync(dir, { recursive: true, force: true });
    },
    async freshUri() {
      return `sqlite:${join(dir, `store-${++n}.db`)}`;
    },
    async raw(uri, sql, params = []) {
      const db = new Database(path(uri));
      try {
        const stmt = db.prepare(sql.replace(/\$\d+/g, "?"));
        return stmt.reader ? (stmt.all(...params) as Row[]) : (stmt.run(...params), []);
      } finally {
        db.close();
      }
    },
    files(uri) {
      return [path(uri), `${path(uri)}-wal`].filter((f) => existsSync(f));
    },
    withMigrations(uri, cipher, migrations) {
      return new SqliteStore(path(uri), { cipher, migrations });
    },
  };
}

function postgresFixture(): EngineFixture {
  let server: PostgresServer | null = null;
  return {
    name: "PostgreSQL",
    async setup() {
      server = await startPostgres();
    },
    async teardown() {
      await server?.stop();
    },
    async freshUri() {
      assert.ok(server, "PostgreSQL server not started");
      return server.createDatabase();
    },
    async raw(uri, sql, params = []) {
      const client = new pg.Client({ connectionString: uri });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows as Row[];
      } finally {
        await client.end();
      }
    },
    files() {
      return [];
    },
    withMigrations(uri, cipher, migrations) {
      return new PostgresStore(uri, { cipher, migrations });
    },
  };
}

const PASSWORD = "s3cret-Pässword!";

function login(overrides: Partial<LoginRecord> = {}): LoginRecord {
  return {
    userId: "@alice:example.org",
    email: "Alice@Example.com",
    password: PASSWORD,
    autoConnect: true,
    friendlyName: "Alice 🌸",
    ...overrides,
  };
}

function portal(overrides: Partial<PortalRecord> = {}): PortalRecord {
  return {
    roomId: "!dm-bob:example.org",
    userId: "@alice:example.org",
    conversationKey: "bob@example.com",
    kind: "dm",
    participants: ["bob@example.com"],
    parentRoomId: null,
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
}

async function rejectsWith(
  p: Promise<unknown>,
  cls: new (...args: never[]) => Error,
  re?: RegExp,
): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    if (re) assert.match(err.message, re);
    return err;
  }
  assert.fail(`expected a ${cls.name}`);
}

function storeSuite(fx: EngineFixture): void {
  describe(`store on ${fx.name}`, () => {
    const cipher = new CredentialCipher(randomBytes(32));
    let uri: string;
    let store: SqlStore;
    const clock = 1_800_000_000_000;
    const open = (u = uri, c = cipher): Promise<SqlStore> =>
      openStore(u, { configDir: "/nonexistent", cipher: c, now: () => clock });

    before(async () => {
      await fx.setup();
      uri = await fx.freshUri();
      store = await open();
    });
    after(async () => {
      await store?.close();
      await fx.teardown();
    });

    describe("schema and migrations", () => {
      test("a new database is migrated to the latest version", async () => {
        const rows = await fx.raw(uri, "SELECT version FROM schema_version ORDER BY version");
        assert.deepEqual(
          rows.map((r) => Number(r.version)),
          MIGRATIONS.map((m) => m.version),
        );
        assert.equal(Number(rows.at(-1)?.version), LATEST_SCHEMA_VERSION);
      });

      test("reopening applies nothing twice and keeps the data", async () => {
        const u = await fx.freshUri();
        const a = await open(u);
        await a.upsertGhost({ email: "kept@example.com", displayName: "Kept" });
        await a.close();
        const b = await open(u);
        await b.close();
        const c = await open(u);
        try {
          assert.deepEqual(await c.getGhost("kept@example.com"), {
            email: "kept@example.com",
            displayName: "Kept",
          });
          const versions = await fx.raw(u, "SELECT version FROM schema_version");
          assert.equal(versions.length, MIGRATIONS.length);
        } finally {
          await c.close();
        }
      });

      test("a database from a newer bridge is refused", async () => {
        const u = await fx.freshUri();
        await (await open(u)).close();
        await fx.raw(u, "INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)", [
          999,
          "future",
          0,
        ]);
        await rejectsWith(open(u), StoreError, /schema version 999 is newer than this bridge understands/);
      });

      test("a failing migration is rolled back entirely", async () => {
        const u = await fx.freshUri();
        const broken: Migration = {
          version: LATEST_SCHEMA_VERSION + 1,
          description: "half-good",
          sql: "CREATE TABLE half_done (x TEXT); CREATE TABLE broken (",
        };
        const s = fx.withMigrations(u, cipher, [...MIGRATIONS, broken]);
        await rejectsWith(
          s.open(),
          StoreError,
          new RegExp(`migration ${broken.version} \\(half-good\\) failed`),
        );
        const versions = await fx.raw(u, "SELECT MAX(version) AS v FROM schema_version");
        assert.equal(Number(versions[0]?.v), LATEST_SCHEMA_VERSION, "earlier migrations stay applied");
        const probe =
          fx.name === "SQLite"
            ? "SELECT name FROM sqlite_master WHERE name = $1"
            : "SELECT to_regclass($1) AS name";
        const rows = await fx.raw(u, probe, ["half_done"]);
        assert.ok(rows.length === 0 || rows[0]?.name === null, "no table from the failed migration remains");
      });

      test("calls on a closed store fail with StoreError", async () => {
        const s = await open(await fx.freshUri());
        await s.close();
        await rejectsWith(s.getLogin("@a:b"), StoreError, /store is closed/);
        await s.close(); // idempotent
      });
    });

    describe("logins", () => {
      test("round trip, update, list, delete", async () => {
        assert.equal(await store.getLogin("@alice:example.org"), null);
        await store.upsertLogin(login());
        assert.deepEqual(await store.getLogin("@alice:example.org"), login());

        const updated = login({
          password: "new",
          autoConnect: false,
          friendlyName: null,
          email: "alice@example.com",
        });
        await store.upsertLogin(updated);
        assert.deepEqual(await store.getLogin("@alice:example.org"), updated);

        const bob = login({ userId: "@bob:example.org", email: "bob@example.com", password: "b" });
        await store.upsertLogin(bob);
        assert.deepEqual(await store.listLogins(), [updated, bob]);

        await store.deleteLogin("@alice:example.org");
        await store.deleteLogin("@nobody:example.org");
        assert.equal(await store.getLogin("@alice:example.org"), null);
        assert.deepEqual(await store.listLogins(), [bob]);
        await store.deleteLogin("@bob:example.org");
      });

      test("passwords are encrypted at rest", async () => {
        await store.upsertLogin(login({ userId: "@enc:example.org" }));
        const rows = await fx.raw(uri, "SELECT * FROM logins WHERE user_id = $1", ["@enc:example.org"]);
        const rowText = JSON.stringify(rows);
        assert.ok(!rowText.includes(PASSWORD), "no plaintext in the row");
        assert.match(String(rows[0]?.password_enc), /^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
        for (const file of fx.files(uri)) {
          const bytes = readFileSync(file);
          assert.equal(bytes.indexOf(Buffer.from(PASSWORD, "utf8")), -1, `no plaintext in ${file}`);
        }
        // A fresh IV each time: the same password never gives the same ciphertext twice.
        await store.upsertLogin(login({ userId: "@enc:example.org" }));
        const again = await fx.raw(uri, "SELECT password_enc FROM logins WHERE user_id = $1", [
          "@enc:example.org",
        ]);
        assert.notEqual(again[0]?.password_enc, rows[0]?.password_enc);
      });

      test("a different key, a tampered row or a row moved to another user does not decrypt", async () => {
        await store.upsertLogin(login({ userId: "@t1:example.org" }));
        await store.upsertLogin(login({ userId: "@t2:example.org" }));

        const otherKey = await open(uri, new CredentialCipher(randomBytes(32)));
        try {
          await rejectsWith(
            otherKey.getLogin("@t1:example.org"),
            CredentialError,
            /stored MSN password of @t1:example\.org: .*different key file/,
          );
        } finally {
          await otherKey.close();
        }

        const [row] = await fx.raw(uri, "SELECT password_enc FROM logins WHERE user_id = $1", [
          "@t1:example.org",
        ]);
        const parts = String(row?.password_enc).split(":");
        const ct = Buffer.from(parts[3] ?? "", "base64");
        ct[0] = (ct[0] ?? 0) ^ 1;
        parts[3] = ct.toString("base64");
        await fx.raw(uri, "UPDATE logins SET password_enc = $1 WHERE user_id = $2", [
          parts.join(":"),
          "@t1:example.org",
        ]);
        await rejectsWith(store.getLogin("@t1:example.org"), CredentialError, /failed authentication/);

        await fx.raw(
          uri,
          "UPDATE logins SET password_enc = (SELECT password_enc FROM logins WHERE user_id = $1) WHERE user_id = $2",
          ["@t2:example.org", "@t1:example.org"],
        );
        await rejectsWith(store.getLogin("@t1:example.org"), CredentialError, /failed authentication/);
        assert.equal((await store.getLogin("@t2:example.org"))?.password, PASSWORD);

        await store.deleteLogin("@t1:example.org");
        await store.deleteLogin("@t2:example.org");
      });

      test("an unreadable password leaves the other logins listed and is reported by itself", async () => {
        await store.upsertLogin(login({ userId: "@u1:example.org", email: "u1@example.com" }));
        const otherKey = await open(uri, new CredentialCipher(randomBytes(32)));
        try {
          // Written with another key: this store cannot read u2's row, but u1's must still list.
          await otherKey.upsertLogin(login({ userId: "@u2:example.org", email: "u2@example.com" }));
        } finally {
          await otherKey.close();
        }
        const listed = (await store.listLogins()).map((l) => l.userId);
        assert.ok(listed.includes("@u1:example.org"));
        assert.ok(!listed.includes("@u2:example.org"));
        const unreadable = await store.listUnreadableLogins();
        assert.deepEqual(
          unreadable.map((u) => [u.userId, u.email]),
          [["@u2:example.org", "u2@example.com"]],
        );
        assert.match(unreadable[0]!.reason, /different key file/);
        await store.deleteLogin("@u1:example.org");
        await store.deleteLogin("@u2:example.org");
        assert.deepEqual(await store.listUnreadableLogins(), []);
      });
    });

    describe("management rooms", () => {
      test("set, look up both ways, replace", async () => {
        assert.equal(await store.getManagementRoom("@alice:example.org"), null);
        assert.equal(await store.getUserByManagementRoom("!mgmt1:example.org"), null);
        await store.setManagementRoom("@alice:example.org", "!mgmt1:example.org");
        assert.equal(await store.getManagementRoom("@alice:example.org"), "!mgmt1:example.org");
        assert.equal(await store.getUserByManagementRoom("!mgmt1:example.org"), "@alice:example.org");

        await store.setManagementRoom("@alice:example.org", "!mgmt2:example.org");
        assert.equal(await store.getManagementRoom("@alice:example.org"), "!mgmt2:example.org");
        assert.equal(
          await store.getUserByManagementRoom("!mgmt1:example.org"),
          null,
          "the old room is released",
        );
        assert.equal(await store.getUserByManagementRoom("!mgmt2:example.org"), "@alice:example.org");
      });

      test("a room is the management room of one user only", async () => {
        await store.setManagementRoom("@carol:example.org", "!carol:example.org");
        const err = await rejectsWith(
          store.setManagementRoom("@dave:example.org", "!carol:example.org"),
          StoreConstraintError,
        );
        assert.equal((err as StoreConstraintError).constraint, "unique");
        assert.equal(await store.getUserByManagementRoom("!carol:example.org"), "@carol:example.org");
        assert.equal(await store.getManagementRoom("@dave:example.org"), null);
      });
    });

    describe("portals", () => {
      test("upsert, look up by key and by room, list in creation order", async () => {
        const dm = portal();
        const dm2 = portal({
          roomId: "!dm-carol:example.org",
          conversationKey: "carol@example.com",
          participants: ["carol@example.com"],
          createdAt: dm.createdAt - 1000,
        });
        await store.upsertPortal(dm);
        await store.upsertPortal(dm2);
        assert.deepEqual(await store.getPortal("@alice:example.org", "bob@example.com"), dm);
        assert.deepEqual(await store.getPortalByRoom("!dm-bob:example.org"), dm);
        assert.equal(await store.getPortal("@alice:example.org", "nobody@example.com"), null);
        assert.equal(await store.getPortal("@zed:example.org", "bob@example.com"), null);
        assert.equal(await store.getPortalByRoom("!unknown:example.org"), null);
        assert.deepEqual(await store.listPortals("@alice:example.org"), [dm2, dm]);
        assert.deepEqual(await store.listPortals("@zed:example.org"), []);
      });

      test("group portal grows out of a DM; deleting the DM keeps the group", async () => {
        const group = portal({
          roomId: "!group:example.org",
          conversationKey: "group:42",
          kind: "group",
          participants: ["bob@example.com", "carol@example.com"],
          parentRoomId: "!dm-bob:example.org",
        });
        await store.upsertPortal(group);
        assert.deepEqual(await store.getPortalByRoom("!group:example.org"), group);

        const grown = { ...group, participants: [...group.participants, "dave@example.com"] };
        await store.upsertPortal(grown);
        assert.deepEqual(await store.getPortal("@alice:example.org", "group:42"), grown);

        await store.deletePortal("!dm-bob:example.org");
        assert.equal(await store.getPortalByRoom("!dm-bob:example.org"), null);
        assert.deepEqual(await store.getPortalByRoom("!group:example.org"), { ...grown, parentRoomId: null });
        await store.deletePortal("!group:example.org");
        await store.deletePortal("!never-existed:example.org");
      });

      test("one portal per (login, conversation); the same contact may have a portal per login", async () => {
        await store.upsertPortal(portal({ roomId: "!a1:example.org", conversationKey: "erin@example.com" }));
        const err = await rejectsWith(
          store.upsertPortal(portal({ roomId: "!a2:example.org", conversationKey: "erin@example.com" })),
          StoreConstraintError,
        );
        assert.equal((err as StoreConstraintError).constraint, "unique");
        assert.equal(await store.getPortalByRoom("!a2:example.org"), null);

        const bobs = portal({
          roomId: "!b1:example.org",
          userId: "@bob:example.org",
          conversationKey: "erin@example.com",
        });
        await store.upsertPortal(bobs);
        assert.deepEqual(await store.getPortal("@bob:example.org", "erin@example.com"), bobs);
      });

      test("a parent room that is not a portal is rejected", async () => {
        const err = await rejectsWith(
          store.upsertPortal(
            portal({
              roomId: "!orphan:example.org",
              conversationKey: "group:9",
              kind: "group",
              parentRoomId: "!nope:example.org",
            }),
          ),
          StoreConstraintError,
        );
        assert.equal((err as StoreConstraintError).constraint, "foreign_key");
      });

      test("participants round-trip exactly, including awkward characters", async () => {
        const odd = portal({
          roomId: "!odd:example.org",
          conversationKey: "group:odd",
          kind: "group",
          participants: ['qu"ote@example.com', "ünï@example.com", "a,b@example.com"],
        });
        await store.upsertPortal(odd);
        assert.deepEqual((await store.getPortalByRoom("!odd:example.org"))?.participants, odd.participants);
      });
    });

    describe("ghosts", () => {
      test("round trip; e-mails are case-insensitive", async () => {
        assert.equal(await store.getGhost("frank@example.com"), null);
        await store.upsertGhost({ email: "Frank@Example.com", displayName: "Frank" });
        assert.deepEqual(await store.getGhost("frank@example.com"), {
          email: "frank@example.com",
          displayName: "Frank",
        });
        assert.deepEqual(await store.getGhost("FRANK@EXAMPLE.COM"), {
          email: "frank@example.com",
          displayName: "Frank",
        });
        await store.upsertGhost({ email: "frank@example.com", displayName: null });
        assert.deepEqual(await store.getGhost("frank@example.com"), {
          email: "frank@example.com",
          displayName: null,
        });
      });
    });

    describe("appservice transactions", () => {
      test("first sighting true, replay false, survives a restart", async () => {
        assert.equal(await store.markTransaction("txn-1"), true);
        assert.equal(await store.markTransaction("txn-1"), false);
        assert.equal(await store.markTransaction("txn-2"), true);
        const reopened = await open();
        try {
          assert.equal(await reopened.markTransaction("txn-1"), false, "a replay after a crash is caught");
        } finally {
          await reopened.close();
        }
      });

      test("hasTransaction sees only recorded IDs, also after a restart", async () => {
        assert.equal(await store.hasTransaction("txn-has"), false);
        await store.markTransaction("txn-has");
        assert.equal(await store.hasTransaction("txn-has"), true);
        const reopened = await open();
        try {
          assert.equal(await reopened.hasTransaction("txn-has"), true);
        } finally {
          await reopened.close();
        }
      });

      test("handled event IDs: recorded once, remembered across a restart, pruned with transactions", async () => {
        assert.equal(await store.wasEventHandled("$ev1"), false);
        await store.markEventHandled("$ev1");
        await store.markEventHandled("$ev1");
        assert.equal(await store.wasEventHandled("$ev1"), true);
        assert.equal(await store.wasEventHandled("$ev2"), false);
        const reopened = await open();
        try {
          assert.equal(await reopened.wasEventHandled("$ev1"), true);
        } finally {
          await reopened.close();
        }
        const u = await fx.freshUri();
        let now = 1_000_000_000_000;
        const s = await openStore(u, { configDir: "/", cipher, now: () => now });
        try {
          await s.markEventHandled("$old");
          now += 8 * 24 * 60 * 60 * 1000;
          await s.markEventHandled("$new");
          await s.pruneTransactions();
          assert.equal(await s.wasEventHandled("$old"), false);
          assert.equal(await s.wasEventHandled("$new"), true);
        } finally {
          await s.close();
        }
      });

      test("outbox: added once, listed oldest first with its content, removed, kept across a restart", async () => {
        const msg = (n: number) => ({
          eventId: `$out${n}`,
          roomId: "!room:example.org",
          sender: "@u:example.org",
          content: { msgtype: "m.text", body: `message ${n} ✓` },
        });
        assert.equal(await store.addToOutbox(msg(1)), true);
        assert.equal(await store.addToOutbox(msg(2)), true);
        assert.equal(await store.addToOutbox(msg(1)), false, "a replayed event is not added twice");
        assert.equal(await store.addToOutbox(msg(3)), true);
        await store.removeFromOutbox("$out2");
        const reopened = await open();
        try {
          assert.deepEqual(await reopened.listOutbox(), [msg(1), msg(3)]);
        } finally {
          await reopened.close();
        }
        await store.removeFromOutbox("$out1");
        await store.removeFromOutbox("$out3");
        assert.deepEqual(await store.listOutbox(), []);
      });

      test("concurrent marks of one ID: exactly one wins", async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.markTransaction("txn-race")),
        );
        assert.equal(results.filter(Boolean).length, 1);
      });

      test("old IDs are pruned after the retention period", async () => {
        const u = await fx.freshUri();
        let now = 1_000_000_000_000;
        const s = await openStore(u, { configDir: "/", cipher, now: () => now });
        try {
          assert.equal(await s.markTransaction("old"), true);
          now += 8 * 24 * 60 * 60 * 1000;
          assert.equal(await s.markTransaction("new"), true);
          const ids = await fx.raw(u, "SELECT txn_id FROM appservice_transactions ORDER BY txn_id");
          assert.deepEqual(
            ids.map((r) => r.txn_id),
            ["new"],
          );
          assert.equal(await s.markTransaction("new"), false);
        } finally {
          await s.close();
        }
      });
    });
  });
}

storeSuite(sqliteFixture());
storeSuite(postgresFixture());

describe("openStore", () => {
  const cipher = new CredentialCipher(randomBytes(32));
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "msn-open-store-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("relative sqlite paths resolve against the config directory; the file is private", async () => {
    const s = await openStore("sqlite:bridge.db", { configDir: dir, cipher });
    await s.close();
    assert.ok(existsSync(join(dir, "bridge.db")));
    assert.equal(statSync(join(dir, "bridge.db")).mode & 0o077, 0, "no group/other access");
  });

  test("sqlite::memory: works", async () => {
    const s = await openStore("sqlite::memory:", { configDir: dir, cipher });
    assert.equal(await s.markTransaction("x"), true);
    await s.close();
  });

  test("unsupported schemes are refused without echoing credentials", async () => {
    const err = await rejectsWith(
      openStore("mysql://root:hunter2@db/x", { configDir: dir, cipher }),
      StoreError,
    );
    assert.equal(err.message, "unsupported database URI scheme mysql:; use sqlite:<path> or postgres://…");
  });

  test("a missing directory gives a clear error", async () => {
    await rejectsWith(
      openStore(`sqlite:${join(dir, "no", "such", "dir", "x.db")}`, { configDir: dir, cipher }),
      StoreError,
      /directory .* does not exist/,
    );
  });

  test("an unreachable PostgreSQL is reported without the password", async () => {
    const err = await rejectsWith(
      openStore("postgresql://bridge:hunter2@127.0.0.1:1/msn", { configDir: dir, cipher }),
      StoreError,
      /^cannot connect to PostgreSQL at postgresql:\/\/bridge:\*\*\*@127\.0\.0\.1:1\/msn: /,
    );
    assert.ok(!err.message.includes("hunter2"));
  });
});
