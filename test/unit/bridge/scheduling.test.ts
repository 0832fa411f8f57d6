import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "../../../src/bridge/backoff.js";
import { OrderedQueue } from "../../../src/bridge/ordered-queue.js";
import { matrixPresenceFor } from "../../../src/bridge/presence.js";

describe("backoff", () => {
  const opts = { initialMs: 1000, maxMs: 60_000, jitter: 0.3 };
  test("grows exponentially and stops at the cap", () => {
    const mid = (): number => 0.5;
    assert.deepEqual(
      [0, 1, 2, 3, 10, 100].map((a) => backoffDelay(a, opts, mid)),
      [1000, 2000, 4000, 8000, 60_000, 60_000],
    );
  });
  test("jitter stays within ±30 %", () => {
    assert.equal(
      backoffDelay(2, opts, () => 0),
      2800,
    );
    assert.equal(
      backoffDelay(2, opts, () => 0.999999),
      5200,
    );
  });
});

describe("ordered queue", () => {
  test("runs tasks one at a time in order, and a failure does not stall the rest", async () => {
    const q = new OrderedQueue();
    const log: string[] = [];
    const task =
      (name: string, ms: number, fail = false) =>
      async () => {
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      };
    const a = q.push(task("a", 20));
    const b = q.push(task("b", 1, true));
    const c = q.push(task("c", 1));
    assert.equal(await a, "a");
    await assert.rejects(b, /b/);
    assert.equal(await c, "c");
    assert.deepEqual(log, ["start a", "end a", "start b", "end b", "start c", "end c"]);
    assert.equal(q.size, 0);
  });
});

describe("presence mapping", () => {
  test("MSN statuses become Matrix presence, personal messages the status message", () => {
    assert.deepEqual(matrixPresenceFor("NLN"), { presence: "online", statusMsg: undefined });
    assert.deepEqual(matrixPresenceFor("NLN", "on holiday"), { presence: "online", statusMsg: "on holiday" });
    assert.deepEqual(matrixPresenceFor("AWY", " at lunch "), {
      presence: "unavailable",
      statusMsg: "Away: at lunch",
    });
    assert.deepEqual(matrixPresenceFor("BSY"), { presence: "unavailable", statusMsg: "Busy" });
    assert.deepEqual(matrixPresenceFor("FLN", "gone"), { presence: "offline", statusMsg: undefined });
  });
});
