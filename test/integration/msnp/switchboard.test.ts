import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ALICE, BOB, CAROL, Harness, chat, collect, sleep, waitForEvent, PROFILES } from "./helpers.js";
import { MsnServerError } from "../../../src/msnp/errors.js";
import type { NotificationSession } from "../../../src/msnp/notification.js";

for (const profile of PROFILES) {
  describe(`msnp client against the MSN test server: switchboards (${profile.name})`, () => {
    let h: Harness;
    let alice: NotificationSession;
    let bob: NotificationSession;

    before(async () => {
      h = await Harness.start({}, profile);
    });
    after(() => h.stop());
    afterEach(async () => {
      await Promise.allSettled(h.sessions.map((s) => s.close()));
      await h.server.waitUntil(() => !h.server.isOnline(ALICE.email) && !h.server.isOnline(BOB.email));
    });

    async function both(): Promise<void> {
      alice = await h.login(ALICE);
      bob = await h.login(BOB);
    }

    test("we invite: XFR SB → USR → CAL → JOI; they answer: RNG → ANS → IRO → ANS OK", async () => {
      await both();
      const ring = waitForEvent(bob, "ring");
      const board = await alice.openSwitchboard();
      const joined = waitForEvent(board, "join");
      await board.invite(BOB.email);
      const invitation = await ring;
      assert.equal(invitation.inviterEmail, ALICE.email);
      assert.equal(invitation.inviterName, ALICE.name);
      assert.equal(invitation.sessionId, board.sessionId);
      const bobBoard = await bob.answerInvitation(invitation);
      assert.deepEqual(await joined, { email: BOB.email, name: BOB.name });
      assert.deepEqual([...board.participants], [[BOB.email, BOB.name]]);
      assert.deepEqual([...bobBoard.participants], [[ALICE.email, ALICE.name]]);
      assert.equal(bobBoard.sessionId, board.sessionId);
    });

    test("messages and typing both ways, multibyte and formatted", async () => {
      await both();
      const { callerBoard, calleeBoard } = await chat(alice, bob);

      const typing = waitForEvent(calleeBoard, "typing");
      callerBoard.sendTyping();
      assert.deepEqual(await typing, { from: ALICE.email });

      const toBob = waitForEvent(calleeBoard, "message");
      await callerBoard.sendText("Hällo Bob — 日本語 ✓ 👋\nzweite Zeile", {
        format: { font: "Comic Sans MS", italic: true, color: "#ff8000" },
      });
      const received = await toBob;
      assert.equal(received.from, ALICE.email);
      assert.equal(received.fromName, ALICE.name);
      assert.equal(received.text, "Hällo Bob — 日本語 ✓ 👋\nzweite Zeile");
      assert.equal(received.format?.font, "Comic Sans MS");
      assert.equal(received.format?.italic, true);
      assert.equal(received.format?.color, "#ff8000");

      const aliceTyping = waitForEvent(callerBoard, "typing");
      calleeBoard.sendTyping();
      assert.deepEqual(await aliceTyping, { from: BOB.email });
      const toAlice = waitForEvent(callerBoard, "message");
      await calleeBoard.sendText("Ответ 🙂", { ack: "A" });
      assert.deepEqual(await toAlice, { from: BOB.email, fromName: BOB.name, text: "Ответ 🙂" });

      const nudge = waitForEvent(calleeBoard, "nudge");
      await callerBoard.sendNudge();
      assert.equal((await nudge).from, ALICE.email);
    });

    test("a 5,000-character message arrives split, in order, and reassembles exactly", async () => {
      await both();
      const { callerBoard, calleeBoard } = await chat(alice, bob);
      const alphabet = ["a", "ä", "日", "👋", " "];
      const text = Array.from({ length: 5000 }, (_, i) => (i % 97 === 96 ? "\n" : alphabet[i % 5])).join("");
      const messages = collect(calleeBoard, "message");
      const trIds = await callerBoard.sendText(text, { ack: "A" });
      await h.server.waitUntil(() => messages.length === trIds.length, 3000, "all chunks delivered");
      assert.ok(trIds.length >= 4, `${trIds.length} chunks`);
      assert.equal(messages.map((m) => m.text).join(""), text);
      assert.ok(
        h.server
          .received(ALICE.email)
          .filter((r) => r.name === "MSG")
          .every((r) => (r.payload?.length ?? 0) <= 1664),
      );
      assert.equal(callerBoard.isClosed, false, "the server drops SBs that exceed 1664 bytes");
    });

    test("CAL to an offline contact: 217", async () => {
      alice = await h.login(ALICE);
      const board = await alice.openSwitchboard();
      await assert.rejects(
        board.invite(BOB.email),
        (error: unknown) => error instanceof MsnServerError && error.code === 217,
      );
      await assert.rejects(
        board.invite(CAROL.email),
        (error: unknown) => error instanceof MsnServerError && error.code === 217,
      );
    });

    test("XFR while hidden: 913", async () => {
      alice = await h.login(ALICE, { initialStatus: "HDN" });
      await assert.rejects(
        alice.openSwitchboard(),
        (error: unknown) => error instanceof MsnServerError && error.code === 913,
      );
    });

    test("leaving: BYE to the other side; closing the NS closes our switchboards", async () => {
      await both();
      const { callerBoard, calleeBoard } = await chat(alice, bob);
      const left = waitForEvent(callerBoard, "leave");
      await calleeBoard.close();
      assert.deepEqual(await left, { email: BOB.email, idle: false });
      assert.equal(callerBoard.participants.size, 0);

      const closed = waitForEvent(callerBoard, "closed");
      await alice.close();
      assert.equal((await closed).reason, "local");
      await h.server.waitUntil(() => h.server.switchboards().length === 0, 2000, "switchboard gone");
    });

    test("idle timeout from the server: BYE … 1 and the session ends", async () => {
      await both();
      h.server.setSbIdleTimeout(300);
      try {
        const { callerBoard } = await chat(alice, bob);
        const left = waitForEvent(callerBoard, "leave", () => true, 3000);
        assert.deepEqual(await left, { email: BOB.email, idle: true });
      } finally {
        h.server.setSbIdleTimeout(null);
      }
    });

    test("three-way session: invite a second contact into an existing one", async () => {
      await both();
      const carol = await h.login(CAROL);
      const { callerBoard, calleeBoard } = await chat(alice, bob);
      const ring = waitForEvent(carol, "ring");
      const bobSeesCarol = waitForEvent(calleeBoard, "join");
      await callerBoard.invite(CAROL.email);
      const carolBoard = await carol.answerInvitation(await ring);
      assert.deepEqual([...carolBoard.participants.keys()].sort(), [ALICE.email, BOB.email]);
      assert.equal((await bobSeesCarol).email, CAROL.email);
      const atBob = waitForEvent(calleeBoard, "message");
      const atAlice = waitForEvent(callerBoard, "message");
      await carolBoard.sendText("hi both");
      assert.equal((await atBob).from, CAROL.email);
      assert.equal((await atAlice).from, CAROL.email);
      await sleep(10);
    });
  });
}
