/**
 * The MSN side of the fault matrix (docs/reliability.md), end to end: real Synapse, the bridge as
 * its own process, the MSN test server over TCP breaking things on purpose, a Matrix user and MSN
 * contacts on both ends. Each step injects one fault while traffic flows both ways and asserts
 * what the people on either side observe: which messages arrive, how often, in which order, and
 * which notices the Matrix user gets.
 *
 * One Synapse and one bridge serve the whole file; the steps build on each other (portals opened
 * early are reused). Timers are scaled down through the bridge's config: keep-alive 1 s, ACK
 * timeout 5 s, reconnect backoff 200 ms–1 s, queued messages wait 4 s for a reconnect.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { SynapseHandle } from "../harness/synapse.js";
import { startBridgeWithSynapse } from "../harness/bridge-with-synapse.js";
import { TestMatrixUser } from "../harness/matrix-client.js";
import { BridgeProcess } from "../harness/bridge-process.js";
import { MsnContact, waitFor } from "../harness/msn-contact.js";
import { MsnTestServer, type WireRecord } from "../msn-server/index.js";

const DOMAIN = "msn.test";
const ALICE = { email: "alice@hotmail.test", password: "alice-pw", name: "Alice" };
const BOB = { email: "bob@hotmail.test", password: "bob-pw", name: "Bob" };
const CAROL = { email: "carol@hotmail.test", password: "carol-pw", name: "Carol" };
const ghost = (email: string): string => `@msn_${email.replace("@", "=40")}:${DOMAIN}`;
const STEP = { timeout: 60_000 };

const KEEPALIVE_S = 1;
const ACK_TIMEOUT_S = 5;
const MESSAGE_WAIT_MS = 4000;
const RECONNECT = {
  initial_delay_ms: 200,
  max_delay_ms: 1000,
  jitter: 0.3,
  message_wait_ms: MESSAGE_WAIT_MS,
};
/** The NS session gives up after two unanswered pings: the third tick finds them missing. */
const HALF_OPEN_DETECTION_MS = 3 * KEEPALIVE_S * 1000;

