import { describe, test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { BridgeCore } from "../../../src/bridge/core.js";
import { silentLog } from "../../../src/bridge/log.js";
import type { Store } from "../../../src/store/store.js";
import {
  FakeMatrix,
  FakeNotification,
  FakeSwitchboard,
  memoryStore,
  TEST_CORE_OPTIONS,
  until,
} from "./fakes.js";

const OPTIONS = TEST_CORE_OPTIONS;

describe("bridge core", () => {
  let store: Store;
  let matrix: FakeMatrix;
  let sessions: FakeNotification[];
  let core: BridgeCore;
  const user = "@alice:hs";

  /** When set, sessions connect with every contact offline and learn presence 5 ms later. */
  let iln = false;
  /** When set, sessions made from now on finish connect() only after it resolves. */
  let connectGate: Promise<void> | null = null;

  beforeEach(async () => {
    connectGate = null;
    iln = false;
    store = await memoryStore();
    await store.setManagementRoom(user, "!mgmt:hs");
    matrix = new FakeMatrix();
    sessions = [];
    core = new BridgeCore(
      store,
      matrix,
      ({ email, password }) => {
        const ns = new FakeNotification(email, password);
        const gate = connectGate;
        if (gate) {
          const connect = ns.connect.bind(ns);
          ns.connect = async () => {
            await gate;
            await connect();
          };
        }
        const bobStatus = iln ? "FLN" : "NLN";
        const carolStatus = iln ? "FLN" : "AWY";
        ns.addFakeContact("bob@msn.test", "Bob", bobStatus);
        ns.addFakeContact("carol@msn.test", "Carol", carolStatus);
        ns.addFakeContact("dave@msn.test", "Dave", "FLN");
        if (iln) {
          const connect = ns.connect.bind(ns);
          ns.connect = async () => {
            await connect();
            setTimeout(() => {
              for (const [email, name, status] of [
                ["bob@msn.test", "Bob", "NLN"],
                ["carol@msn.test", "Carol", "AWY"],
              ] as const) {
                ns.addFakeContact(email, name, status);
                ns.fire("presence", { contact: ns.contacts.get(email)!, previousStatus: "FLN" });
              }
            }, 5);
          };
        }
        sessions.push(ns);
        return ns;
      },
      OPTIONS,
      silentLog,
    );
  });

  afterEach(async () => {
    await core.stop();
    await store.close();
  });

  async function login(): Promise<FakeNotification> {
    await core.login(user, "alice@msn.test", "pw");
    return sessions.at(-1)!;
  }

  test("login stores the credentials, syncs ghosts with names and presence", async () => {
    const reply = await core.login(user, "alice@msn.test", "pw");
    assert.match(reply, /Logged in to MSN as alice@msn.test .*MSNP7\. 3 contacts/);
    assert.deepEqual(await store.getLogin(user), {
      userId: user,
      email: "alice@msn.test",
      password: "pw",
      autoConnect: true,
      friendlyName: "Alice",
    });
    await until(() => matrix.names.size === 3);
    assert.equal(matrix.names.get("bob@msn.test"), "Bob");
    // Offline contacts nobody saw online cost no presence request.
    await until(() => matrix.presence.length === 2);
    assert.deepEqual(matrix.presence.map((p) => `${p.email}=${p.presence}`).sort(), [
      "bob@msn.test=online",
      "carol@msn.test=unavailable",
    ]);
  });

  test("users logging in at once who share contacts cost one profile request per ghost", async () => {
    matrix.ghostDelayMs = 20;
    await store.setManagementRoom("@zed:hs", "!mgmt-zed:hs");
    await Promise.all([
      core.login(user, "alice@msn.test", "pw"),
      core.login("@zed:hs", "zed@msn.test", "pw"),
    ]);
    await until(() => matrix.names.size === 3);
    assert.deepEqual(matrix.ensureGhostCalls.toSorted(), ["bob@msn.test", "carol@msn.test", "dave@msn.test"]);
  });

  test("a refused login stores nothing and says why", async () => {
    core = new BridgeCore(
      store,
      matrix,
      ({ email, password }) => {
        const ns = new FakeNotification(email, password);
        ns.connectError = Object.assign(new Error("911"), { code: 911 });
        return ns;
      },
      OPTIONS,
      silentLog,
    );
    await assert.rejects(core.login(user, "alice@msn.test", "bad"), /wrong e-mail address or password/);
    assert.equal(await store.getLogin(user), null);
  });

  test("addresses that could smuggle bytes into a command line are refused", async () => {
    await login();
    for (const bad of ["bob@msn.test\r\nOUT", "bob @msn.test", "nobody", "a%20b@c.d", "x@y\u0000"]) {
      await assert.rejects(core.addContact(user, bad), /not a valid MSN address/);
    }
  });

  test("an incoming chat makes one DM portal and relays text and typing in order", async () => {
    const ns = await login();
    ns.fire("ring", { sessionId: "1", inviterEmail: "bob@msn.test", inviterName: "Bob" });
    await until(() => ns.opened.length === 1 && matrix.rooms.length === 1);
    const sb = ns.opened[0]!;
    await until(() => core.portalCount === 1);
    sb.fire("typing", { from: "bob@msn.test" });
    sb.fire("message", { from: "bob@msn.test", fromName: "Bob", text: "one" });
    sb.fire("message", { from: "bob@msn.test", fromName: "Bob", text: "two\nlines" });
    await core.drain();
    const roomId = matrix.rooms[0]!.roomId;
    assert.deepEqual(
      matrix.messages.filter((m) => m.roomId === roomId).map((m) => [m.as, m.content.body]),
      [
        ["bob@msn.test", "one"],
        ["bob@msn.test", "two\nlines"],
      ],
    );
    // Typing on, then cleared by the message.
    assert.deepEqual(
      matrix.typing.map((t) => t.typing),
      [true, false],
    );

    // A second RNG from the same contact reuses the room.
    ns.fire("ring", { sessionId: "2", inviterEmail: "bob@msn.test", inviterName: "Bob" });
    await until(() => ns.opened.length === 2);
    await core.drain();
    assert.equal(matrix.rooms.length, 1);
  });

  test("MSN typing lapses after the timeout without a repeat", async () => {
    const ns = await login();
    ns.fire("ring", { sessionId: "1", inviterEmail: "bob@msn.test", inviterName: "Bob" });
    await until(() => core.portalCount === 1);
    ns.opened[0]!.fire("typing", { from: "bob@msn.test" });
    await until(() => matrix.typing.length === 2, 1000);
    assert.deepEqual(
      matrix.typing.map((t) => t.typing),
      [true, false],
    );
  });

  test("a Matrix message opens a switchboard, and messages queued meanwhile go in order", async () => {
    const ns = await login();
    const { roomId } = await core.openChat(user, "bob@msn.test");
    await core.handlePortalMessage(roomId, user, "$1", { msgtype: "m.text", body: "first" });
    await core.handlePortalMessage(roomId, user, "$2", { msgtype: "m.text", body: "second" });
    await core.drain();
    assert.equal(ns.opened.length, 1);
    assert.deepEqual(ns.opened[0]!.sent, ["first", "second"]);
  });

  test("writing to an offline contact answers with a not-delivered notice and opens no SB", async () => {
    const ns = await login();
    const { roomId } = await core.openChat(user, "dave@msn.test");
    await core.handlePortalMessage(roomId, user, "$1", { msgtype: "m.text", body: "hello?" });
    await core.drain();
    assert.equal(ns.opened.length, 0);
    const notice = matrix.messages.at(-1)!;
    assert.equal(notice.content.body, "⚠️ Your message was not bridged: Dave (dave@msn.test) is offline");
    assert.deepEqual(notice.content["m.relates_to"], { "m.in_reply_to": { event_id: "$1" } });
  });

  test("after the contact leaves, the next message opens a new switchboard", async () => {
    const ns = await login();
    const { roomId } = await core.openChat(user, "bob@msn.test");
    await core.handlePortalMessage(roomId, user, "$1", { msgtype: "m.text", body: "a" });
    await core.drain();
    const first = ns.opened[0]!;
    first.leave("bob@msn.test");
    await until(() => first.closed);
    await core.handlePortalMessage(roomId, user, "$2", { msgtype: "m.text", body: "b" });
    await core.drain();
    assert.equal(ns.opened.length, 2);
    assert.deepEqual(ns.opened[1]!.sent, ["b"]);
  });

  test("a send failing on a dead SB is retried once on a fresh one", async () => {
    const ns = await login();
    const { roomId } = await core.openChat(user, "bob@msn.test");
    await core.handlePortalMessage(roomId, user, "$1", { msgtype: "m.text", body: "a" });
    await core.drain();
    ns.opened[0]!.failNextSend = new Error("socket closed");
    await core.handlePortalMessage(roomId, user, "$2", { msgtype: "m.text", body: "b" });
    await core.drain();
    assert.equal(ns.opened.length, 2);
    assert.deepEqual(ns.opened[1]!.sent, ["b"]);
  });

  test("Matrix typing is repeated while it lasts and only over an open SB", async () => {
    const ns = await login();
    const { roomId } = await core.openChat(user, "bob@msn.test");
    await core.handleTyping(roomId, [user]);
    await core.handleTyping(roomId, []);
    assert.equal(ns.opened.length, 0, "typing must not open a switchboard");
    await core.handlePortalMessage(roomId, user, "$1", { msgtype: "m.text", body: "a" });
    await core.drain();
    await core.handleTyping(roomId, [user]);
    await new Promise((r) => setTimeout(r, 75));
    await core.handleTyping(roomId, []);
    const sent = ns.opened[0]!.typingSent;
    assert.ok(sent >= 2, `typing repeated (${sent})`);
    await new Promise((r) => setTimeout(r, 70));
    assert.equal(ns.opened[0]!.typingSent, sent, "stops when Matrix typing stops");
  });

  test("a third participant turns the chat into a group portal linked from the DM", async () => {
    const ns = await login();
    ns.fire("ring", { sessionId: "1", inviterEmail: "bob@msn.test", inviterName: "Bob" });
    await until(() => core.portalCount === 1);
    const sb = ns.opened[0]! as FakeSwitchboard;
    sb.join("carol@msn.test", "Carol");
    await until(() => matrix.rooms.length === 2);
    await until(() => core.portalCount === 2);
    const group = matrix.rooms[1]!;
    assert.equal(group.kind, "group");
    assert.deepEqual(group.members.slice(1).sort(), ["bob@msn.test", "carol@msn.test"]);
    sb.fire("message", { from: "carol@msn.test", fromName: "Carol", text: "hi all" });
    await core.drain();
    assert.ok(matrix.messages.some((m) => m.roomId === group.roomId && m.content.body === "hi all"));
    assert.ok(
      matrix.messages.some((m) => m.roomId === matrix.rooms[0]!.roomId && /group chat/.test(m.content.body)),
    );
  });

  test("OUT OTH stops reconnecting and tells the user; reconnect resumes", async () => {
    const ns = await login();
    ns.fire("closed", { reason: "other-login" });
    await until(() => matrix.notices.length > 0);
    assert.match(matrix.notices.at(-1)!.text, /logged in to MSN somewhere else/);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(sessions.length, 1, "no reconnect after OUT OTH");
    assert.equal((await store.getLogin(user))!.autoConnect, false);
    await core.reconnect(user);
    assert.equal(sessions.length, 2);
    assert.match(core.status(user), /Connected to MSN as alice@msn.test/);
  });

  test("a dropped connection reconnects with backoff and announces both", async () => {
    const ns = await login();
    ns.fire("closed", { reason: "socket-closed" });
    await until(() => sessions.length === 2 && core.status(user).startsWith("Connected"));
    const texts = matrix.notices.map((n) => n.text);
    assert.ok(texts.some((t) => /Disconnected from MSN: the MSN server closed the connection/.test(t)));
    await until(() => matrix.notices.some((n) => /Reconnected/.test(n.text)));
  });

  test("stored logins are restored on start", async () => {
    await login();
    await core.stop();
    sessions.length = 0;
    const restarted = new BridgeCore(
      store,
      matrix,
      (o) => {
        const ns = new FakeNotification(o.email, o.password);
        sessions.push(ns);
        return ns;
      },
      OPTIONS,
      silentLog,
    );
    await restarted.start();
    await until(() => restarted.status(user).startsWith("Connected"));
    assert.equal(sessions[0]!.password, "pw");
    await restarted.stop();
  });

  test("`chat` with an existing portal returns the same room and re-invites only a user who left", async () => {
    await login();
    const first = await core.openChat(user, "bob@msn.test");
    assert.equal(first.created, true);
    const invites: string[] = [];
    matrix.inviteUser = async (_as: string | null, roomId: string) => {
      invites.push(roomId);
    };
    matrix.membership = "invite";
    assert.deepEqual(await core.openChat(user, "bob@msn.test"), { roomId: first.roomId, created: false });
    assert.deepEqual(invites, []);
    matrix.membership = "leave";
    assert.deepEqual(await core.openChat(user, "bob@msn.test"), { roomId: first.roomId, created: false });
    assert.deepEqual(invites, [first.roomId]);
  });

  test("messages written while the puppet reconnects wait and go out in order", async () => {
    const ns = await login();
    const { roomId } = await core.openChat(user, "bob@msn.test");
    let releaseConnect: () => void = () => undefined;
    connectGate = new Promise<void>((r) => (releaseConnect = r));
    ns.fire("closed", { reason: "socket-closed" });
    await until(() => sessions.length === 2);
    await core.handlePortalMessage(roomId, user, "$1", { msgtype: "m.text", body: "one" });
    await core.handlePortalMessage(roomId, user, "$2", { msgtype: "m.text", body: "two" });
    await new Promise((r) => setTimeout(r, 30));
    releaseConnect();
    const reconnected = sessions[1]!;
    await until(() => reconnected.opened[0]?.sent.length === 2);
    assert.deepEqual(reconnected.opened[0]!.sent, ["one", "two"]);
    assert.ok(!matrix.messages.some((m) => /not bridged/.test(m.content.body)));
  });

  test("a message waits at most reconnectWaitMs, then gets a not-delivered reply", async () => {
    const ns = await login();
    const { roomId } = await core.openChat(user, "bob@msn.test");
    connectGate = new Promise<void>(() => undefined); // never connects
    ns.fire("closed", { reason: "socket-closed" });
    await until(() => sessions.length === 2);
    await core.handlePortalMessage(roomId, user, "$1", { msgtype: "m.text", body: "lost?" });
    await until(() => matrix.messages.some((m) => /not bridged/.test(m.content.body)), 3000);
    assert.equal(
      matrix.messages.at(-1)!.content.body,
      "⚠️ Your message was not bridged: you are not connected to MSN right now",
    );
  });

  test("MSN messages wait out an unreachable homeserver and arrive once, in order", async () => {
    const ns = await login();
    ns.fire("ring", { sessionId: "1", inviterEmail: "bob@msn.test", inviterName: "Bob" });
    await until(() => core.portalCount === 1);
    const send = matrix.sendMessage.bind(matrix);
    let refusals = 3;
    matrix.sendMessage = async (...args) => {
      if (refusals-- > 0) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
      return send(...args);
    };
    const sb = ns.opened[0]!;
    sb.fire("message", { from: "bob@msn.test", fromName: "Bob", text: "first" });
    sb.fire("message", { from: "bob@msn.test", fromName: "Bob", text: "second" });
    await core.drain();
    assert.deepEqual(
      matrix.messages.map((m) => m.content.body),
      ["first", "second"],
    );
  });

  test("a send that may have reached the homeserver is not retried (no duplicates)", async () => {
    const ns = await login();
    ns.fire("ring", { sessionId: "1", inviterEmail: "bob@msn.test", inviterName: "Bob" });
    await until(() => core.portalCount === 1);
    let calls = 0;
    matrix.sendMessage = async () => {
      calls++;
      throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    };
    ns.opened[0]!.fire("message", { from: "bob@msn.test", fromName: "Bob", text: "maybe" });
    await core.drain();
    assert.equal(calls, 1);
  });

  test("a reconnect does not flash online ghosts offline while the ILN burst comes in", async () => {
    await login();
    await until(() => matrix.presence.length === 2);
    matrix.presence.length = 0;
    // The next session connects with everyone offline; its ILN burst follows a moment later.
    iln = true;
    sessions[0]!.fire("closed", { reason: "socket-closed" });
    await until(() => sessions.length === 2 && core.status(user).startsWith("Connected"));
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(sessions[1]!.contacts.get("bob@msn.test")?.status, "NLN", "the ILN burst came");
    assert.deepEqual(matrix.presence, [], "no offline flash and no repeated presence");
  });
});
