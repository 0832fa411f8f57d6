/**
 * The Matrix→MSN delivery guarantee at the core level (docs/reliability.md): ack mode A,
 * one resend on a fresh switchboard that continues after the last acknowledged chunk, a notice
 * when that fails too, and a transaction hold that a stalled chat cannot stretch.
 */
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { BridgeCore } from "../../../src/bridge/core.js";
import { silentLog } from "../../../src/bridge/log.js";
import type { SwitchboardPort } from "../../../src/bridge/msn-ports.js";
import { MsnConnectionClosedError, MsnDeliveryError, MsnTimeoutError } from "../../../src/msnp/index.js";
import type { Store } from "../../../src/store/store.js";
import { FakeMatrix, FakeNotification, FakeSwitchboard, memoryStore, TEST_CORE_OPTIONS } from "./fakes.js";

/** What happens to each chunk, in order across every switchboard; unscripted chunks are ACKed. */
type ChunkFate = "ack" | "nak" | "close" | "stall";

interface SendOptions {
  ack?: "U" | "N" | "A";
  ackTimeoutMs?: number;
  skipChunks?: number;
  onChunkDone?: (index: number, total: number) => void;
}

/** A switchboard whose chunks are the parts of the text between `|`, each ACKed or not by script. */
class ScriptedSwitchboard extends FakeSwitchboard {
  readonly calls: { ack: string | undefined; skip: number }[] = [];

  constructor(
    ns: FakeNotification,
    private readonly script: ChunkFate[],
  ) {
    super(ns);
  }

  override async sendText(text: string, opts: SendOptions = {}): Promise<void> {
    const chunks = text.split("|");
    const skip = opts.skipChunks ?? 0;
    this.calls.push({ ack: opts.ack, skip });
    for (let i = skip; i < chunks.length; i++) {
      const fate = this.script.shift() ?? "ack";
      if (fate === "nak") throw new MsnDeliveryError(i + 1);
      if (fate === "close") {
        await this.close();
        throw new MsnConnectionClosedError("SB connection closed before the reply to MSG");
      }
      if (fate === "stall") {
        await new Promise((r) => setTimeout(r, opts.ackTimeoutMs ?? 15_000));
        throw new MsnTimeoutError("MSG", opts.ackTimeoutMs ?? 15_000);
      }
      this.sent.push(chunks[i]!);
      opts.onChunkDone?.(i, chunks.length);
    }
  }
}

class ScriptedNotification extends FakeNotification {
  readonly script: ChunkFate[] = [];
  readonly boards: ScriptedSwitchboard[] = [];

  override async openSwitchboard(): Promise<SwitchboardPort> {
    const sb = new ScriptedSwitchboard(this, this.script);
    this.boards.push(sb);
    return sb;
  }
}

describe("Matrix→MSN delivery", () => {
  const user = "@alice:hs";
  let store: Store;
  let matrix: FakeMatrix;
  let ns: ScriptedNotification;
  let core: BridgeCore;
  let roomId: string;

  beforeEach(async () => {
    store = await memoryStore();
    matrix = new FakeMatrix();
    core = new BridgeCore(
      store,
      matrix,
      ({ email, password }) => {
        ns = new ScriptedNotification(email, password);
        ns.addFakeContact("bob@msn.test", "Bob", "NLN");
        return ns;
      },
      { ...TEST_CORE_OPTIONS, ackTimeoutMs: 400, deliveryHoldMs: 100 },
      silentLog,
    );
    await core.login(user, "alice@msn.test", "pw");
    ({ roomId } = await core.openChat(user, "bob@msn.test"));
  });

  afterEach(async () => {
    await core.stop();
    await store.close();
  });

  const notices = (): string[] =>
    matrix.messages.map((m) => String(m.content.body)).filter((b) => b.startsWith("⚠️"));

  test("chunks go out with ack mode A; a switchboard dying mid-message is replaced and the rest follows", async () => {
    ns.script.push("ack", "close");
    await core.handlePortalMessage(roomId, user, "$1", { msgtype: "m.text", body: "one|two|three" });
    await core.drain();
    const [first, second] = ns.boards;
    assert.deepEqual(first!.sent, ["one"]);
    assert.deepEqual(second!.sent, ["two", "three"], "acknowledged chunks are not repeated");
    assert.deepEqual(
      ns.boards.flatMap((b) => b.calls),
      [
        { ack: "A", skip: 0 },
        { ack: "A", skip: 1 },
      ],
    );
    assert.deepEqual(notices(), []);
  });

  test("a NAK on the fresh switchboard too: a not-bridged reply, and no third try", async () => {
    ns.script.push("nak", "nak");
    await core.handlePortalMessage(roomId, user, "$1", { msgtype: "m.text", body: "hello" });
    await core.drain();
    assert.equal(ns.boards.length, 2);
    assert.deepEqual(notices(), ["⚠️ Your message was not bridged: the MSN server could not deliver it"]);
    const reply = matrix.messages.find((m) => String(m.content.body).startsWith("⚠️"))!;
    assert.deepEqual(reply.content["m.relates_to"], { "m.in_reply_to": { event_id: "$1" } });
  });

  test("after `logout` and `login` again the same room sends through the new login", async () => {
    await core.handlePortalMessage(roomId, user, "$1", { msgtype: "m.text", body: "before" });
    await core.drain();
    const first = ns;
    await core.logout(user);
    await core.handlePortalMessage(roomId, user, "$2", { msgtype: "m.text", body: "logged out" });
    await core.drain();
    assert.deepEqual(notices(), ["⚠️ Your message was not bridged: you are not logged in to MSN"]);
    await core.login(user, "alice@msn.test", "new-pw");
    assert.notEqual(ns, first, "a new session");
    await core.handlePortalMessage(roomId, user, "$3", { msgtype: "m.text", body: "after" });
    await core.drain();
    assert.deepEqual(
      ns.boards.flatMap((b) => b.sent),
      ["after"],
    );
    assert.equal(notices().length, 1, "no further notice");
  });

  test("a stalled chat holds its transaction only briefly; later messages of that chat not at all; order kept", async () => {
    ns.script.push("stall");
    const t0 = performance.now();
    await core.handlePortalMessage(
      roomId,
      user,
      "$1",
      { msgtype: "m.text", body: "first" },
      { awaitDelivery: true },
    );
    const held = performance.now() - t0;
    assert.ok(held >= 90 && held < 350, `held ${held.toFixed(0)} ms (hold 100, ACK timeout 400)`);
    const t1 = performance.now();
    await core.handlePortalMessage(
      roomId,
      user,
      "$2",
      { msgtype: "m.text", body: "second" },
      { awaitDelivery: true },
    );
    assert.ok(performance.now() - t1 < 50, "queued behind a slow message: not held");
    await core.drain();
    assert.deepEqual(
      ns.boards.flatMap((b) => b.sent),
      ["first", "second"],
    );
    assert.deepEqual(notices(), []);
  });
});
