/**
 * MSN→Matrix while the homeserver cannot be reached (issue 5, item 6): a portal holds at most
 * `relayBufferMessages` messages, delivers them in order and once each when the homeserver is
 * back, and reports what it had to drop with one notice per gap, counted in metrics.
 */
import { describe, test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { Portal, type PortalOwner } from "../../../src/bridge/portal.js";
import { silentLog } from "../../../src/bridge/log.js";
import { noMetrics, type BridgeMetrics, type MsnMessageLostReason } from "../../../src/bridge/metrics.js";
import type { MatrixMessageContent } from "../../../src/bridge/matrix-port.js";
import { FakeMatrix, FakeNotification, FakeSwitchboard, until } from "./fakes.js";

const ROOM = "!dm:hs";
const BOB = "bob@msn.test";

/** A homeserver that refuses connections while `down`, and records every attempt. */
class FlakyMatrix extends FakeMatrix {
  down = false;
  readonly attempts: { body: string; txnId: string | undefined }[] = [];

  override async sendMessage(
    as: string | null,
    roomId: string,
    content: MatrixMessageContent,
    txnId?: string,
  ): Promise<string> {
    this.attempts.push({ body: content.body, txnId });
    if (this.down) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    return super.sendMessage(as, roomId, content);
  }
}

const owner: PortalOwner = {
  userId: "@alice:hs",
  ownEmail: "alice@msn.test",
  openSwitchboardWith: () => Promise.reject(new Error("not in these tests")),
  onGroupFormed: () => undefined,
};

describe("portal relay buffer (homeserver outage)", () => {
  let matrix: FlakyMatrix;
  let sb: FakeSwitchboard;
  let lost: MsnMessageLostReason[];
  let metrics: BridgeMetrics;

  beforeEach(() => {
    matrix = new FlakyMatrix();
    sb = new FakeSwitchboard(new FakeNotification("alice@msn.test", "pw"));
    sb.participants.set(BOB, "Bob");
    lost = [];
    metrics = { ...noMetrics, msnMessageLost: (reason) => lost.push(reason) };
  });

  function portal(relayBufferMessages: number, totalMs = 10_000): Portal {
    const p = new Portal(
      {
        roomId: ROOM,
        userId: owner.userId,
        conversationKey: BOB,
        kind: "dm",
        participants: [BOB],
        parentRoomId: null,
        createdAt: 0,
      },
      owner,
      matrix,
      silentLog,
      {
        typingTimeoutMs: 1000,
        typingRepeatMs: 1000,
        homeserverRetry: { initialMs: 2, maxMs: 10, jitter: 0, totalMs },
        relayBufferMessages,
        metrics,
      },
    );
    p.attachSwitchboard(sb);
    return p;
  }

  const say = (text: string): void => sb.fire("message", { from: BOB, fromName: "Bob", text });
  const bodies = (): string[] => matrix.messages.map((m) => m.content.body);

  test("the oldest are kept, the rest dropped and reported once after them, counted as buffer_full", async () => {
    const p = portal(5);
    matrix.down = true;
    for (let i = 0; i < 8; i++) say(`m${i}`);
    assert.deepEqual(lost, ["buffer_full", "buffer_full", "buffer_full"]);
    // Retries keep failing for a while: nothing is delivered, nothing reordered.
    await until(() => matrix.attempts.length >= 4);
    assert.deepEqual(bodies(), []);
    matrix.down = false;
    await p.drain();
    say("after");
    await p.drain();
    assert.deepEqual(bodies(), [
      "m0",
      "m1",
      "m2",
      "m3",
      "m4",
      "⚠️ 3 MSN messages were lost while the Matrix homeserver was unreachable.",
      "after",
    ]);
    // The notice speaks for the bridge in a DM as the contact's ghost, as other notices do.
    assert.equal(matrix.messages[5]!.as, BOB);
    assert.equal(matrix.messages[5]!.content.msgtype, "m.notice");
  });

  test("a later overflow after accepted messages is a new gap with its own notice", async () => {
    const p = portal(2);
    matrix.down = true;
    say("a");
    say("b");
    say("x1"); // dropped
    matrix.down = false;
    await p.drain();
    matrix.down = true;
    say("c");
    say("d");
    say("x2"); // dropped
    say("x3"); // dropped
    matrix.down = false;
    await p.drain();
    assert.deepEqual(bodies(), [
      "a",
      "b",
      "⚠️ 1 MSN message was lost while the Matrix homeserver was unreachable.",
      "c",
      "d",
      "⚠️ 2 MSN messages were lost while the Matrix homeserver was unreachable.",
    ]);
    assert.equal(lost.length, 3);
  });

  test("every attempt at a message carries its one transaction ID, and no two messages share one", async () => {
    const p = portal(10);
    matrix.down = true;
    say("one");
    say("two");
    await until(() => matrix.attempts.length >= 3);
    matrix.down = false;
    await p.drain();
    assert.deepEqual(bodies(), ["one", "two"]);
    const ids = (body: string): Set<string | undefined> =>
      new Set(matrix.attempts.filter((a) => a.body === body).map((a) => a.txnId));
    assert.ok(matrix.attempts.filter((a) => a.body === "one").length >= 3, "'one' was retried");
    assert.equal(ids("one").size, 1);
    assert.equal(ids("two").size, 1);
    assert.notEqual([...ids("one")][0], undefined);
    assert.notEqual([...ids("one")][0], [...ids("two")][0]);
  });

  test("a homeserver away longer than the retry window: the message is counted lost and reported when it is back", async () => {
    const p = portal(10, 40);
    matrix.down = true;
    say("too late");
    await until(() => lost.length === 1, 2000);
    assert.deepEqual(lost, ["homeserver_unreachable"]);
    matrix.down = false;
    say("next");
    await p.drain();
    assert.deepEqual(bodies(), [
      "⚠️ 1 MSN message was lost while the Matrix homeserver was unreachable.",
      "next",
    ]);
  });

  test("a full buffer frees as the homeserver catches up: nothing is dropped when it only lags", async () => {
    const p = portal(3);
    // Each send takes a moment, as a slow homeserver's would; messages arrive faster than that
    // but never more than the buffer ahead.
    const send = matrix.sendMessage.bind(matrix);
    matrix.sendMessage = async (...args) => {
      await new Promise((r) => setTimeout(r, 2));
      return send(...args);
    };
    for (let i = 0; i < 6; i++) {
      say(`s${i}`);
      await until(() => matrix.messages.length >= i - 1);
    }
    await p.drain();
    assert.deepEqual(bodies(), ["s0", "s1", "s2", "s3", "s4", "s5"]);
    assert.deepEqual(lost, []);
  });
});
