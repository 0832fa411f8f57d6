/**
 * Matrix-side faults, end to end (real Synapse, the MSN test server, the bridge as its own
 * process): the bridge SIGKILLed while a user is writing, appservice transactions replayed by the
 * homeserver or sent twice, and bad input from Matrix (odd bodies, hostile command arguments,
 * malformed and unknown events sent raw with the right hs_token). What counts is what the MSN
 * server received: every message exactly once and in order, and never a command nobody asked for.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { MsgType } from "matrix-js-sdk";
import type { SynapseHandle } from "../harness/synapse.js";
import { startBridgeWithSynapse } from "../harness/bridge-with-synapse.js";
import { TestMatrixUser } from "../harness/matrix-client.js";
import { BridgeProcess } from "../harness/bridge-process.js";
import { MsnContact, waitFor } from "../harness/msn-contact.js";
import { MsnTestServer } from "../msn-server/index.js";

const DOMAIN = "msn.test";
const ALICE = { email: "alice@hotmail.test", password: "alice-pw" };
const BOB = { email: "bob@hotmail.test", password: "bob-pw" };
const ghost = (email: string): string => `@msn_${email.replace("@", "=40")}:${DOMAIN}`;
const STEP = { timeout: 90_000 };
/** The most a text MSG payload may carry (msnp.md): headers and text together. */
const MAX_MSG_PAYLOAD = 1664;

interface WireText {
  line: string;
  payload: Buffer;
  headers: string;
  text: string;
}

