/** What the core reports through BridgeMetrics, observed with the same fakes as the core tests. */
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { BridgeCore } from "../../../src/bridge/core.js";
import { silentLog } from "../../../src/bridge/log.js";
import type { BridgeMetrics, MessageDirection, NotBridgedReason } from "../../../src/bridge/metrics.js";
import type { Store } from "../../../src/store/store.js";
import { FakeMatrix, FakeNotification, memoryStore, TEST_CORE_OPTIONS, until } from "./fakes.js";

class RecordingMetrics implements BridgeMetrics {
  bridged: MessageDirection[] = [];
  latencies: number[] = [];
  notBridgedReasons: NotBridgedReason[] = [];
  reconnects = 0;
  setups: number[] = [];
  messageBridged(direction: MessageDirection): void {
    this.bridged.push(direction);
  }
  msnToMatrixLatency(seconds: number): void {
    this.latencies.push(seconds);
  }
  notBridged(reason: NotBridgedReason): void {
    this.notBridgedReasons.push(reason);
  }
  reconnectAttempt(): void {
    this.reconnects++;
  }
  switchboardSetup(seconds: number): void {
    this.setups.push(seconds);
  }
}

const OPTIONS = {
  ...TEST_CORE_OPTIONS,
  reconnectWaitMs: 100,
  homeserverRetry: { initialMs: 5, maxMs: 20, jitter: 0, totalMs: 200 },
};

describe("bridge metrics", () => {
  const user = "@alice:hs";
  let store: Store;
  let matrix: FakeMatrix;
  let sessions: FakeNotification[];
  let metrics: RecordingMetrics;
  let core: BridgeCore;

  beforeEach(async () => {
    store = await memoryStore();
    await store.setManagementRoom(user, "!mgmt:hs");
    matrix = new FakeMatrix();
    sessions = [];
    metrics = new RecordingMetrics();
    core = new BridgeCore(
      store,
      matrix,
      ({ email, password }) => {
        const ns = new FakeNotification(email, password);
        ns.addFakeContact("bob@msn.test", "Bob", "NLN");
        ns.addFakeContact("dave@msn.test", "Dave", "FLN");
        sessions.push(ns);
        return ns;
      },
      OPTIONS,
      silentLog,
      metrics,
    );
    await core.login(user, "alice@msn.test", "pw");
  });

  afterEach(async () => {
    await core.stop();
    await store.close();
  });

  test("messages each way are counted once the other side has them; MSN→Matrix latency is timed", async () => {
    const ns = sessions[0]!;
    ns.fire("ring", { sessionId: "1", inviterEmail: "bob@msn.test", inviterName: "Bob" });
    await until(() => core.portalCount === 1);
    assert.equal(core.openSwitchboardCount, 1);
    ns.opened[0]!.fire("message", { from: "bob@msn.test", fromName: "Bob", text: "hi" });
    await core.drain();
    assert.deepEqual(metrics.bridged, ["msn_to_matrix"]);
    assert.equal(metrics.latencies.length, 1);
    assert.ok(metrics.latencies[0]! >= 0 && metrics.latencies[0]! < 5, String(metrics.latencies[0]));

    await core.handlePortalMessage(matrix.rooms[0]!.roomId, user, "$1", { msgtype: "m.text", body: "yo" });
    await core.drain();
    assert.deepEqual(ns.opened[0]!.sent, ["yo"]);
    assert.deepEqual(metrics.bridged, ["msn_to_matrix", "matrix_to_msn"]);
    assert.equal(metrics.setups.length, 0, "the contact's switchboard was reused, none was set up");
    assert.deepEqual(metrics.notBridgedReasons, []);
  });

  test("a switchboard the bridge opens is timed; counts follow it closing", async () => {
    const { roomId } = await core.openChat(user, "bob@msn.test");
    await core.handlePortalMessage(roomId, user, "$1", { msgtype: "m.text", body: "first" });
    await core.drain();
    assert.equal(metrics.setups.length, 1);
    assert.deepEqual(metrics.bridged, ["matrix_to_msn"]);
    assert.equal(core.openSwitchboardCount, 1);
    const sb = sessions[0]!.opened[0]!;
    sb.leave("bob@msn.test");
    await until(() => sb.closed);
    assert.equal(core.openSwitchboardCount, 0);
  });

  test("not-bridged notices are counted by reason class", async () => {
    const offline = await core.openChat(user, "dave@msn.test");
    await core.handlePortalMessage(offline.roomId, user, "$1", { msgtype: "m.text", body: "hello?" });
    const bob = await core.openChat(user, "bob@msn.test");
    await core.handleUnbridgeable(bob.roomId, user, "$2", "reactions are not supported on MSN");
    await core.handlePortalMessage(bob.roomId, user, "$3", {
      msgtype: "m.text",
      body: "edited",
      "m.relates_to": { rel_type: "m.replace", event_id: "$0" },
    });
    await core.drain();
    // Two rooms: their notices may come in either order (an offline check waits out the ILN grace).
    assert.deepEqual([...metrics.notBridgedReasons].sort(), [
      "contact_offline",
      "unsupported",
      "unsupported",
    ]);
    assert.deepEqual(metrics.bridged, []);

    // A send that fails on the first and the retried switchboard.
    await core.handlePortalMessage(bob.roomId, user, "$4", { msgtype: "m.text", body: "a" });
    await core.drain();
    const ns = sessions[0]!;
    const realOpen = ns.openSwitchboard.bind(ns);
    ns.opened[0]!.failNextSend = new Error("socket closed");
    ns.openSwitchboard = async () => {
      const sb = await realOpen();
      (sb as (typeof ns.opened)[number]).failNextSend = new Error("socket closed");
      return sb;
    };
    await core.handlePortalMessage(bob.roomId, user, "$5", { msgtype: "m.text", body: "b" });
    await core.drain();
    assert.deepEqual(metrics.notBridgedReasons.slice(3), ["delivery_failed"]);

    await core.logout(user);
    await core.handlePortalMessage(bob.roomId, user, "$6", { msgtype: "m.text", body: "c" });
    await core.drain();
    // Logged out: the portal no longer answers for the stopped login, so the reason is the same
    // as after a restart.
    assert.deepEqual(metrics.notBridgedReasons.slice(4), ["not_logged_in"]);

    // After a restart the logged-out user has no puppet at all.
    const restarted = new BridgeCore(store, matrix, () => sessions[0]!, OPTIONS, silentLog, metrics);
    await restarted.start();
    assert.equal(
      await restarted.handlePortalMessage(bob.roomId, user, "$7", { msgtype: "m.text", body: "d" }),
      true,
    );
    assert.deepEqual(metrics.notBridgedReasons.slice(5), ["not_logged_in"]);
    assert.deepEqual(metrics.bridged, ["matrix_to_msn"]);
  });

  test("automatic reconnection attempts are counted, the first connect is not", async () => {
    assert.equal(metrics.reconnects, 0);
    sessions[0]!.fire("closed", { reason: "socket-closed" });
    await until(() => sessions.length === 2 && core.status(user).startsWith("Connected"));
    assert.equal(metrics.reconnects, 1);
  });
});
