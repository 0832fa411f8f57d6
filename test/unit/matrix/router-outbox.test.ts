/**
 * The router's outbox: a Matrix message is written to the store's outbox only when it is still on
 * its way to MSN as its transaction is acknowledged — the only case where a crash would lose it.
 * The store is the real one (SQLite in memory); the core is scripted so the test decides when
 * each message reaches MSN.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { BridgeCore } from "../../../src/bridge/core.js";
import { GhostIds } from "../../../src/bridge/ghost-ids.js";
import { silentLog } from "../../../src/bridge/log.js";
import type { MatrixPort } from "../../../src/bridge/matrix-port.js";
import { EventRouter } from "../../../src/matrix/router.js";
import type { Store } from "../../../src/store/store.js";
import { memoryStore } from "../bridge/fakes.js";

const USER = "@alice:example.org";
const ROOM = "!portal:example.org";

interface Pending {
  eventId: string;
  body: unknown;
  settle: () => Promise<void>;
}

/** handlePortalMessage as the core does it: holds the caller until delivery, or at most `holdMs`. */
class ScriptedCore {
  readonly pending: Pending[] = [];
  /** Messages that reach MSN at once (before the hold ends). */
  deliverAtOnce = true;
  calls = 0;

  async handlePortalMessage(
    _roomId: string,
    _sender: string,
    eventId: string,
    content: Record<string, unknown>,
    opts: { awaitDelivery?: boolean; onSettled?: () => Promise<void> } = {},
  ): Promise<boolean> {
    this.calls++;
    const settle = async (): Promise<void> => {
      await opts.onSettled?.();
    };
    if (this.deliverAtOnce) await settle();
    else this.pending.push({ eventId, body: content.body, settle });
    return true;
  }
}

function routerOn(core: ScriptedCore, store: Store): EventRouter {
  return new EventRouter({
    core: core as unknown as BridgeCore,
    matrix: { botUserId: "@msnbot:example.org" } as unknown as MatrixPort,
    store,
    ghosts: new GhostIds("msn_", "example.org"),
    log: silentLog,
    isPermitted: () => true,
    leave: async () => undefined,
    joinAsBot: async () => undefined,
  });
}

async function setup(): Promise<{
  router: EventRouter;
  core: ScriptedCore;
  store: Store;
  outboxWrites: string[];
}> {
  const store = await memoryStore();
  const outboxWrites: string[] = [];
  const add = store.addToOutbox.bind(store);
  store.addToOutbox = (m) => (outboxWrites.push(m.eventId), add(m));
  const core = new ScriptedCore();
  return { router: routerOn(core, store), core, store, outboxWrites };
}

const message = (n: number): Record<string, unknown> => ({
  type: "m.room.message",
  room_id: ROOM,
  sender: USER,
  event_id: `$m${n}`,
  content: { msgtype: "m.text", body: `message ${n}` },
});

describe("EventRouter outbox", () => {
  test("a message on MSN before its transaction ends: handled, never in the outbox", async () => {
    const { router, store, outboxWrites } = await setup();
    await router.onEvent(message(1));
    assert.equal(await store.wasEventHandled("$m1"), true);
    assert.deepEqual(outboxWrites, [], "no outbox write");
  });

  test("a message still on its way: in the outbox until it settles, then handled and removed", async () => {
    const { router, core, store } = await setup();
    core.deliverAtOnce = false;
    await router.onEvent(message(2));
    assert.equal(await store.wasEventHandled("$m2"), false, "not handled before it reached MSN");
    assert.deepEqual(
      (await store.listOutbox()).map((m) => [m.eventId, m.roomId, m.sender, m.content]),
      [["$m2", ROOM, USER, { msgtype: "m.text", body: "message 2" }]],
    );
    await core.pending[0]!.settle();
    assert.equal(await store.wasEventHandled("$m2"), true);
    assert.deepEqual(await store.listOutbox(), []);
  });

  test("a replay while the message is on its way, or after, does not send it again", async () => {
    const { router, core, store } = await setup();
    core.deliverAtOnce = false;
    await router.onEvent(message(3));
    await router.onEvent(message(3));
    assert.equal(core.calls, 1, "replayed while on its way");
    await core.pending[0]!.settle();
    await router.onEvent(message(3));
    assert.equal(core.calls, 1, "replayed after it was handled");
    assert.deepEqual(await store.listOutbox(), []);
  });

  test("after a restart the outbox is resent once; a replay of the same event meanwhile is not sent", async () => {
    const { router: before, core: oldCore, store } = await setup();
    oldCore.deliverAtOnce = false;
    await before.onEvent(message(4));
    await before.onEvent(message(5));
    // The process dies here; a new router on the same store starts.
    const core = new ScriptedCore();
    core.deliverAtOnce = false;
    const router = routerOn(core, store);
    assert.equal(await router.resendOutbox(), 2);
    assert.deepEqual(
      core.pending.map((p) => p.body),
      ["message 4", "message 5"],
      "in the order they were accepted",
    );
    await router.onEvent(message(5));
    assert.equal(core.calls, 2, "the replayed event was not sent a second time");
    for (const p of core.pending) await p.settle();
    assert.deepEqual(await store.listOutbox(), []);
    assert.equal(await store.wasEventHandled("$m4"), true);
    assert.equal(await store.wasEventHandled("$m5"), true);
  });
});
