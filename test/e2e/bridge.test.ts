/**
 * End to end, as a user would: real Synapse (from the chroot), the MSN test server over TCP, the
 * bridge as its own process, a Matrix user driven with matrix-js-sdk, and MSN contacts driven with
 * the project's MSN client. The steps build on each other like one user's session.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EventType, RelationType } from "matrix-js-sdk";
import type { SynapseHandle } from "../harness/synapse.js";
import { startBridgeWithSynapse } from "../harness/bridge-with-synapse.js";
import { TestMatrixUser } from "../harness/matrix-client.js";
import { BridgeProcess } from "../harness/bridge-process.js";
import { MsnContact, waitFor } from "../harness/msn-contact.js";
import { startPostgres, type PostgresServer } from "../harness/postgres.js";
import { MsnTestServer } from "../msn-server/index.js";
import pg from "pg";

const DOMAIN = "msn.test";
const ALICE = { email: "alice@hotmail.test", password: "alice-pw", name: "Alice" };
const BOB = { email: "bob@hotmail.test", password: "bob-pw", name: "Bob Builder" };
const CAROL = { email: "carol@hotmail.test", password: "carol-pw", name: "Carol ♥" };
const DAVE = { email: "dave@hotmail.test", password: "dave-pw", name: "Dave" };
const ERIN = { email: "erin@hotmail.test", password: "erin-pw", name: "Erin" };
const ghost = (email: string): string => `@msn_${email.replace("@", "=40")}:${DOMAIN}`;
const STEP = { timeout: 60_000 };

// The whole scenario runs once per login dialect of the puppet: MSNP7 (MD5) and MSNP12 (TWN). Bob
// speaks the puppet's dialect, Carol the other one, so every run also crosses dialects. The MSNP7 run
// keeps its state in the default embedded SQLite, the MSNP12 run in a private PostgreSQL server, so
// both engines carry a whole user story, including the SIGKILL and restart of step 7.
const RUNS = [
  { dialect: "MSNP7", engine: "sqlite" },
  { dialect: "MSNP12", engine: "postgres" },
] as const;
for (const { dialect, engine } of RUNS) {
  const otherDialect = dialect === "MSNP7" ? "MSNP12" : "MSNP7";
  const title = `bridge end to end on ${dialect}, ${engine === "sqlite" ? "SQLite" : "PostgreSQL"} (Synapse + MSN test server)`;
  describe(title, { timeout: 300_000 }, () => {
    let postgres: PostgresServer | undefined;
    let databaseUri: string | undefined;
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

    /** Sends a command to the bot and resolves with its answer that matches. */
    const command = (text: string, answer: RegExp): Promise<string> => user.ask(mgmtRoom, text, answer);

    /** The portal rows in the bridge's PostgreSQL database, read behind the bridge's back. */
    async function portalRows(): Promise<{ room_id: string; conversation_key: string }[]> {
      const client = new pg.Client({ connectionString: databaseUri });
      await client.connect();
      try {
        const res = await client.query<{ room_id: string; conversation_key: string }>(
          "SELECT room_id, conversation_key FROM portals ORDER BY conversation_key",
        );
        return res.rows;
      } finally {
        await client.end();
      }
    }

    before(async () => {
      started = Date.now();
      if (engine === "postgres") {
        postgres = await startPostgres();
        databaseUri = postgres.uri;
      }
      msn = new MsnTestServer({ accounts: [ALICE, BOB, CAROL, DAVE, ERIN] });
      await msn.start();
      for (const other of [BOB, CAROL, DAVE]) {
        msn.befriend(ALICE.email, other.email);
        msn.befriend(other.email, ALICE.email);
      }
      msn.befriend(BOB.email, CAROL.email);
      msn.befriend(CAROL.email, BOB.email);

      ({ bridge, synapse } = await startBridgeWithSynapse({
        domain: DOMAIN,
        msnHost: msn.host,
        msnPort: msn.nsPort,
        bridge: { permissions: { [`@user:${DOMAIN}`]: "user" } },
        msn: { protocol_versions: [dialect], passport_url: msn.passportUrl },
        metrics: { enabled: true },
        ...(databaseUri ? { database: databaseUri } : {}),
      }));
      const reg = bridge.registration;
      await synapse.pingAppservice(reg.id, reg.as_token);

      const creds = await synapse.registerUser("user", "user-password");
      user = await TestMatrixUser.start({ baseUrl: synapse.baseUrl, ...creds });

      const server = { host: msn.host, port: msn.nsPort };
      bob = new MsnContact(BOB.email, BOB.password, server, {
        versions: [dialect],
        passportUrl: msn.passportUrl,
      });
      carol = new MsnContact(CAROL.email, CAROL.password, server, {
        versions: [otherDialect],
        passportUrl: msn.passportUrl,
      });
      await bob.login();
      await carol.login();
    });

    after(async () => {
      user?.stop();
      await bob?.logout().catch(() => undefined);
      await carol?.logout().catch(() => undefined);
      const code = await bridge?.stop();
      await synapse?.stop();
      await msn?.stop();
      await postgres?.stop();
      bridge?.cleanup();
      process.stderr.write(
        `# e2e wall time (${dialect}, ${engine}): ${((Date.now() - started) / 1000).toFixed(1)} s (bridge exit code ${code})\n`,
      );
    });

    test(
      "1. DM the bot, log in; the password message is redacted; status shows the connection",
      STEP,
      async () => {
        mgmtRoom = await user.createDirectRoom([`@msnbot:${DOMAIN}`]);
        await user.waitForMessage(
          mgmtRoom,
          (body) => body.startsWith("Hello! I am the MSN Messenger bridge"),
          20_000,
        );

        const since = Date.now();
        const loginEvent = await user.sendText(mgmtRoom, `login ${ALICE.email} ${ALICE.password}`);
        await user.waitForMessage(
          mgmtRoom,
          (body, e) =>
            e.getTs() >= since - 1000 &&
            body.startsWith(`✅ Logged in to MSN as alice@hotmail.test (Alice) using ${dialect}. 3 contacts`),
          20_000,
        );
        const stored = await user.client.fetchRoomEvent(mgmtRoom, loginEvent);
        assert.deepEqual(stored.content, {}, "the password message was redacted");
        assert.ok(stored.unsigned?.redacted_because, "redacted_because is set");
        assert.ok(!bridge.log.includes(ALICE.password), "the password never appears in the bridge's log");

        const status = await command("status", /^Connected to MSN/);
        assert.ok(
          status.includes(`as alice@hotmail.test (Alice) using ${dialect}. 2 of 3 contacts online`),
          status,
        );
      },
    );

    test("2. a contact starts a chat: invite from the ghost, message and typing arrive", STEP, async () => {
      const sb = await bob.chatWith(ALICE.email);
      sb.sendTyping();
      await sb.sendText("Hello from Bob");
      bobRoom = await user.waitForInvite(ghost(BOB.email), 20_000);
      const invite = user.client.getRoom(bobRoom)!.currentState.getMember(user.userId)!.events.member!;
      assert.equal(invite.getContent().is_direct, true, "the invite is a DM");
      await user.joinRoom(bobRoom);
      const msg = await user.waitForMessage(bobRoom, "Hello from Bob");
      assert.equal(msg.getSender(), ghost(BOB.email));
      const member = user.client.getRoom(bobRoom)!.getMember(ghost(BOB.email))!;
      assert.equal(member.name, "Bob Builder");

      sb.sendTyping();
      await user.waitForTyping(bobRoom, ghost(BOB.email), true);
      await sb.sendText("and again");
      await user.waitForMessage(bobRoom, "and again");
      await user.waitForTyping(bobRoom, ghost(BOB.email), false);
    });

    test("3. the Matrix user replies and types: the contact gets MSG and TypingUser", STEP, async () => {
      const text = "Hi Bob — ünïcødé ✓ 日本語";
      await user.sendText(bobRoom, text);
      const got = await bob.waitForMessage((m) => m.text === text);
      assert.equal(got.from.toLowerCase(), ALICE.email);
      const wire = msn
        .received(ALICE.email)
        .filter((c) => c.connection === "sb" && c.line.startsWith("MSG "));
      const last = wire.at(-1)!;
      const payload = last.payload!;
      assert.equal(Number(last.line.split(" ").at(-1)), payload.length, "length is the payload's byte count");
      assert.match(
        payload.toString("utf8"),
        /^MIME-Version: 1\.0\r\nContent-Type: text\/plain; charset=UTF-8\r\n/,
      );
      assert.ok(payload.toString("utf8").endsWith(`\r\n\r\n${text}`));

      const since = Date.now();
      await user.setTyping(bobRoom, true);
      await bob.waitForTyping(ALICE.email, since);
      await user.setTyping(bobRoom, false);
    });

    test("4. `chat <email>` opens a portal; writing rings the contact; both ways", STEP, async () => {
      await command(`chat ${CAROL.email}`, /new chat with carol@hotmail\.test/);
      carolRoom = await user.waitForInvite(ghost(CAROL.email), 20_000);
      await user.joinRoom(carolRoom);
      await user.sendText(carolRoom, "Hi Carol");
      const got = await carol.waitForMessage((m) => m.text === "Hi Carol");
      await got.sb.sendText("Hi back from Carol");
      await user.waitForMessage(carolRoom, "Hi back from Carol");
    });

    test("5. the contact leaves (BYE); the next message opens a new switchboard", STEP, async () => {
      const old = bob.switchboardWith(ALICE.email)!;
      const seen = msn.received(ALICE.email).length;
      await old.close();
      // Left alone in the switchboard, the bridge leaves it too rather than keep a dead session.
      await waitFor("the bridge to leave the empty switchboard", () =>
        msn
          .received(ALICE.email)
          .slice(seen)
          .some((c) => c.connection === "sb" && c.line === "OUT"),
      );
      const before = bob.switchboards.length;
      await user.sendText(bobRoom, "Are you still there?");
      const got = await bob.waitForMessage((m) => m.text === "Are you still there?");
      assert.notEqual(got.sb, old, "delivered over a new switchboard");
      assert.ok(bob.switchboards.length >= before);
    });

    test("6. presence: away and offline follow the contact", STEP, async () => {
      await bob.ns!.setStatus("AWY");
      const away = await user.waitForPresence(ghost(BOB.email), "unavailable", 20_000);
      assert.equal(away.presenceStatusMsg, "Away");
      if (dialect === "MSNP12") {
        // Personal messages exist from MSNP11 on: they become the ghost's status message.
        await bob.ns!.setPersonalMessage("gone fishing");
        await waitFor(
          "the personal message as status",
          () => user.client.getUser(ghost(BOB.email))?.presenceStatusMsg === "Away: gone fishing",
        );
      }
      await bob.logout();
      await user.waitForPresence(ghost(BOB.email), "offline", 20_000);
      await bob.login();
      await user.waitForPresence(ghost(BOB.email), "online", 20_000);
    });

    test("7. SIGKILL and restart: login restored, same rooms, conversation continues", STEP, async () => {
      const roomsBefore = user.client.getRooms().length;
      const portalsBefore = engine === "postgres" ? await portalRows() : [];
      if (engine === "postgres") {
        // The rooms the user has really live in PostgreSQL, not in some file beside the config.
        assert.equal(existsSync(join(bridge.dir, "bridge.db")), false, "no SQLite file was made");
        assert.deepEqual(
          portalsBefore.map((p) => [p.conversation_key, p.room_id]),
          [
            [BOB.email, bobRoom],
            [CAROL.email, carolRoom],
          ],
        );
      }
      await bridge.kill();
      await waitFor("the MSN server to see the puppet drop", () => !msn.isOnline(ALICE.email), 10_000);
      await bridge.start();
      await waitFor("the puppet to log back in", () => msn.statusOf(ALICE.email) === "NLN", 20_000);
      const sb = await bob.chatWith(ALICE.email);
      await sb.sendText("after the restart");
      await user.waitForMessage(bobRoom, "after the restart", 20_000);
      assert.equal(user.client.getRooms().length, roomsBefore, "no new rooms");
      await user.sendText(bobRoom, "welcome back");
      await bob.waitForMessage((m) => m.text === "welcome back");
      if (engine === "postgres") {
        assert.deepEqual(await portalRows(), portalsBefore, "portals reused, none added");
      }
    });

    test("8. unicode, a 5,000-character message, CR/LF and %, and a third participant", STEP, async () => {
      const emoji = "emoji 🎉👍🏽 and RTL שלום";
      await user.sendText(bobRoom, emoji);
      await bob.waitForMessage((m) => m.text === emoji);

      const alphabet = [..."abcdefghijklmnopqrstuvwxyz äöü€😀"];
      const long = Array.from({ length: 5000 }, (_, i) => alphabet[i % alphabet.length]).join("");
      const since = bob.messages.length;
      await user.sendText(bobRoom, long);
      await waitFor(
        "all parts of the long message",
        () =>
          bob.messages
            .slice(since)
            .map((m) => m.text)
            .join("") === long,
        20_000,
      );
      const parts = bob.messages.slice(since);
      assert.ok(parts.length >= 3, `split into ${parts.length} messages`);

      await user.sendText(bobRoom, "line one\nline two 100% sure");
      await bob.waitForMessage((m) => m.text === "line one\nline two 100% sure");
      const wire = msn
        .received(ALICE.email)
        .filter((c) => c.connection === "sb" && c.line.startsWith("MSG "));
      assert.ok(
        wire.at(-1)!.payload!.toString("utf8").endsWith("\r\n\r\nline one\r\nline two 100% sure"),
        "CRLF on the wire",
      );

      const sb = bob.switchboardWith(ALICE.email)!;
      await sb.invite(CAROL.email);
      await sb.waitForJoin(CAROL.email, 15_000);
      const groupRoom = await user.waitForInvite(`@msnbot:${DOMAIN}`, 20_000);
      await user.joinRoom(groupRoom);
      const carolSb = carol.switchboardWith(BOB.email)!;
      await carolSb.sendText("hello group");
      const msg = await user.waitForMessage(groupRoom, "hello group");
      assert.equal(msg.getSender(), ghost(CAROL.email));
      await user.waitForMessage(bobRoom, (body) =>
        body.startsWith("The conversation continues as a group chat"),
      );
      await user.sendText(groupRoom, "hi both");
      await bob.waitForMessage((m) => m.text === "hi both");
      await carol.waitForMessage((m) => m.text === "hi both");
    });

    test("9. writing to an offline contact gets a visible not-delivered notice", STEP, async () => {
      await command(`chat ${DAVE.email}`, /new chat with dave@hotmail\.test/);
      const daveRoom = await user.waitForInvite(ghost(DAVE.email), 20_000);
      await user.joinRoom(daveRoom);
      const eventId = await user.sendText(daveRoom, "are you there?");
      const notice = await user.waitForMessage(daveRoom, (body) =>
        body.startsWith("⚠️ Your message was not bridged"),
      );
      assert.match(notice.getContent().body as string, /Dave \(dave@hotmail\.test\) is offline/);
      assert.equal(notice.getContent()["m.relates_to"]?.["m.in_reply_to"]?.event_id, eventId);
      assert.equal(notice.getType(), EventType.RoomMessage);
    });

    test("10. someone adding the user is announced with how to accept; `add` accepts", STEP, async () => {
      const erin = new MsnContact(ERIN.email, ERIN.password, { host: msn.host, port: msn.nsPort });
      await erin.login();
      try {
        await erin.ns!.addContact(ALICE.email);
        await user.waitForMessage(mgmtRoom, (body) =>
          body.includes(
            "Erin (erin@hotmail.test) added you to their MSN contact list. To add them back, say `add erin@hotmail.test`.",
          ),
        );
        await command(`add ${ERIN.email}`, /^Added erin@hotmail\.test/);
        assert.ok(msn.account(ALICE.email)!.lists.FL.some((e) => e.toLowerCase() === ERIN.email));
        const contacts = await command("contacts", /contacts online:/);
        assert.match(contacts, /• Erin \(erin@hotmail\.test\) — online/);
        assert.match(contacts, /• Dave \(dave@hotmail\.test\) — offline/);
      } finally {
        await erin.logout();
      }
    });

    test("11. `presence` and `nick` change what contacts see", STEP, async () => {
      await command("presence busy", /now busy/);
      await waitFor("Bob to see Alice busy", () => bob.ns!.contacts.get(ALICE.email)?.status === "BSY");
      await command("nick Alice 100% ✓", /friendly name is now “Alice 100% ✓”/);
      await waitFor(
        "Bob to see the new name",
        () => bob.ns!.contacts.get(ALICE.email)?.friendlyName === "Alice 100% ✓",
      );
      await command("presence online", /now online/);
    });

    test("12. what MSN cannot carry gets a not-bridged notice; unknown commands get help", STEP, async () => {
      const target = await user.sendText(bobRoom, "react to me");
      await bob.waitForMessage((m) => m.text === "react to me");
      const messagesToMsn = (): number =>
        msn.received(ALICE.email).filter((c) => c.connection === "sb" && c.line.startsWith("MSG ")).length;
      const before = messagesToMsn();
      const reaction = await user.client.sendEvent(bobRoom, EventType.Reaction, {
        "m.relates_to": { rel_type: RelationType.Annotation, event_id: target, key: "👍" },
      });
      const notice = await user.waitForMessage(
        bobRoom,
        (body) => body === "⚠️ Your message was not bridged: MSN has no reactions",
      );
      assert.equal(notice.getContent()["m.relates_to"]?.["m.in_reply_to"]?.event_id, reaction.event_id);
      assert.equal(messagesToMsn(), before, "nothing went to MSN");
      await command("frobnicate", /^Unknown command `frobnicate`/);
      await command("chat not-an-address", /is not a valid MSN address/);
    });

    test("13. the appservice refuses requests without the homeserver's token", STEP, async () => {
      const url = `http://127.0.0.1:${bridge.appservicePort}/_matrix/app/v1/transactions/forged-1`;
      const forged = {
        events: [
          {
            type: "m.room.message",
            room_id: mgmtRoom,
            sender: user.userId,
            event_id: "$forged",
            origin_server_ts: Date.now(),
            content: { msgtype: "m.text", body: "logout" },
          },
        ],
      };
      for (const [headers, status] of [
        [{}, 401],
        [{ Authorization: "Bearer wrong-token" }, 403],
      ] as const) {
        const res = await fetch(url, {
          method: "PUT",
          headers: { "Content-Type": "application/json", ...headers },
          body: JSON.stringify(forged),
        });
        assert.equal(res.status, status, JSON.stringify(headers));
      }
      await command("status", /^Connected to MSN/);
    });

    test("14. users without permission are refused by the bot", STEP, async () => {
      const creds = await synapse.registerUser("stranger", "stranger-password");
      const stranger = await TestMatrixUser.start({ baseUrl: synapse.baseUrl, ...creds });
      try {
        const room = await stranger.createDirectRoom([`@msnbot:${DOMAIN}`]);
        await waitFor("the bot to refuse the invite", () => {
          const member = stranger.client.getRoom(room)?.getMember(`@msnbot:${DOMAIN}`);
          return member?.membership === "leave";
        });
        assert.equal(bridge.log.includes("refused an invite from a user without permission"), true);
        // A permitted user's invite to a room that is not a DM is refused too.
        const group = await user.client.createRoom({ invite: [`@msnbot:${DOMAIN}`], name: "not a DM" });
        await waitFor("the bot to refuse a non-DM invite", () => {
          const member = user.client.getRoom(group.room_id)?.getMember(`@msnbot:${DOMAIN}`);
          return member?.membership === "leave";
        });
      } finally {
        stranger.stop();
      }
    });

    test("15. health and metrics: probes answer without a token; the counters moved", STEP, async () => {
      const base = `http://127.0.0.1:${bridge.appservicePort}`;
      const health = await fetch(`${base}/health`);
      assert.equal(health.status, 200);
      const live = await fetch(`${base}/live`);
      assert.equal(live.status, 200);
      assert.deepEqual(await live.json(), { status: "ok" });
      const ready = await fetch(`${base}/ready`);
      assert.deepEqual([ready.status, await ready.json()], [200, { status: "ready" }]);

      const res = await fetch(`${base}/metrics`);
      assert.equal(res.status, 200);
      const text = await res.text();
      /** The value of one sample, e.g. sample('msn_puppets{state="connected"}'); NaN when absent. */
      const sample = (series: string): number => {
        const line = text.split("\n").find((l) => l.startsWith(`${series} `));
        return line ? Number(line.slice(series.length + 1)) : Number.NaN;
      };
      // Counters start at the restart of step 7; steps 7-12 sent both ways and were refused twice.
      assert.ok(sample('msn_messages_bridged_total{direction="msn_to_matrix"}') > 0, text);
      assert.ok(sample('msn_messages_bridged_total{direction="matrix_to_msn"}') > 0, text);
      assert.ok(sample("msn_msn_to_matrix_latency_seconds_count") > 0, text);
      assert.ok(sample('msn_messages_not_bridged_total{reason="contact_offline"}') >= 1, text);
      assert.ok(sample('msn_messages_not_bridged_total{reason="unsupported"}') >= 1, text);
      assert.equal(sample('msn_puppets{state="connected"}'), 1, text);
      assert.equal(sample('msn_puppets{state="reconnecting"}'), 0, text);
      assert.ok(sample("msn_portals") > 0, text);
      assert.ok(sample("msn_switchboards_open") >= 0, text);
      assert.ok(sample("msn_reconnects_total") >= 0, text);
      assert.ok(sample("msn_switchboard_setup_seconds_count") >= 0, text);
      // matrix-appservice-bridge's own metrics come with it.
      assert.ok(text.includes("bridge_app_version"), "library metrics present");
    });
  });
}
