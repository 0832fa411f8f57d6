/**
 * What a restart writes at info level: one summary line for all stored logins, not a line per
 * login (10,000 puppets wrote 10,000 "contacts synced" lines per restart).
 */
import { describe, test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { BridgeCore } from "../../../src/bridge/core.js";
import type { Log } from "../../../src/bridge/log.js";
import type { Store } from "../../../src/store/store.js";
import { FakeMatrix, FakeNotification, memoryStore, TEST_CORE_OPTIONS, until } from "./fakes.js";

interface Line {
  level: keyof Log;
  msg: string;
  meta: Record<string, unknown> | undefined;
}

function recordingLog(lines: Line[]): Log {
  const at =
    (level: keyof Log) =>
    (msg: string, meta?: Record<string, unknown>): void => {
      lines.push({ level, msg, meta });
    };
  return { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
}

describe("restoring stored logins", () => {
  let store: Store;
  let core: BridgeCore;

  /** Starts a core on `store` whose MSN sessions `prepare` sets up; resolves with its log lines. */
  async function startCore(prepare: (ns: FakeNotification) => void): Promise<Line[]> {
    const lines: Line[] = [];
    core = new BridgeCore(
      store,
      new FakeMatrix(),
      ({ email, password }) => {
        const ns = new FakeNotification(email, password);
        prepare(ns);
        return ns;
      },
      TEST_CORE_OPTIONS,
      recordingLog(lines),
    );
    await core.start();
    return lines;
  }

  afterEach(async () => {
    await core.stop();
    await store.close();
  });

  test("one info summary after every login's first attempt; per-login lines at debug", async () => {
    store = await memoryStore();
    const users = ["@a:hs", "@b:hs", "@c:hs", "@d:hs"];
    for (const [i, userId] of users.entries()) {
      await store.upsertLogin({
        userId,
        email: `user${i}@msn.test`,
        password: "pw",
        // The last one logged out of auto-connect: it is not restored, nor counted.
        autoConnect: i < 3,
        friendlyName: `User ${i}`,
      });
    }
    const lines = await startCore((ns) => {
      ns.addFakeContact("bob@msn.test", "Bob", "NLN");
      // One account's password no longer works: its attempt ends too, unconnected.
      if (ns.email === "user2@msn.test") ns.connectError = Object.assign(new Error("911"), { code: 911 });
    });
    await until(() => lines.some((l) => l.msg === "stored MSN logins restored"));
    // Contact sync ends an offline grace after each login.
    await until(() => lines.filter((l) => l.msg === "contacts synced").length === 2);

    const summaries = lines.filter((l) => l.msg === "stored MSN logins restored");
    assert.equal(summaries.length, 1);
    assert.equal(summaries[0]!.level, "info");
    assert.equal(summaries[0]!.meta?.logins, 3);
    assert.equal(summaries[0]!.meta?.connected, 2);
    assert.equal(typeof summaries[0]!.meta?.seconds, "number");
    const perLogin = lines.filter((l) => l.msg === "contacts synced");
    assert.deepEqual(
      perLogin.map((l) => l.level),
      ["debug", "debug"],
    );
  });

  test("an unreachable MSN server: the summary at once, one warning per puppet, the retries at debug", async () => {
    store = await memoryStore();
    await store.upsertLogin({
      userId: "@a:hs",
      email: "a@msn.test",
      password: "pw",
      autoConnect: true,
      friendlyName: "A",
    });
    const lines = await startCore((ns) => {
      ns.connectError = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1863"), {
        code: "ECONNREFUSED",
      });
    });
    const failures = (): Line[] => lines.filter((l) => l.msg === "MSN connect failed");
    await until(() => failures().length >= 4);
    // The restart's summary came after the first attempt, not after MSN came back.
    const summary = lines.find((l) => l.msg === "stored MSN logins restored");
    assert.equal(summary?.meta?.connected, 0);
    assert.ok(lines.indexOf(summary!) < lines.indexOf(failures()[1]!), "before the second attempt");
    assert.deepEqual(
      failures().map((l) => [l.level, l.meta?.attempt]),
      failures().map((_, i) => [i === 0 ? "warn" : "debug", i]),
    );
  });
});
