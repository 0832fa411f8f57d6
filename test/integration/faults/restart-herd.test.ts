/**
 * The MSN server restarts under many puppets: the bridge core with real NS sessions over TCP
 * against the MSN test server (Matrix faked in process). Every login drops at the same instant and
 * the port refuses connections for a while; the puppets must all come back without a thundering
 * herd: never more logins in progress than `loginConcurrency` (counted by the client and, from its
 * wire log, by the server), first attempts spread by jitter, backoff between refused attempts, and
 * one outage notice plus one reconnected notice per user.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { BridgeCore } from "../../../src/bridge/core.js";
import { silentLog } from "../../../src/bridge/log.js";
import type { NotificationFactory } from "../../../src/bridge/msn-ports.js";
import { NotificationSession } from "../../../src/msnp/index.js";
import type { Store } from "../../../src/store/store.js";
import { FakeMatrix, memoryStore, TEST_CORE_OPTIONS, until } from "../../unit/bridge/fakes.js";
import { MsnTestServer, type WireRecord } from "../../msn-server/index.js";

const PUPPETS = 12;
const CONCURRENCY = 3;
const RECONNECT = { initialMs: 300, maxMs: 2000, jitter: 0.3 };
const DOWN_MS = 1500;

interface Attempt {
  email: string;
  start: number;
  end: number;
  ok: boolean;
}

/** Most intervals open at one instant. */
function maxOverlap(intervals: readonly { start: number; end: number }[]): number {
  const edges = intervals.flatMap((i) => [
    { at: i.start, delta: 1 },
    { at: i.end, delta: -1 },
  ]);
  // Ends before starts at the same instant: back-to-back logins do not overlap.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let open = 0;
  let max = 0;
  for (const e of edges) {
    open += e.delta;
    max = Math.max(max, open);
  }
  return max;
}

/** NS logins as the server saw them: first line received until `USR … OK` (or the last line). */
function serverLogins(records: readonly WireRecord[], from: number): { start: number; end: number }[] {
  const byConnection = new Map<number, WireRecord[]>();
  for (const r of records) {
    if (r.connection !== "ns" || r.at < from) continue;
    const list = byConnection.get(r.connectionId) ?? [];
    list.push(r);
    byConnection.set(r.connectionId, list);
  }
  return [...byConnection.values()].map((list) => {
    const ok = list.find((r) => r.direction === "out" && r.name === "USR" && r.args[1] === "OK");
    return { start: list[0]!.at, end: (ok ?? list.at(-1)!).at };
  });
}

describe("MSN server restart under many puppets (core + real NS sessions over TCP)", () => {
  const users = Array.from({ length: PUPPETS }, (_, i) => ({
    userId: `@user${i}:hs`,
    email: `user${i}@hotmail.test`,
    password: `pw-${i}`,
    room: `!mgmt${i}:hs`,
  }));
  let msn: MsnTestServer;
  let store: Store;
  let matrix: FakeMatrix;
  let core: BridgeCore;
  const attempts: Attempt[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  before(async () => {
    msn = new MsnTestServer({
      accounts: users.map((u) => ({ email: u.email, password: u.password, name: `User ${u.email}` })),
    });
    await msn.start();
    store = await memoryStore();
    matrix = new FakeMatrix();
    const factory: NotificationFactory = ({ email, password }) => {
      const ns = new NotificationSession({
        host: msn.host,
        port: msn.nsPort,
        email,
        password,
        versions: ["MSNP7"],
        pingIntervalMs: 60_000,
        requestTimeoutMs: 5000,
      });
      const connect = ns.connect.bind(ns);
      ns.connect = async () => {
        const attempt: Attempt = { email, start: performance.now(), end: 0, ok: false };
        attempts.push(attempt);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          await connect();
          attempt.ok = true;
        } finally {
          inFlight--;
          attempt.end = performance.now();
        }
      };
      return ns;
    };
    core = new BridgeCore(
      store,
      matrix,
      factory,
      { ...TEST_CORE_OPTIONS, loginConcurrency: CONCURRENCY, reconnect: RECONNECT },
      silentLog,
    );
    for (const u of users) {
      await store.setManagementRoom(u.userId, u.room);
      await core.login(u.userId, u.email, u.password);
    }
  });

  after(async () => {
    await core?.stop();
    await msn?.stop();
    await store?.close();
  });

  test(`${PUPPETS} puppets come back after a ${DOWN_MS} ms outage, at most ${CONCURRENCY} logging in at a time, spread out`, async () => {
    assert.ok(
      users.every((u) => msn.isOnline(u.email)),
      "all online before",
    );
    const beforeCount = attempts.length;
    maxInFlight = inFlight;
    const wallStart = Date.now();
    const t0 = performance.now();
    await msn.restart({ downMs: DOWN_MS });
    await until(() => users.every((u) => core.puppets.get(u.userId)?.connected === true), 20_000);
    await until(() => users.every((u) => msn.isOnline(u.email)), 5000);
    const upMs = performance.now() - t0;

    const after = attempts.slice(beforeCount);
    assert.ok(
      maxInFlight <= CONCURRENCY,
      `client: at most ${CONCURRENCY} logins in progress (saw ${maxInFlight})`,
    );
    const atServer = maxOverlap(serverLogins(msn.transcript(), wallStart));
    assert.ok(
      atServer >= 1 && atServer <= CONCURRENCY,
      `server: at most ${CONCURRENCY} logins at once (saw ${atServer})`,
    );

    // Jitter: the first attempts after the drop do not all start together.
    const firsts = users.map((u) => after.find((a) => a.email === u.email)!.start);
    const firstSpread = Math.max(...firsts) - Math.min(...firsts);
    assert.ok(firstSpread >= 100, `first attempts spread over ${firstSpread.toFixed(0)} ms`);
    // Backoff: refused attempts double their wait, so a 1.5 s outage costs each puppet a few tries.
    const perPuppet = users.map((u) => after.filter((a) => a.email === u.email).length);
    assert.ok(Math.max(...perPuppet) <= 5, `attempts per puppet ${perPuppet.join(",")}`);
    const successes = after.filter((a) => a.ok).map((a) => a.end);
    assert.equal(successes.length, PUPPETS, "one successful login each");
    const successSpread = Math.max(...successes) - Math.min(...successes);
    assert.ok(successSpread >= 100, `logins after the restart spread over ${successSpread.toFixed(0)} ms`);
    assert.ok(upMs < DOWN_MS + 2 * RECONNECT.maxMs, `all back ${upMs.toFixed(0)} ms after the drop`);

    for (const u of users) {
      const said = matrix.notices.filter((n) => n.roomId === u.room).map((n) => n.text);
      const outage = said.filter((t) => t.startsWith("⚠️"));
      const back = said.filter((t) => t.startsWith("✅ Reconnected"));
      assert.equal(outage.length, 1, `${u.userId}: one outage notice: ${said.join(" | ")}`);
      assert.equal(back.length, 1, `${u.userId}: one reconnected notice`);
    }
    process.stderr.write(
      `# restart herd: ${PUPPETS} puppets back in ${upMs.toFixed(0)} ms; max ${maxInFlight} logins in progress (client), ${atServer} (server); first attempts spread ${firstSpread.toFixed(0)} ms, successes ${successSpread.toFixed(0)} ms; attempts per puppet ${Math.min(...perPuppet)}–${Math.max(...perPuppet)}\n`,
    );
  });
});
