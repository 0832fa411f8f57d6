import { after, describe, test } from "node:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import {
  PerRoomSerializer,
  MAX_TRANSACTION_BYTES,
  TransactionalAppService,
  type TransactionLog,
} from "../../../src/matrix/appservice.js";
import { silentLog } from "../../../src/bridge/log.js";
import { freePort } from "../../harness/ports.js";

class MemoryTransactions implements TransactionLog {
  readonly seen = new Set<string>();
  failMark = false;
  /** hasTransaction calls: a request got as far as the store. */
  asked = 0;
  async hasTransaction(txnId: string): Promise<boolean> {
    this.asked++;
    return this.seen.has(txnId);
  }
  async markTransaction(txnId: string): Promise<boolean> {
    if (this.failMark) throw new Error("database is gone");
    const fresh = !this.seen.has(txnId);
    this.seen.add(txnId);
    return fresh;
  }
}

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 5000) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface Answer {
  status: number;
  body: unknown;
}

/** Each appservice under test answers on its own loopback server, as the homeserver reaches it. */
const servers = new WeakMap<TransactionalAppService, Promise<string>>();
const opened: Server[] = [];
after(() => opened.forEach((s) => s.close()));

function baseUrl(as: TransactionalAppService): Promise<string> {
  let url = servers.get(as);
  if (!url) {
    const server = createServer(as.requestListener);
    opened.push(server);
    url = new Promise((resolve) =>
      server.listen(0, "127.0.0.1", () =>
        resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
      ),
    );
    servers.set(as, url);
  }
  return url;
}

