import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { Request as HttpRequest, Response as HttpResponse } from "express";
import {
  PerRoomSerializer,
  TransactionalAppService,
  type TransactionLog,
} from "../../../src/matrix/appservice.js";
import { silentLog } from "../../../src/bridge/log.js";

class MemoryTransactions implements TransactionLog {
  readonly seen = new Set<string>();
  failMark = false;
  async hasTransaction(txnId: string): Promise<boolean> {
    return this.seen.has(txnId);
  }
  async markTransaction(txnId: string): Promise<boolean> {
    if (this.failMark) throw new Error("database is gone");
    const fresh = !this.seen.has(txnId);
    this.seen.add(txnId);
    return fresh;
  }
}

interface Answer {
  status: number;
  body: unknown;
}

function put(
  as: TransactionalAppService,
  txnId: string,
  body: unknown,
  token: string | null = "hs-secret",
): Promise<Answer> {
  return new Promise((done) => {
    let status = 200;
    const res = {
      status(code: number) {
        status = code;
        return res;
      },
      json(payload: unknown) {
        done({ status, body: payload });
        return res;
      },
    };
    const req = {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      query: {},
      params: { txnId },
      body,
    };
    void as.handleTransaction(req as unknown as HttpRequest, res as unknown as HttpResponse);
  });
}

function appservice(
  store: TransactionLog,
  waitMs = 1000,
): {
  as: TransactionalAppService;
  handled: unknown[];
  gate: { release: () => void; wait: Promise<void> };
} {
  const as = new TransactionalAppService({ hsToken: "hs-secret", log: silentLog, store, waitMs });
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
    await sleep(20);
    assert.equal(handled.length, 2);
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

  test("wrong or missing token: 403, nothing handled; a non-object body: 400", async () => {
    const store = new MemoryTransactions();
    const { as, handled } = appservice(store);
    assert.equal((await put(as, "t4", { events: [event(5)] }, "wrong")).status, 403);
    assert.equal((await put(as, "t4", { events: [event(5)] }, null)).status, 403);
    assert.equal((await put(as, "t5", [1, 2])).status, 400);
    assert.equal(handled.length, 0);
    assert.equal(store.seen.size, 0);
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
