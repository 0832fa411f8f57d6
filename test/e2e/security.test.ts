/**
 * Isolation between the bridge's users, end to end (real Synapse, the MSN test server, the bridge
 * as its own process). Two Matrix users, each with their own MSN account, share a contact: each
 * sees only their own portal and contacts, nobody acts through another's puppet, ghosts and the
 * bot refuse rooms that are not theirs to bridge, one MSN account belongs to one Matrix user, and
 * a credentials key that no longer fits asks users to log in again instead of breaking start-up.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { SynapseHandle } from "../harness/synapse.js";
import { startBridgeWithSynapse } from "../harness/bridge-with-synapse.js";
import { TestMatrixUser } from "../harness/matrix-client.js";
import { BridgeProcess, TEST_PASSWORD_PATTERN } from "../harness/bridge-process.js";
import { MsnContact, waitFor } from "../harness/msn-contact.js";
import { MsnTestServer } from "../msn-server/index.js";

const DOMAIN = "msn.test";
const ALICE = { email: "alice@hotmail.test", password: "alice-pw" };
const CAROL = { email: "carol@hotmail.test", password: "carol-pw" };
const BOB = { email: "bob@hotmail.test", password: "bob-pw" };
const DAVE = { email: "dave@hotmail.test", password: "dave-pw" };
const BOT = `@msnbot:${DOMAIN}`;
const ghost = (email: string): string => `@msn_${email.replace("@", "=40")}:${DOMAIN}`;
const STEP = { timeout: 60_000 };

describe(
  "security: users of one bridge are isolated (Synapse + MSN test server)",
  { timeout: 300_000 },
  () => {
    let msn: MsnTestServer;
    let synapse: SynapseHandle;
    let bridge: BridgeProcess;
    let one: TestMatrixUser;
    let two: TestMatrixUser;
    let stranger: TestMatrixUser;
    let bob: MsnContact;
    const mgmt = new Map<TestMatrixUser, string>();
    const bobRoom = new Map<TestMatrixUser, string>();

    const command = (user: TestMatrixUser, text: string, answer: RegExp): Promise<string> =>
      user.ask(mgmt.get(user)!, text, answer, BOT);

    /** Wire lines the MSN server got from both bridged accounts since `mark`, pings left out. */
    function puppetTraffic(mark: number): string[] {
      return msn
        .received()
        .filter(
          (c) => c.seq > mark && (c.email === ALICE.email || c.email === CAROL.email) && c.name !== "PNG",
        )
        .map((c) => `${c.email} ${c.connection} ${c.line}`);
    }

    function lastSeq(): number {
      return msn.received().at(-1)?.seq ?? 0;
    }

    function membershipOf(user: TestMatrixUser, roomId: string, member: string): string | undefined {
      return user.client.getRoom(roomId)?.getMember(member)?.membership;
    }

    function portalOwners(): Record<string, string> {
      const db = new Database(join(bridge.dir, "bridge.db"), { readonly: true, fileMustExist: true });
      try {
        const rows = db.prepare("SELECT room_id, user_id FROM portals").all() as {
          room_id: string;
          user_id: string;
        }[];
        return Object.fromEntries(rows.map((r) => [r.room_id, r.user_id]));
      } finally {
        db.close();
      }
    }

    /** Invites a ghost and waits for it to turn the invite down. */
    async function ghostRefuses(inviter: TestMatrixUser, roomId: string, email: string): Promise<void> {
      await inviter.client.invite(roomId, ghost(email));
      await waitFor(
        `${email}'s ghost to refuse the invite into ${roomId}`,
        () => membershipOf(inviter, roomId, ghost(email)) === "leave",
        20_000,
      );
    }

    before(async () => {
      msn = new MsnTestServer({ accounts: [ALICE, CAROL, BOB, DAVE] });
      await msn.start();
      for (const owner of [ALICE.email, CAROL.email]) {
        msn.befriend(owner, BOB.email);
        msn.befriend(BOB.email, owner);
      }
      msn.befriend(ALICE.email, DAVE.email);
      ({ bridge, synapse } = await startBridgeWithSynapse({
        domain: DOMAIN,
        msnHost: msn.host,
        msnPort: msn.nsPort,
        bridge: { permissions: { [`@one:${DOMAIN}`]: "user", [`@two:${DOMAIN}`]: "user" } },
        msn: { protocol_versions: ["MSNP7"] },
      }));
      one = await TestMatrixUser.start({
        baseUrl: synapse.baseUrl,
        ...(await synapse.registerUser("one", "one-password")),
      });
      two = await TestMatrixUser.start({
        baseUrl: synapse.baseUrl,
        ...(await synapse.registerUser("two", "two-password")),
      });
      stranger = await TestMatrixUser.start({
        baseUrl: synapse.baseUrl,
        ...(await synapse.registerUser("stranger", "stranger-password")),
      });
      bob = new MsnContact(BOB.email, BOB.password, { host: msn.host, port: msn.nsPort });
      await bob.login();
    });

    after(async () => {
      for (const u of [one, two, stranger]) u?.stop();
      await bob?.logout().catch(() => undefined);
      await bridge?.stop();
      await synapse?.stop();
      await msn?.stop();
      bridge?.cleanup();
    });

    test(
      "each user logs in to their own account; a ghost refuses the room of a user not logged in",
      STEP,
      async () => {
        for (const user of [one, two]) {
          const room = await user.createDirectRoom([BOT]);
          mgmt.set(user, room);
          await user.waitForMessage(
            room,
            (body) => body.startsWith("Hello! I am the MSN Messenger bridge"),
            20_000,
          );
        }
        const mark = lastSeq();
        const own = await two.client.createRoom({ name: "two's own room" });
        await ghostRefuses(two, own.room_id, BOB.email);
        assert.deepEqual(puppetTraffic(mark), []);

        await command(
          one,
          `login ${ALICE.email} ${ALICE.password}`,
          /^✅ Logged in to MSN as alice@hotmail\.test/,
        );
        await command(
          two,
          `login ${CAROL.email} ${CAROL.password}`,
          /^✅ Logged in to MSN as carol@hotmail\.test/,
        );
      },
    );

    test("a second Matrix user cannot log in to an account that is already bridged", STEP, async () => {
      const logins = (): number =>
        msn.received(ALICE.email).filter((c) => c.connection === "ns" && c.name === "USR").length;
      const before = logins();
      const reply = await command(two, `login ${ALICE.email} ${ALICE.password}`, /already bridged/);
      assert.match(reply, /^❌ alice@hotmail\.test is already bridged for another Matrix user/);
      assert.doesNotMatch(reply, /@one:/, "the other user is not named");
      assert.equal(logins(), before, "no second login reached MSN");
      assert.match(
        await command(one, "status", /^Connected/),
        /alice@hotmail\.test/,
        "the owner stays connected",
      );
      assert.match(
        await command(two, "status", /^Connected/),
        /carol@hotmail\.test/,
        "two keeps their own login",
      );
    });

    test(
      "each user has their own portal with the shared contact; messages land only there",
      STEP,
      async () => {
        for (const [user, account] of [
          [one, ALICE],
          [two, CAROL],
        ] as const) {
          const sb = await bob.chatWith(account.email);
          await sb.sendText(`hello ${account.email}`);
          const room = await user.waitForInvite(ghost(BOB.email), 20_000);
          await user.joinRoom(room);
          await user.waitForMessage(room, `hello ${account.email}`);
          bobRoom.set(user, room);
        }
        assert.notEqual(bobRoom.get(one), bobRoom.get(two), "two portals");
        for (const [user, other] of [
          [one, CAROL],
          [two, ALICE],
        ] as const) {
          const leaked = user.client
            .getRooms()
            .flatMap((r) => r.getLiveTimeline().getEvents())
            .filter((e) => e.getContent().body === `hello ${other.email}`);
          assert.deepEqual(leaked, [], `${user.userId} saw nothing of the other account`);
        }
        const owners = portalOwners();
        assert.equal(owners[bobRoom.get(one)!], one.userId);
        assert.equal(owners[bobRoom.get(two)!], two.userId);

        // Replies go out through the writer's own account.
        const since = bob.messages.length;
        await one.sendText(bobRoom.get(one)!, "from one");
        await two.sendText(bobRoom.get(two)!, "from two");
        await waitFor("both replies", () => bob.messages.length >= since + 2);
        const from = Object.fromEntries(bob.messages.slice(since).map((m) => [m.text, m.from.toLowerCase()]));
        assert.deepEqual(from, { "from one": ALICE.email, "from two": CAROL.email });
      },
    );

    test("`contacts` and `chat` answer from the asker's own account only", STEP, async () => {
      const oneContacts = await command(one, "contacts", /contacts online:/);
      const twoContacts = await command(two, "contacts", /contacts online:/);
      assert.match(oneContacts, /dave@hotmail\.test/);
      assert.doesNotMatch(twoContacts, /dave@hotmail\.test/, "Dave is only on one's list");
      assert.doesNotMatch(twoContacts, /alice@hotmail\.test/);
      const answer = await command(two, `chat ${BOB.email}`, /chat with bob@hotmail\.test/);
      assert.ok(answer.includes(bobRoom.get(two)!), answer);
      assert.ok(!answer.includes(bobRoom.get(one)!), answer);
    });

    test("another user in one's portal or management room cannot act for one", STEP, async () => {
      const portal = bobRoom.get(one)!;
      const oneMgmt = mgmt.get(one)!;
      for (const room of [portal, oneMgmt]) {
        await one.client.invite(room, two.userId);
        await two.joinRoom(room);
      }
      const mark = lastSeq();
      const seenByBob = bob.messages.length;

      // Writing in one's portal does not speak for one.
      await two.sendText(portal, "two pretends to be alice");
      // Commands in one's management room are not two's to give.
      const since = Date.now();
      await two.sendText(oneMgmt, "logout");
      await two.sendText(oneMgmt, "contacts");
      // The bot will not make one's portal two's management room.
      await two.client.invite(portal, BOT);
      await waitFor("the bot to refuse the portal", () => membershipOf(two, portal, BOT) === "leave", 20_000);
      // A ghost will not be pulled into one's portal (it would take the chat over) or a management room.
      await ghostRefuses(two, portal, DAVE.email);
      await ghostRefuses(two, oneMgmt, DAVE.email);
      await ghostRefuses(one, oneMgmt, DAVE.email);

      // One's own message is the flush marker: it goes out after everything above was handled.
      await one.sendText(portal, "one is still in charge");
      await bob.waitForMessage((m) => m.text === "one is still in charge");
      assert.deepEqual(
        bob.messages.slice(seenByBob).map((m) => m.text),
        ["one is still in charge"],
      );
      const traffic = puppetTraffic(mark).filter(
        (l) => !/ sb (MSG|USR|CAL|ANS|OUT)\b| ns XFR \d+ SB/.test(l),
      );
      assert.deepEqual(traffic, [], "no command for two's actions");
      const botAnswers = one.client
        .getRoom(oneMgmt)!
        .getLiveTimeline()
        .getEvents()
        .filter((e) => e.getSender() === BOT && e.getTs() >= since);
      assert.deepEqual(
        botAnswers.map((e) => e.getContent().body),
        [],
        "the bot did not answer two in one's room",
      );
      assert.equal(portalOwners()[portal], one.userId, "the portal is still one's");
      assert.match(await command(one, "status", /^Connected/), /alice@hotmail\.test/);
    });

    test("a user without permission gets nothing: no bot, no ghost", STEP, async () => {
      const mark = lastSeq();
      const room = await stranger.client.createRoom({ name: "stranger's room" });
      await ghostRefuses(stranger, room.room_id, BOB.email);
      const dm = await stranger.createDirectRoom([BOT]);
      await waitFor("the bot to refuse", () => membershipOf(stranger, dm, BOT) === "leave", 20_000);
      assert.deepEqual(puppetTraffic(mark), []);
    });

    test(
      "a credentials key that no longer fits: the bridge starts and asks users to log in again",
      STEP,
      async () => {
        assert.equal(await bridge.stop(), 0);
        writeFileSync(join(bridge.dir, "msn-bridge.key"), randomBytes(32).toString("base64") + "\n", {
          mode: 0o600,
        });
        const since = Date.now();
        await bridge.start();
        for (const [user, account] of [
          [one, ALICE],
          [two, CAROL],
        ] as const) {
          await user.waitForMessage(
            mgmt.get(user)!,
            (body, e) =>
              e.getTs() >= since - 1000 &&
              body.startsWith(`⚠️ I could not read your stored MSN password for ${account.email}`) &&
              body.includes("log in again"),
            20_000,
          );
        }
        assert.match(await command(one, "status", /not logged in/), /^You are not logged in/);
        await command(
          one,
          `login ${ALICE.email} ${ALICE.password}`,
          /^✅ Logged in to MSN as alice@hotmail\.test/,
        );
        await bridge.stop();
        await bridge.start();
        await waitFor(
          "one's login to be restored with the new key",
          () => msn.statusOf(ALICE.email) === "NLN",
          20_000,
        );
      },
    );

    test("no password of this run is in the bridge's output", () => {
      assert.equal(bridge.findInOutput(TEST_PASSWORD_PATTERN), null);
      for (const secret of [ALICE.password, CAROL.password]) {
        assert.equal(bridge.findInOutput(new RegExp(secret)), null, secret);
      }
    });
  },
);