async function request(
  as: TransactionalAppService,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<Answer> {
  const res = await fetch(`${await baseUrl(as)}${path}`, { method: "PUT", body, headers });
  return { status: res.status, body: await res.json() };
}

function put(
  as: TransactionalAppService,
  txnId: string,
  body: unknown,
  token: string | null = "hs-secret",
): Promise<Answer> {
  return request(
    as,
    `/_matrix/app/v1/transactions/${encodeURIComponent(txnId)}`,
    JSON.stringify(body),
    token === null ? {} : { authorization: `Bearer ${token}` },
  );
}

function appservice(
  store: TransactionLog,
  waitMs = 1000,
): {
  as: TransactionalAppService;
  handled: unknown[];
  gate: { release: () => void; wait: Promise<void> };
} {
  const as = new TransactionalAppService({
    hsToken: "hs-secret",
    log: silentLog,
    store,
    waitMs,
    ownUser: (userId) => userId.startsWith("@msn_") || userId === "@msnbot:x",
  });
  const handled: unknown[] = [];
  let release: () => void = () => undefined;
  const wait = new Promise<void>((r) => (release = r));
  const gate = { release, wait };
  as.on("event", async (ev: unknown) => {
    handled.push(ev);
    await gate.wait;
  });
  as.acceptTransactions();
  return { as, handled, gate };
}

const event = (n: number): Record<string, unknown> => ({
  type: "m.room.message",
  room_id: "!r:x",
  sender: "@u:x",
  event_id: `$${n}`,
  content: { body: String(n) },
});

describe("TransactionalAppService", () => {
  test("answers only after the events were handled, then records the ID; a replay is not handled again", async () => {
    const store = new MemoryTransactions();
    const { as, handled, gate } = appservice(store);
    let answered = false;
    const first = put(as, "t1", { events: [event(1), event(2)] }).then((a) => ((answered = true), a));
    await until("both events dispatched", () => handled.length === 2);
    await sleep(20);
    assert.equal(answered, false, "no answer while the events are being handled");
    assert.equal(store.seen.has("t1"), false);
    gate.release();
    assert.deepEqual(await first, { status: 200, body: {} });
    assert.ok(store.seen.has("t1"));
    assert.deepEqual(await put(as, "t1", { events: [event(1), event(2)] }), { status: 200, body: {} });
    assert.equal(handled.length, 2, "the replay was not handled");
  });

  test("a retry while the first attempt runs waits for it and is not handled twice", async () => {
    const store = new MemoryTransactions();
    const { as, handled, gate } = appservice(store);
    const a = put(as, "t2", { events: [event(3)] });
    const b = put(as, "t2", { events: [event(3)] });
    await until("both requests at the store or waiting", () => store.asked >= 1 && handled.length === 1);
    await sleep(20);
    gate.release();
    assert.deepEqual(
      (await Promise.all([a, b])).map((x) => x.status),
      [200, 200],
    );
    assert.equal(handled.length, 1);
  });

  test("a slow event is acknowledged after the bound", async () => {
    const store = new MemoryTransactions();
    const { as, handled } = appservice(store, 50);
    const started = Date.now();
    assert.equal((await put(as, "t3", { events: [event(4)] })).status, 200);
    assert.ok(Date.now() - started >= 45);
    assert.equal(handled.length, 1);
    assert.ok(store.seen.has("t3"));
  });

  test("wrong token 403, missing token 401 (spec), token checked in the query too; nothing handled", async () => {
    const store = new MemoryTransactions();
    const { as, handled, gate } = appservice(store);
    gate.release();
    const body = JSON.stringify({ events: [event(5)] });
    assert.deepEqual(await put(as, "t4", { events: [event(5)] }, "wrong"), {
      status: 403,
      body: { errcode: "M_FORBIDDEN", error: "Bad token supplied" },
    });
    assert.equal((await put(as, "t4", { events: [event(5)] }, "hs-secretX")).status, 403);
    assert.equal((await put(as, "t4", { events: [event(5)] }, null)).status, 401);
    assert.equal(
      (await request(as, "/_matrix/app/v1/transactions/t4", body, { authorization: "Basic x" })).status,
      401,
    );
    assert.equal(
      (await request(as, "/_matrix/app/v1/transactions/t4?access_token=no", body, {})).status,
      403,
    );
    assert.equal(handled.length, 0);
    assert.equal(store.seen.size, 0);
    const legacy = await request(as, "/_matrix/app/v1/transactions/t4?x=1&access_token=hs-secret", body, {});
    assert.equal(legacy.status, 200);
    assert.equal(handled.length, 1);
  });

  test("bad bodies and IDs: 400/404/413 with a Matrix error, nothing handled or recorded", async () => {
    const store = new MemoryTransactions();
    const { as, handled } = appservice(store);
    const auth = { authorization: "Bearer hs-secret" };
    const bodyOf = async (path: string, body: string): Promise<unknown> =>
      (await request(as, path, body, auth)).body;
    assert.equal((await put(as, "t5", [1, 2])).status, 400);
    assert.equal((await put(as, "t5", null)).status, 400);
    assert.deepEqual(await bodyOf("/_matrix/app/v1/transactions/t5", "{not json"), {
      errcode: "M_NOT_JSON",
      error: "A transaction is a JSON object",
    });
    assert.equal((await request(as, "/_matrix/app/v1/transactions/", "{}", auth)).status, 404);
    assert.equal((await request(as, "/_matrix/app/v1/transactions/a/b", "{}", auth)).status, 404);
    assert.equal((await request(as, "/_matrix/app/v1/transactions/%E0%A4%A", "{}", auth)).status, 404);
    const huge = JSON.stringify({ events: [{ pad: "x".repeat(MAX_TRANSACTION_BYTES) }] });
    const tooLarge = await request(as, "/_matrix/app/v1/transactions/t6", huge, auth);
    assert.deepEqual(tooLarge, {
      status: 413,
      body: { errcode: "M_TOO_LARGE", error: "The transaction is too large" },
    });
    assert.equal(handled.length, 0);
    assert.equal(store.seen.size, 0);
    // The endpoint still answers after all that.
    assert.equal((await put(as, "t7", { events: [] })).status, 200);
  });

  test("an ID with escaped characters is recorded decoded, and its replay recognised", async () => {
    const store = new MemoryTransactions();
    const { as, handled, gate } = appservice(store);
    gate.release();
    assert.equal((await put(as, "a b/ü?", { events: [event(9)] })).status, 200);
    assert.ok(store.seen.has("a b/ü?"));
    assert.equal((await put(as, "a b/ü?", { events: [event(9)] })).status, 200);
    assert.equal(handled.length, 1);
  });

  test("a transaction of the bridge's own echoes is handled without a store read or write", async () => {
    const store = new MemoryTransactions();
    const { as, handled, gate } = appservice(store);
    gate.release();
    const echo = { ...event(10), sender: "@msn_bob=40hotmail.com:x" };
    const bot = { ...event(11), sender: "@msnbot:x" };
    assert.equal((await put(as, "e1", { events: [echo, bot] })).status, 200);
    assert.deepEqual(handled, [echo, bot], "still dispatched (the library keeps membership from them)");
    assert.equal(store.asked, 0);
    assert.equal(store.seen.size, 0);
    // One event of someone else, or any ephemeral event, and it is recorded as usual.
    assert.equal((await put(as, "e2", { events: [echo, event(12)] })).status, 200);
    assert.equal((await put(as, "e3", { events: [echo], ephemeral: [{ type: "m.typing" }] })).status, 200);
    assert.deepEqual([...store.seen], ["e2", "e3"]);
  });

  test("entries that are not objects are dropped; the rest is handled", async () => {
    const store = new MemoryTransactions();
    const { as, handled, gate } = appservice(store);
    gate.release();
    assert.equal((await put(as, "t6", { events: [null, 3, "x", [], event(6)] })).status, 200);
    assert.deepEqual(handled, [event(6)]);
  });

  test("when the ID cannot be recorded: 500, so the homeserver retries", async () => {
    const store = new MemoryTransactions();
    store.failMark = true;
    const { as, gate } = appservice(store);
    gate.release();
    assert.equal((await put(as, "t7", { events: [event(7)] })).status, 500);
  });

  test("nothing is handled before acceptTransactions()", async () => {
    const store = new MemoryTransactions();
    const as = new TransactionalAppService({ hsToken: "hs-secret", log: silentLog, store, waitMs: 1000 });
    const handled: unknown[] = [];
    as.on("event", (ev: unknown) => void handled.push(ev));
    const answer = put(as, "t8", { events: [event(8)] });
    await until("the request reached the store", () => store.asked === 1);
    await sleep(30);
    assert.equal(handled.length, 0);
    as.acceptTransactions();
    assert.equal((await answer).status, 200);
    assert.equal(handled.length, 1);
  });
});

describe("PerRoomSerializer", () => {
  test("one room's tasks run one after another, other rooms meanwhile; a failure does not stall", async () => {
    const rooms = new PerRoomSerializer();
    const log: string[] = [];
    const task =
      (name: string, ms: number, fail = false) =>
      async () => {
        log.push(`${name} start`);
        await sleep(ms);
        log.push(`${name} end`);
        if (fail) throw new Error(name);
      };
    const a1 = rooms.run("!a", task("a1", 30, true));
    const a2 = rooms.run("!a", task("a2", 1));
    const b1 = rooms.run("!b", task("b1", 1));
    await assert.rejects(a1, /a1/);
    await Promise.all([a2, b1]);
    assert.ok(log.indexOf("a1 end") < log.indexOf("a2 start"), "in order within a room");
    assert.ok(log.indexOf("b1 end") < log.indexOf("a1 end"), "rooms in parallel");
    await sleep(1);
    assert.equal(rooms.rooms, 0, "idle rooms are forgotten");
  });
});

describe("TransactionalAppService over HTTPS (MATRIX_AS_TLS_KEY / MATRIX_AS_TLS_CERT)", () => {
  test("listens with TLS when both are set, as matrix-appservice did; one without the other is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "as-tls-"));
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    const made = spawnSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=127.0.0.1",
      "-days",
      "1",
      "-keyout",
      key,
      "-out",
      cert,
    ]);
    assert.equal(made.status, 0, made.stderr?.toString());
    const saved = { key: process.env.MATRIX_AS_TLS_KEY, cert: process.env.MATRIX_AS_TLS_CERT };
    const store = new MemoryTransactions();
    try {
      process.env.MATRIX_AS_TLS_KEY = key;
      delete process.env.MATRIX_AS_TLS_CERT;
      const half = new TransactionalAppService({ hsToken: "hs-secret", log: silentLog, store, waitMs: 1000 });
      assert.throws(() => half.listen(0, "127.0.0.1", 10), /must be set together/);

      process.env.MATRIX_AS_TLS_CERT = cert;
      const { as, handled, gate } = appservice(store);
      gate.release();
      const port = await freePort();
      await as.listen(port, "127.0.0.1", 10);
      try {
        const status = await new Promise<number>((resolve, reject) => {
          const req = httpsRequest(
            {
              host: "127.0.0.1",
              port,
              method: "PUT",
              path: "/_matrix/app/v1/transactions/tls1",
              headers: { authorization: "Bearer hs-secret", "content-type": "application/json" },
              rejectUnauthorized: false,
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on("error", reject);
          req.end(JSON.stringify({ events: [event(20)] }));
        });
        assert.equal(status, 200);
        assert.equal(handled.length, 1);
      } finally {
        await as.close();
      }
    } finally {
      for (const [name, value] of [
        ["MATRIX_AS_TLS_KEY", saved.key],
        ["MATRIX_AS_TLS_CERT", saved.cert],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