describe("MSN-side faults end to end (Synapse + MSN test server)", { timeout: 300_000 }, () => {
  let msn: MsnTestServer;
  let synapse: SynapseHandle;
  let bridge: BridgeProcess;
  let user: TestMatrixUser;
  let bob: MsnContact;
  let carol: MsnContact;
  let mgmtRoom = "";
  let bobRoom = "";
  let carolRoom = "";
  let started = 0;
  const server = (): { host: string; port: number } => ({ host: msn.host, port: msn.nsPort });

  /** Sends a command to the bot and resolves with its answer that matches. */
  const command = (text: string, answer: RegExp): Promise<string> => user.ask(mgmtRoom, text, answer);

  /** A bot notice in the management room sent at or after `since`. */
  async function notice(since: number, text: RegExp, timeoutMs = 20_000): Promise<string> {
    const ev = await user.waitForMessage(
      mgmtRoom,
      (body, e) => e.getSender() === `@msnbot:${DOMAIN}` && e.getTs() >= since - 500 && text.test(body),
      timeoutMs,
    );
    return ev.getContent().body as string;
  }

  /** Bot notices in the management room since `since` (for "said once, not fifty times"). */
  function noticesSince(since: number): string[] {
    const room = user.client.getRoom(mgmtRoom);
    return (room?.getLiveTimeline().getEvents() ?? [])
      .filter((e) => e.getSender() === `@msnbot:${DOMAIN}` && e.getTs() >= since - 500)
      .map((e) => String(e.getContent().body));
  }

  /** The not-bridged reply to one Matrix event. */
  async function notBridgedReplyTo(roomId: string, eventId: string, timeoutMs = 20_000): Promise<string> {
    const ev = await user.waitForMessage(
      roomId,
      (body, e) =>
        body.startsWith("⚠️ Your message was not bridged") &&
        e.getContent()["m.relates_to"]?.["m.in_reply_to"]?.event_id === eventId,
      timeoutMs,
    );
    return ev.getContent().body as string;
  }

  const received = (contact: MsnContact, text: string): number =>
    contact.messages.filter((m) => m.text === text).length;

  /** Texts the contact received, in arrival order, restricted to `texts`. */
  const arrivals = (contact: MsnContact, texts: readonly string[]): string[] =>
    contact.messages.map((m) => m.text).filter((t) => texts.includes(t));

  /** The bridge's NS login attempts the server saw (`USR … I`), optionally from a record on. */
  const loginAttempts = (fromSeq = 0): WireRecord[] =>
    msn
      .received(ALICE.email)
      .filter((r) => r.seq >= fromSeq && r.connection === "ns" && r.name === "USR" && r.args[2] === "I");

  const lastSeq = (): number => msn.transcript().at(-1)?.seq ?? 0;

  /** A round trip through a portal, both directions: proves the portal works right now. */
  async function roundTrip(contact: MsnContact, roomId: string, tag: string): Promise<void> {
    await user.sendText(roomId, `${tag} from Matrix`);
    await contact.waitForMessage((m) => m.text === `${tag} from Matrix`, 20_000);
    const sb = contact.switchboardWith(ALICE.email) ?? (await contact.chatWith(ALICE.email));
    await sb.sendText(`${tag} from MSN`);
    await user.waitForMessage(roomId, `${tag} from MSN`, 20_000);
  }

  before(async () => {
    started = Date.now();
    msn = new MsnTestServer({ accounts: [ALICE, BOB, CAROL] });
    await msn.start();
    for (const other of [BOB, CAROL]) {
      msn.befriend(ALICE.email, other.email);
      msn.befriend(other.email, ALICE.email);
    }
    ({ bridge, synapse } = await startBridgeWithSynapse({
      domain: DOMAIN,
      msnHost: msn.host,
      msnPort: msn.nsPort,
      bridge: { permissions: { [`@user:${DOMAIN}`]: "user" } },
      msn: {
        protocol_versions: ["MSNP12"],
        passport_url: msn.passportUrl,
        keepalive_interval_seconds: KEEPALIVE_S,
        request_timeout_seconds: 5,
        ack_timeout_seconds: ACK_TIMEOUT_S,
        join_timeout_seconds: 5,
        reconnect: RECONNECT,
      },
    }));
    const reg = bridge.registration;
    await synapse.pingAppservice(reg.id, reg.as_token);
    const creds = await synapse.registerUser("user", "user-password");
    user = await TestMatrixUser.start({ baseUrl: synapse.baseUrl, ...creds });
    bob = new MsnContact(BOB.email, BOB.password, server(), {
      versions: ["MSNP12"],
      passportUrl: msn.passportUrl,
    });
    carol = new MsnContact(CAROL.email, CAROL.password, server(), { versions: ["MSNP7"] });
    await bob.login();
    await carol.login();

    mgmtRoom = await user.createDirectRoom([`@msnbot:${DOMAIN}`]);
    await user.waitForMessage(
      mgmtRoom,
      (body) => body.startsWith("Hello! I am the MSN Messenger bridge"),
      20_000,
    );
    await command(`login ${ALICE.email} ${ALICE.password}`, /^✅ Logged in to MSN as alice@hotmail\.test/);

    const sb = await bob.chatWith(ALICE.email);
    await sb.sendText("hello from Bob");
    bobRoom = await user.waitForInvite(ghost(BOB.email), 20_000);
    await user.joinRoom(bobRoom);
    await user.waitForMessage(bobRoom, "hello from Bob", 20_000);

    await command(`chat ${CAROL.email}`, /new chat with carol@hotmail\.test/);
    carolRoom = await user.waitForInvite(ghost(CAROL.email), 20_000);
    await user.joinRoom(carolRoom);
    await roundTrip(carol, carolRoom, "setup");
  });

  after(async () => {
    user?.stop();
    await bob?.logout().catch(() => undefined);
    await carol?.logout().catch(() => undefined);
    const code = await bridge?.stop();
    await synapse?.stop();
    await msn?.stop();
    bridge?.cleanup();
    process.stderr.write(
      `# faults-msn e2e wall time: ${((Date.now() - started) / 1000).toFixed(1)} s (bridge exit code ${code})\n`,
    );
  });

  test(
    "1. NS connection reset: messages written meanwhile go out after the reconnect, in order, once; the contact's next message lands in the same portal",
    STEP,
    async () => {
      const since = Date.now();
      // Logins are refused for a while so the outage is certainly long enough to write into.
      msn.setMaintenance(true);
      msn.dropConnections(ALICE.email, { reset: true });
      await notice(since, /^⚠️ Disconnected from MSN: .*Reconnecting…$/);
      const queued = ["queued 1", "queued 2 ✓", "queued 3"];
      for (const text of queued) await user.sendText(bobRoom, text);
      // The contact's side of the outage: Alice is offline, so he cannot reach her.
      await waitFor("the server to show Alice offline", () => msn.statusOf(ALICE.email) === "FLN");
      await assert.rejects(bob.chatWith(ALICE.email), (e: { code?: number }) => e.code === 217);
      await sleep(500);
      assert.equal(arrivals(bob, queued).length, 0, "nothing went out while disconnected");

      msn.setMaintenance(false);
      await notice(since, /^✅ Reconnected to MSN as alice@hotmail\.test/);
      await waitFor("the queued messages", () => arrivals(bob, queued).length >= 3, 20_000);
      assert.deepEqual(arrivals(bob, queued), queued, "each queued message once, in order");
      const said = noticesSince(since);
      assert.equal(
        said.filter((n) => n.startsWith("⚠️")).length,
        1,
        `one outage notice: ${said.join(" | ")}`,
      );

      // The contact keeps talking: his next chat lands in the same room; presence follows again.
      const sb = await bob.chatWith(ALICE.email);
      await sb.sendText("Bob after the reconnect");
      const ev = await user.waitForMessage(bobRoom, "Bob after the reconnect", 20_000);
      assert.equal(ev.getSender(), ghost(BOB.email));
      assert.equal(msn.statusOf(ALICE.email), "NLN", "Alice is online for her contacts again");
      await bob.ns!.setStatus("AWY");
      await user.waitForPresence(ghost(BOB.email), "unavailable", 20_000);
      await bob.ns!.setStatus("NLN");
      await user.waitForPresence(ghost(BOB.email), "online", 20_000);
    },
  );

  test(
    "2. half-open NS (PNG unanswered): detected within the keep-alive window; the open chat keeps flowing; reconnected",
    STEP,
    async () => {
      const since = Date.now();
      msn.setPingReplies(false, ALICE.email);
      // The switchboard is its own connection: the chat works while the NS is silently dead.
      await user.sendText(bobRoom, "during half-open");
      await bob.waitForMessage((m) => m.text === "during half-open", 20_000);
      await notice(since, /^⚠️ Disconnected from MSN: the MSN server stopped answering\. Reconnecting…$/);
      const detectedMs = Date.now() - since;
      assert.ok(
        detectedMs <= HALF_OPEN_DETECTION_MS + 3000,
        `detected after ${detectedMs} ms (window ${HALF_OPEN_DETECTION_MS} ms)`,
      );
      msn.setPingReplies(true, ALICE.email);
      await user.sendText(bobRoom, "after half-open");
      await notice(since, /^✅ Reconnected to MSN/);
      await bob.waitForMessage((m) => m.text === "after half-open", 20_000);
      await roundTrip(bob, bobRoom, "half-open done");
      assert.equal(received(bob, "during half-open"), 1);
      assert.equal(received(bob, "after half-open"), 1);
    },
  );

  test(
    "3. outage longer than message_wait_ms: the message gets a not-delivered notice and is never sent later",
    STEP,
    async () => {
      const since = Date.now();
      msn.setMaintenance(true);
      msn.dropConnections(ALICE.email);
      await notice(since, /^⚠️ Disconnected from MSN/);
      const eventId = await user.sendText(bobRoom, "into the void");
      const reply = await notBridgedReplyTo(bobRoom, eventId, MESSAGE_WAIT_MS + 15_000);
      assert.match(reply, /you are not connected to MSN right now/);
      assert.ok(Date.now() - since >= MESSAGE_WAIT_MS, "it waited message_wait_ms first");
      msn.setMaintenance(false);
      await notice(since, /^✅ Reconnected to MSN/);
      await roundTrip(bob, bobRoom, "after the void");
      assert.equal(received(bob, "into the void"), 0, "a refused message is not delivered later");
    },
  );

  test(
    "4. switchboard dropped with a message sent but not acknowledged: resent on a fresh switchboard; only that one can arrive twice",
    STEP,
    async () => {
      await roundTrip(bob, bobRoom, "before the drop");
      const texts = ["in flight 1", "in flight 2", "in flight 3"];
      // Hold back the server's ACKs to Alice: the first message is relayed but stays unacknowledged.
      const releaseAcks = msn.delayReplies(
        (ctx) => ctx.email === ALICE.email && ctx.connection === "sb" && ctx.name === "ACK",
        60_000,
      );
      for (const text of texts) await user.sendText(bobRoom, text);
      const { sb } = await bob.waitForMessage((m) => m.text === "in flight 1", 20_000);
      // The other direction keeps working while Alice's message waits for its ACK.
      await sb.sendText("Bob while Alice's message is in flight");
      await user.waitForMessage(bobRoom, "Bob while Alice's message is in flight", 20_000);
      assert.deepEqual(arrivals(bob, texts), ["in flight 1"], "one message in flight at a time per chat");
      releaseAcks();
      msn.dropConnections(ALICE.email, { ns: false, sb: true, reset: true });
      await waitFor("all three", () => arrivals(bob, texts).includes("in flight 3"), 20_000);
      await roundTrip(bob, bobRoom, "after the drop");
      // At least once: the unacknowledged message was relayed before the drop and again after it
      // (MSN has no message id to de-duplicate on); the others exactly once, order kept.
      assert.deepEqual(arrivals(bob, texts), ["in flight 1", "in flight 1", "in flight 2", "in flight 3"]);
    },
  );

  test("5. NAK: the message is resent on a fresh switchboard and arrives exactly once", STEP, async () => {
    await roundTrip(bob, bobRoom, "before the NAK");
    // The server "fails" the delivery: no relay to Bob, no ACK to Alice; then it says NAK.
    const noAck = msn.dropReplies(
      (ctx) => ctx.email === ALICE.email && ctx.connection === "sb" && ctx.name === "ACK",
    );
    const noRelay = msn.dropReplies(
      (ctx) => ctx.email === BOB.email && ctx.connection === "sb" && ctx.name === "MSG",
    );
    const from = lastSeq();
    await user.sendText(bobRoom, "NAK me");
    const sent = await msn.waitForCommand(
      ALICE.email,
      (r) =>
        r.seq > from &&
        r.connection === "sb" &&
        r.name === "MSG" &&
        !!r.payload?.toString().endsWith("NAK me"),
      20_000,
    );
    noAck();
    noRelay();
    msn.injectRaw(ALICE.email, `NAK ${sent.args[0]}\r\n`, { connection: "sb" });
    await bob.waitForMessage((m) => m.text === "NAK me", 20_000);
    await roundTrip(bob, bobRoom, "after the NAK");
    assert.equal(received(bob, "NAK me"), 1);
    const resentOn = msn
      .received(ALICE.email)
      .filter((r) => r.seq > from && r.name === "MSG" && r.payload?.toString().endsWith("NAK me"));
    assert.equal(resentOn.length, 2, "sent twice");
    assert.notEqual(
      resentOn[0]!.connectionId,
      resentOn[1]!.connectionId,
      "the second time on a new switchboard",
    );
  });

  test(
    "6. a stalled switchboard (no ACK, no relay) holds up only its own chat; after the ACK timeout the message goes out on a fresh one",
    STEP,
    async () => {
      await roundTrip(bob, bobRoom, "before Carol's stall");
      await roundTrip(carol, carolRoom, "before the stall");
      // Both ends of the switchboard Alice and Carol share go silent.
      const lastTo = (email: string, dir: "in" | "out"): number =>
        msn
          .transcript(email)
          .filter(
            (r) =>
              r.direction === dir &&
              r.connection === "sb" &&
              r.name === "MSG" &&
              r.payload?.toString().endsWith("before the stall from Matrix"),
          )
          .at(-1)!.connectionId;
      const stalled = new Set([lastTo(ALICE.email, "in"), lastTo(CAROL.email, "out")]);
      const unstall = msn.dropReplies((ctx) => stalled.has(ctx.connectionId));
      try {
        const t0 = Date.now();
        await user.sendText(carolRoom, "while stalled");
        // Bob's chat flows both ways meanwhile, without waiting for Carol's.
        await roundTrip(bob, bobRoom, "during the stall");
        const flowedMs = Date.now() - t0;
        assert.equal(received(carol, "while stalled"), 0, `Carol's chat still stalled after ${flowedMs} ms`);
        await carol.waitForMessage((m) => m.text === "while stalled", 20_000);
        const stalledMs = Date.now() - t0;
        assert.ok(stalledMs >= ACK_TIMEOUT_S * 1000, `resent after the ACK timeout (${stalledMs} ms)`);
        assert.ok(
          flowedMs < stalledMs,
          `Bob's chat (${flowedMs} ms) did not wait for Carol's (${stalledMs} ms)`,
        );
      } finally {
        unstall();
      }
      await roundTrip(carol, carolRoom, "after the stall");
      assert.equal(received(carol, "while stalled"), 1, "the stalled switchboard never relayed it");
    },
  );

  test(
    "7. a slow switchboard (ACK delayed under the timeout) delivers once, without a resend",
    STEP,
    async () => {
      await roundTrip(carol, carolRoom, "before the delay");
      const sbOfAlice = msn
        .received(ALICE.email)
        .filter(
          (r) =>
            r.connection === "sb" &&
            r.name === "MSG" &&
            r.payload?.toString().endsWith("before the delay from Matrix"),
        )
        .at(-1)!.connectionId;
      const undelay = msn.delayReplies((ctx) => ctx.connectionId === sbOfAlice && ctx.name === "ACK", 1000);
      try {
        const from = lastSeq();
        await user.sendText(carolRoom, "slow but fine");
        await carol.waitForMessage((m) => m.text === "slow but fine", 20_000);
        await roundTrip(bob, bobRoom, "during the delay");
        await roundTrip(carol, carolRoom, "after the delay");
        assert.equal(received(carol, "slow but fine"), 1);
        const sends = msn
          .received(ALICE.email)
          .filter((r) => r.seq > from && r.name === "MSG" && r.payload?.toString().endsWith("slow but fine"));
        assert.equal(sends.length, 1, "no resend");
      } finally {
        undelay();
      }
    },
  );

  test(
    "8. OUT OTH (logged in elsewhere): one notice, no reconnect loop, messages refused visibly; `reconnect` resumes",
    STEP,
    async () => {
      const since = Date.now();
      const elsewhere = new MsnContact(ALICE.email, ALICE.password, server(), {
        versions: ["MSNP12"],
        passportUrl: msn.passportUrl,
      });
      await elsewhere.login();
      const attemptsFrom = lastSeq();
      await notice(since, /logged in to MSN somewhere else/);
      try {
        // Both directions during the fault: Bob reaches Alice's other client; Matrix is told no.
        const sb = await bob.chatWith(ALICE.email);
        await sb.sendText("to the other client");
        await elsewhere.waitForMessage((m) => m.text === "to the other client", 20_000);
        const eventId = await user.sendText(bobRoom, "while elsewhere");
        assert.match(await notBridgedReplyTo(bobRoom, eventId), /not connected to MSN/);
        // Several backoff periods: no attempt to take the account back.
        await sleep(2 * RECONNECT.max_delay_ms);
        assert.equal(loginAttempts(attemptsFrom).length, 0, "the bridge did not log in again by itself");
        assert.match(await command("status", /logged in somewhere else/), /Say `reconnect`/);
      } finally {
        await elsewhere.logout();
      }
      await command("reconnect", /^Connected to MSN as alice@hotmail\.test/);
      await bob.leaveChatsWith(ALICE.email);
      await roundTrip(bob, bobRoom, "after reconnect");
      assert.equal(received(bob, "while elsewhere"), 0);
      const kicked = noticesSince(since).filter((n) => n.startsWith("⚠️ Disconnected: you logged in"));
      assert.equal(kicked.length, 1, kicked.join(" | "));
    },
  );

  test(
    "9. password changed elsewhere (911): one attempt, one notice, no retries; `login` with the new password resumes",
    STEP,
    async () => {
      const since = Date.now();
      msn.setPassword(ALICE.email, "alice-new-pw");
      const from = lastSeq();
      msn.dropConnections(ALICE.email);
      await notice(
        since,
        /^❌ MSN login failed: wrong e-mail address or password\. Log in again with `login/,
      );
      const eventId = await user.sendText(bobRoom, "with a stale password");
      assert.match(await notBridgedReplyTo(bobRoom, eventId), /not connected to MSN/);
      await sleep(2 * RECONNECT.max_delay_ms);
      assert.equal(loginAttempts(from).length, 1, "exactly one login attempt with the old password");
      assert.match(await command("status", /refused the password/), /Use `login` again/);
      await command(`login ${ALICE.email} alice-new-pw`, /^✅ Logged in to MSN as alice@hotmail\.test/);
      await bob.leaveChatsWith(ALICE.email);
      await roundTrip(bob, bobRoom, "after the new password");
      assert.equal(received(bob, "with a stale password"), 0);
    },
  );

  test(
    "10. MSN server restart (OUT SSD, port refused for 1.5 s): announced, reconnected, chats continue in the same rooms",
    STEP,
    async () => {
      const since = Date.now();
      const roomsBefore = user.client.getRooms().length;
      await msn.restart({ downMs: 1500, announce: true });
      await notice(since, /^⚠️ Disconnected from MSN: the MSN server is shutting down\. Reconnecting…$/);
      await notice(since, /^✅ Reconnected to MSN/);
      // The contacts were on the same server: they log in again too.
      for (const contact of [bob, carol]) {
        await contact.logout().catch(() => undefined);
        await contact.login();
      }
      await roundTrip(bob, bobRoom, "after the restart");
      await roundTrip(carol, carolRoom, "after the restart");
      assert.equal(user.client.getRooms().length, roomsBefore, "no new rooms");
      const outages = noticesSince(since).filter((n) => n.startsWith("⚠️"));
      assert.equal(outages.length, 1, `one outage notice: ${outages.join(" | ")}`);
    },
  );

  test(
    "11. a contact who never joins (invitation lost): only that chat waits join_timeout_seconds, then a not-bridged reply; the other chat flows",
    STEP,
    async () => {
      // No switchboard with Carol is left: the next message has to invite her.
      await carol.leaveChatsWith(ALICE.email);
      const noRing = msn.dropReplies(
        (ctx) => ctx.email === CAROL.email && ctx.connection === "ns" && ctx.name === "RNG",
      );
      try {
        const t0 = Date.now();
        const eventId = await user.sendText(carolRoom, "anybody home?");
        await roundTrip(bob, bobRoom, "while Carol does not answer");
        const flowedMs = Date.now() - t0;
        const reply = await notBridgedReplyTo(carolRoom, eventId);
        const refusedMs = Date.now() - t0;
        assert.match(reply, /Carol \(carol@hotmail\.test\) did not join the chat within 5 s/);
        assert.ok(refusedMs >= 5000, `refused after the join timeout (${refusedMs} ms)`);
        assert.ok(flowedMs < refusedMs, `Bob's chat (${flowedMs} ms) did not wait for Carol's`);
      } finally {
        noRing();
      }
      await roundTrip(carol, carolRoom, "after the lost invitation");
      assert.equal(received(carol, "anybody home?"), 0);
    },
  );
});