describe("Matrix-side faults and bad input (Synapse + MSN test server)", { timeout: 300_000 }, () => {
  let msn: MsnTestServer;
  let synapse: SynapseHandle;
  let bridge: BridgeProcess;
  let user: TestMatrixUser;
  let bob: MsnContact;
  let mgmtRoom = "";
  let bobRoom = "";
  let txnCounter = 0;

  /** Sends a command to the bot and resolves with its answer that matches. */
  const command = (text: string, answer: RegExp): Promise<string> => user.ask(mgmtRoom, text, answer);

  /** Text MSGs Alice's puppet wrote on switchboards, from wire record `from` on. */
  function textsToMsn(from = 0): WireText[] {
    return msn
      .received(ALICE.email)
      .slice(from)
      .filter((c) => c.connection === "sb" && c.name === "MSG" && c.payload !== undefined)
      .map((c) => {
        const raw = c.payload!.toString("utf8");
        const split = raw.indexOf("\r\n\r\n");
        return {
          line: c.line,
          payload: c.payload!,
          headers: raw.slice(0, split),
          text: raw.slice(split + 4),
        };
      })
      .filter((m) => /Content-Type: text\/plain/i.test(m.headers));
  }

  /** Lines Alice's puppet wrote on the NS from `from` on, keep-alive pings left out. */
  function nsCommands(from: number): string[] {
    return msn
      .received(ALICE.email)
      .slice(from)
      .filter((c) => c.connection === "ns" && c.name !== "PNG")
      .map((c) => c.line);
  }

  function eventId(): string {
    return `$fm-${randomBytes(9).toString("base64url")}`;
  }

  function message(roomId: string, content: unknown, id = eventId()): Record<string, unknown> {
    return {
      type: "m.room.message",
      room_id: roomId,
      sender: user.userId,
      event_id: id,
      origin_server_ts: Date.now(),
      content,
    };
  }

  /** PUT /_matrix/app/v1/transactions/:txnId as the homeserver would (its hs_token). */
  async function putTransaction(txnId: string, events: unknown[]): Promise<number> {
    const res = await fetch(
      `http://127.0.0.1:${bridge.appservicePort}/_matrix/app/v1/transactions/${encodeURIComponent(txnId)}`,
      {
        method: "PUT",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${bridge.registration.hs_token}`,
        },
        body: JSON.stringify({ events }),
      },
    );
    await res.arrayBuffer();
    return res.status;
  }

  function newTxnId(): string {
    return `fm-test-${process.pid}-${++txnCounter}`;
  }

  /** Portal rows, read behind the bridge's back. */
  function portalRows(): { room_id: string; conversation_key: string }[] {
    const db = new Database(join(bridge.dir, "bridge.db"), { readonly: true, fileMustExist: true });
    try {
      return db.prepare("SELECT room_id, conversation_key FROM portals ORDER BY conversation_key").all() as {
        room_id: string;
        conversation_key: string;
      }[];
    } finally {
      db.close();
    }
  }

  before(async () => {
    msn = new MsnTestServer({ accounts: [ALICE, BOB] });
    await msn.start();
    msn.befriend(ALICE.email, BOB.email);
    msn.befriend(BOB.email, ALICE.email);
    ({ bridge, synapse } = await startBridgeWithSynapse({
      domain: DOMAIN,
      msnHost: msn.host,
      msnPort: msn.nsPort,
      bridge: { permissions: { [`@user:${DOMAIN}`]: "user" } },
      msn: { protocol_versions: ["MSNP7"] },
    }));
    const creds = await synapse.registerUser("user", "user-password");
    user = await TestMatrixUser.start({ baseUrl: synapse.baseUrl, ...creds });
    bob = new MsnContact(BOB.email, BOB.password, { host: msn.host, port: msn.nsPort });
    await bob.login();
  });

  after(async () => {
    user?.stop();
    await bob?.logout().catch(() => undefined);
    await bridge?.stop();
    await synapse?.stop();
    await msn?.stop();
    bridge?.cleanup();
  });

  test("set-up: log in and open a chat with a contact", STEP, async () => {
    mgmtRoom = await user.createDirectRoom([`@msnbot:${DOMAIN}`]);
    await user.waitForMessage(
      mgmtRoom,
      (body) => body.startsWith("Hello! I am the MSN Messenger bridge"),
      20_000,
    );
    await command(`login ${ALICE.email} ${ALICE.password}`, /^✅ Logged in to MSN as alice@hotmail\.test/);
    await command(`chat ${BOB.email}`, /new chat with bob@hotmail\.test/);
    bobRoom = await user.waitForInvite(ghost(BOB.email), 20_000);
    await user.joinRoom(bobRoom);
    await user.sendText(bobRoom, "warm-up");
    await bob.waitForMessage((m) => m.text === "warm-up");
  });

  test(
    "a transaction PUT twice, and its event again in another transaction, reach MSN once",
    STEP,
    async () => {
      const from = msn.received(ALICE.email).length;
      const first = message(bobRoom, { msgtype: "m.text", body: "sent once, PUT twice" });
      const txnId = newTxnId();
      // The handler answers only after the message went to MSN, so after 200 it is on the wire.
      assert.equal(await putTransaction(txnId, [first]), 200);
      assert.equal(await putTransaction(txnId, [first]), 200);
      // A transaction cut short by a crash comes again as a new one holding the same event.
      const second = message(bobRoom, { msgtype: "m.text", body: "after the replayed one" });
      assert.equal(await putTransaction(newTxnId(), [first, second]), 200);
      // Two PUTs of one new transaction at once (a homeserver retrying a slow request).
      const third = message(bobRoom, { msgtype: "m.text", body: "concurrent PUTs" });
      const concurrent = newTxnId();
      assert.deepEqual(
        await Promise.all([putTransaction(concurrent, [third]), putTransaction(concurrent, [third])]),
        [200, 200],
      );
      await user.sendText(bobRoom, "marker after the replays");
      await bob.waitForMessage((m) => m.text === "marker after the replays");
      assert.deepEqual(
        textsToMsn(from).map((m) => m.text),
        ["sent once, PUT twice", "after the replayed one", "concurrent PUTs", "marker after the replays"],
      );
    },
  );

  test(
    "SIGKILL while messages are on their way to MSN: after the restart each arrives once, in order",
    STEP,
    async () => {
      const from = msn.received(ALICE.email).length;
      const roomsBefore = user.client
        .getRooms()
        .map((r) => r.roomId)
        .sort();
      const portalsBefore = portalRows();
      const texts = Array.from({ length: 7 }, (_, i) => `while the bridge dies ${i + 1}`);

      await user.sendText(bobRoom, texts[0]!);
      await bob.waitForMessage((m) => m.text === texts[0]);
      // With no switchboard open and the server slow to hand out a new one, the next messages are
      // in the bridge but not yet on MSN when it is killed: a bridge that had already acknowledged
      // their transaction would lose them.
      await bob.leaveChatsWith(ALICE.email);
      await waitFor("the bridge to leave the empty switchboard", () =>
        msn
          .received(ALICE.email)
          .slice(from)
          .some((c) => c.connection === "sb" && c.line === "OUT"),
      );
      const slowSwitchboards = msn.delayReplies("XFR", 8000, { email: ALICE.email });
      const asked = msn.received(ALICE.email).length;
      for (const text of texts.slice(1, 4)) await user.sendText(bobRoom, text);
      await waitFor("the bridge to ask for a switchboard", () =>
        msn
          .received(ALICE.email)
          .slice(asked)
          .some((c) => c.connection === "ns" && c.name === "XFR"),
      );
      // Past the bridge's hold on a transaction (it acknowledges after 2 s so one slow chat does
      // not hold up everyone): from here on only its outbox remembers these messages.
      await sleep(3000);
      await bridge.kill();
      slowSwitchboards();
      await waitFor("the MSN server to see the puppet drop", () => !msn.isOnline(ALICE.email), 10_000);
      assert.ok(!textsToMsn(from).some((m) => m.text === texts[1]), "the kill came before delivery");
      for (const text of texts.slice(4)) await user.sendText(bobRoom, text);

      const portalsMade = (): number =>
        readFileSync(bridge.outputFile, "utf8").split("creating a DM portal").length - 1;
      const portalsMadeBefore = portalsMade();
      await bridge.start();
      await waitFor("the puppet to log back in", () => msn.statusOf(ALICE.email) === "NLN", 20_000);
      await waitFor(
        "every message to reach MSN",
        () => texts.every((t) => textsToMsn(from).some((m) => m.text === t)),
        45_000,
      );
      await user.sendText(bobRoom, "after the restart");
      await bob.waitForMessage((m) => m.text === "after the restart", 20_000);

      assert.deepEqual(
        textsToMsn(from).map((m) => m.text),
        [...texts, "after the restart"],
        "each message exactly once, in order",
      );
      assert.deepEqual(
        user.client
          .getRooms()
          .map((r) => r.roomId)
          .sort(),
        roomsBefore,
        "no new room",
      );
      assert.deepEqual(portalRows(), portalsBefore, "no new portal");
      const members = await user.client.getJoinedRoomMembers(bobRoom);
      assert.deepEqual(
        Object.keys(members.joined).sort(),
        [user.userId, ghost(BOB.email)].sort(),
        "one ghost",
      );
      assert.equal(portalsMade(), portalsMadeBefore, "no portal was made again");
      assert.ok(
        bridge.findInOutput(/resending a Matrix message accepted before a restart/) !== null,
        "the outbox carried messages over the restart",
      );
      assert.match(await command("status", /^Connected/), /alice@hotmail\.test/);
    },
  );

  test(
    "odd message bodies: controls, CR/LF, %, RTL, emoji, HTML and 100 KB reach MSN intact and framed",
    STEP,
    async () => {
      const from = msn.received(ALICE.email).length;
      const cases: [string, string][] = [
        ["carriage\rreturn", "carriage\nreturn"],
        ["windows\r\nline", "windows\nline"],
        ["100% sure %0D%0AOUT %s", "100% sure %0D%0AOUT %s"],
        ["RTL ‮evil‬ שלום مرحبا", "RTL ‮evil‬ שלום مرحبا"],
        ["emoji 🎉👍🏽 family 👨‍👩‍👧", "emoji 🎉👍🏽 family 👨‍👩‍👧"],
        ["tab\tand bell\u0007 and escape\u001b[31m", "tab\tand bell and escape[31m"],
      ];
      for (const [sent, expected] of cases) {
        await user.sendText(bobRoom, sent);
        await bob.waitForMessage((m) => m.text === expected);
      }
      await user.client.sendMessage(bobRoom, {
        msgtype: MsgType.Text,
        body: "plain <b>fallback</b>",
        format: "org.matrix.custom.html",
        formatted_body: "<script>alert('x')</script><b>fallback</b>",
      });
      await bob.waitForMessage((m) => m.text === "plain <b>fallback</b>");

      // NUL (and a 100 KB body, beyond Synapse's 64 KB event limit) go in raw, as a homeserver would.
      assert.equal(
        await putTransaction(newTxnId(), [message(bobRoom, { msgtype: "m.text", body: "nul\u0000inside" })]),
        200,
      );
      await bob.waitForMessage((m) => m.text === "nulinside");
      const alphabet = [..."abcdefghijklmnopqrstuvwxyz äöü€😀日本"];
      const big = Array.from({ length: 100 * 1024 }, (_, i) => alphabet[i % alphabet.length]).join("");
      const bigFrom = msn.received(ALICE.email).length;
      assert.equal(
        await putTransaction(newTxnId(), [message(bobRoom, { msgtype: "m.text", body: big })]),
        200,
      );
      await user.sendText(bobRoom, "after the big one");
      await bob.waitForMessage((m) => m.text === "after the big one", 30_000);
      const parts = textsToMsn(bigFrom).slice(0, -1);
      assert.ok(parts.length > 60, `split into ${parts.length} MSGs`);
      assert.equal(parts.map((p) => p.text).join(""), big, "the parts reassemble to the original");

      const all = textsToMsn(from);
      for (const m of all) {
        assert.ok(m.payload.length <= MAX_MSG_PAYLOAD, `payload of ${m.payload.length} bytes`);
        assert.match(m.line, /^MSG \d+ [UNAD] (\d+)$/);
        assert.equal(Number(m.line.split(" ").at(-1)), m.payload.length, "the length is the payload's");
        assert.ok(!m.payload.includes(0), "no NUL on the wire");
      }
      const sbCommands = new Set(
        msn
          .received(ALICE.email)
          .slice(from)
          .filter((c) => c.connection === "sb")
          .map((c) => c.name),
      );
      for (const name of sbCommands) assert.ok(["USR", "CAL", "ANS", "MSG", "OUT"].includes(name), name);
      assert.deepEqual(
        nsCommands(from).filter((l) => !/^(XFR \d+ SB|CHG \d+ )/.test(l)),
        [],
      );
    },
  );

  test("hostile and malformed commands get a clear reply and put nothing on the wire", STEP, async () => {
    const from = msn.received(ALICE.email).length;
    const cases: [string, RegExp][] = [
      ["add a b@x.test", /^Usage: `add <email>`/],
      ['add "evil\r\nOUT"', /^Usage: `add <email>`/],
      ["add evil\r\nOUT@x.test", /^Usage: `add <email>`/],
      ["add evil%0D%0AOUT@x.test", /is not a valid MSN address/],
      ["remove bob@hotmail.test\u0000OUT", /is not a valid MSN address/],
      ["nick Evil\r\nOUT", /cannot contain line breaks/],
      ["nick Evil\u0000", /cannot contain line breaks/],
      ["nick", /^Usage: `nick <friendly name>`/],
      ["chat", /^Usage: `chat <email>`/],
      ["chat bob@hotmail.test extra", /^Usage: `chat <email>`/],
      ["status now", /^Usage: `status`/],
      ["presence", /^Usage: `presence/],
      ["presence flying", /^Unknown status `flying`/],
      ["logout please", /^Usage: `logout`/],
      ["login", /^Usage: `login <email> <password>`/],
      [`${"x".repeat(5000)} y`, /^Unknown command `x{40}`/],
    ];
    for (const [text, answer] of cases) await command(text, answer);
    assert.deepEqual(nsCommands(from), [], "no NS command went out");
    assert.ok(
      !msn
        .received(ALICE.email)
        .slice(from)
        .some((c) => c.connection === "sb"),
      "nothing on a switchboard",
    );
    assert.match(await command("status", /^Connected/), /alice@hotmail\.test/, "still logged in");
  });

  test("malformed and unknown events sent raw are ignored or refused with a notice", STEP, async () => {
    const from = msn.received(ALICE.email).length;
    const noBody = eventId();
    const numericType = eventId();
    const events: unknown[] = [
      null,
      42,
      "text",
      [],
      { type: "m.room.message" },
      { type: 7, room_id: bobRoom, sender: user.userId, content: {} },
      { type: "m.room.message", room_id: bobRoom, sender: user.userId, event_id: eventId() },
      message(bobRoom, "content is a string"),
      message(bobRoom, ["content", "is", "an", "array"]),
      message(bobRoom, { msgtype: "m.text", body: 42 }, noBody),
      message(bobRoom, { msgtype: 42, body: "numeric msgtype" }, numericType),
      message(mgmtRoom, { msgtype: "m.text", body: ["logout"] }),
      message(mgmtRoom, { msgtype: "m.text" }),
      { ...message(bobRoom, { msgtype: "m.text", body: "wrong sender type" }), sender: 5 },
      { ...message(bobRoom, { body: "x" }), room_id: null },
      {
        type: "m.room.member",
        room_id: bobRoom,
        sender: user.userId,
        state_key: 7,
        event_id: eventId(),
        content: { membership: "invite" },
      },
      {
        type: "m.room.member",
        room_id: bobRoom,
        sender: user.userId,
        state_key: ghost("mallory@x.test"),
        event_id: eventId(),
        content: { membership: 5 },
      },
      {
        type: "com.example.unknown",
        room_id: bobRoom,
        sender: user.userId,
        event_id: eventId(),
        content: {},
      },
      { type: "m.room.message", room_id: bobRoom, sender: user.userId, event_id: 12, content: { body: "x" } },
    ];
    assert.equal(await putTransaction(newTxnId(), events), 200);
    await user.waitForMessage(
      bobRoom,
      (body, e) =>
        body === "⚠️ Your message was not bridged: the message has no text body" &&
        e.getContent()["m.relates_to"]?.["m.in_reply_to"]?.event_id === noBody,
    );
    await user.waitForMessage(
      bobRoom,
      (body, e) =>
        body === "⚠️ Your message was not bridged: messages of type 42 cannot be sent to MSN" &&
        e.getContent()["m.relates_to"]?.["m.in_reply_to"]?.event_id === numericType,
    );
    // A body that is not an object, a transaction that is not JSON: refused, nothing handled.
    const res = await fetch(
      `http://127.0.0.1:${bridge.appservicePort}/_matrix/app/v1/transactions/${newTxnId()}`,
      {
        method: "PUT",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${bridge.registration.hs_token}`,
        },
        body: "[1,2,3]",
      },
    );
    assert.equal(res.status, 400);
    assert.deepEqual(nsCommands(from), [], "no NS command went out");
    assert.deepEqual(textsToMsn(from), [], "no message went to MSN");
    assert.match(
      await command("status", /^Connected/),
      /alice@hotmail\.test/,
      "still logged in, still answering",
    );
  });
});
