import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ScriptServer, type ScriptPeer } from "./script-server.js";
import {
  ALICE,
  ALICE_HASH,
  closeSessions,
  newAliceSession,
  nextEvent,
  playFullLogin,
  playLogin,
  playRedirect,
  PROFILE_PAYLOAD,
} from "./ns-script.js";
import { NotificationSession, type NotificationEvents } from "../../../src/msnp/notification.js";
import { MAX_CONTACTS } from "../../../src/msnp/dialect.js";
import {
  MsnArgumentError,
  MsnConnectionClosedError,
  MsnNetworkError,
  MsnProtocolError,
  MsnServerError,
  MsnTimeoutError,
} from "../../../src/msnp/errors.js";

let server: ScriptServer;
let sessions: NotificationSession[] = [];

function track(session: NotificationSession): NotificationSession {
  sessions.push(session);
  return session;
}

/** Collects every event of the given names, in order. */
function record(
  session: NotificationSession,
  ...names: Array<keyof NotificationEvents>
): Array<[string, unknown]> {
  const seen: Array<[string, unknown]> = [];
  for (const name of names) session.on(name, (payload) => seen.push([name, payload]));
  return seen;
}

async function loggedIn(extra: Parameters<typeof newAliceSession>[1] = {}): Promise<{
  session: NotificationSession;
  peer: ScriptPeer;
}> {
  const session = track(newAliceSession(server.port, extra));
  const connecting = session.connect();
  const peer = await server.nextPeer();
  await playFullLogin(peer);
  await connecting;
  await flushHeldEvents();
  return { session, peer };
}

/** Login-time events are delivered just after connect() resolves (see TypedEventEmitter). */
const flushHeldEvents = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const tick = (ms = 20): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(async () => {
  server = await ScriptServer.start();
  sessions = [];
});

afterEach(async () => {
  await closeSessions(sessions);
  await server.close();
});

describe("NotificationSession options", () => {
  test("invalid options are refused up front", () => {
    const base = { host: "127.0.0.1", port: 1863, email: ALICE, password: "pw" };
    assert.throws(() => new NotificationSession({ ...base, email: "not an address" }), MsnArgumentError);
    assert.throws(() => new NotificationSession({ ...base, password: "" }), MsnArgumentError);
    assert.throws(() => new NotificationSession({ ...base, port: 0 }), MsnArgumentError);
    assert.throws(() => new NotificationSession({ ...base, versions: [] }), MsnArgumentError);
    assert.throws(() => new NotificationSession({ ...base, versions: ["MSNP13"] }), /not supported/);
    assert.throws(() => new NotificationSession({ ...base, pingIntervalMs: 0 }), MsnArgumentError);
    assert.throws(() => new NotificationSession({ ...base, requestTimeoutMs: Number.NaN }), MsnArgumentError);
    assert.throws(
      () => new NotificationSession({ ...base, initialStatus: "FLN" as never }),
      MsnArgumentError,
    );
  });

  test("explicit undefined options fall back to defaults", async () => {
    const session = track(
      newAliceSession(server.port, { pingIntervalMs: undefined, requestTimeoutMs: undefined }),
    );
    const connecting = session.connect();
    const peer = await server.nextPeer();
    await playFullLogin(peer);
    await connecting;
    assert.equal(session.protocolVersion, "MSNP7");
    assert.ok(await peer.silentFor(50), "no PNG storm from a zero/NaN interval");
  });
});

describe("NotificationSession login (seed transcript, byte for byte)", () => {
  test("VER/CVR/INF/USR MD5, SYN, CHG and ILN produce the documented client lines and state", async () => {
    const session = track(newAliceSession(server.port, { versions: ["MSNP7", "MSNP6", "MSNP5"] }));
    const events = record(session, "contactsSynced", "presence", "serverMessage");
    const connecting = session.connect();
    const peer = await server.nextPeer();
    await playFullLogin(peer, { versions: "MSNP7 MSNP6 MSNP5" });
    await connecting;
    await flushHeldEvents();

    assert.equal(session.email, ALICE);
    assert.equal(session.friendlyName, "Alice");
    assert.equal(session.protocolVersion, "MSNP7");
    assert.equal(session.status, "NLN");
    assert.equal(session.privacyMode, "AL");
    assert.deepEqual(
      [...session.groups.values()].map((g) => [g.id, g.name]),
      [
        ["0", "Other Contacts"],
        ["1", "Friends"],
      ],
    );
    const bob = session.contacts.get("bob@example.com");
    assert.deepEqual(bob, {
      email: "bob@example.com",
      friendlyName: "Bob B",
      lists: { forward: true, allow: true, block: false, reverse: true },
      groups: ["0"],
      status: "NLN",
    });
    const carol = session.contacts.get("carol@example.com");
    assert.deepEqual(carol?.lists, { forward: true, allow: true, block: false, reverse: false });
    assert.deepEqual(carol?.groups, ["1"]);
    assert.equal(carol?.status, "FLN");
    assert.ok(Object.isFrozen(bob));

    assert.deepEqual(
      events.map(([name]) => name),
      ["serverMessage", "contactsSynced", "presence"],
    );
    const [, profile] = events[0] as [string, NotificationEvents["serverMessage"]];
    assert.equal(profile.content.kind, "profile");
    const [, presence] = events[2] as [string, NotificationEvents["presence"]];
    assert.equal(presence.contact.email, "bob@example.com");
    assert.equal(presence.previousStatus, "FLN");
    assert.equal(peer.pending.length, 0, "no unexpected client bytes");
  });

  test("the password and its hash never reach the logger", async () => {
    const lines: string[] = [];
    const log = (message: string, meta?: Record<string, unknown>): void => {
      lines.push(`${message} ${JSON.stringify(meta ?? {})}`);
    };
    await loggedIn({ logger: { debug: log, info: log, warn: log, error: log } });
    assert.ok(lines.length > 5, "something was logged");
    for (const line of lines) {
      assert.ok(!line.includes("alicepw"), line);
      assert.ok(!line.includes(ALICE_HASH), line);
    }
  });

  test("911 on USR S rejects with MsnServerError and closes with login-failed", async () => {
    const session = track(newAliceSession(server.port));
    const closed = nextEvent(session, "closed");
    const connecting = session.connect();
    const peer = await server.nextPeer();
    await peer.expect("VER 1 MSNP7 CVR0");
    peer.sendLines("VER 1 MSNP7");
    await peer.readLine();
    peer.sendLines("CVR 2 1 1 1 x y");
    await peer.readLine();
    peer.sendLines("INF 3 MD5");
    await peer.readLine();
    peer.sendLines("USR 4 MD5 S 1700000000");
    await peer.readLine();
    peer.sendLines("911 5");
    await assert.rejects(
      connecting,
      (error: unknown) => error instanceof MsnServerError && error.code === 911,
    );
    const event = await closed;
    assert.equal(event.reason, "login-failed");
    assert.ok(event.error instanceof MsnServerError);
    await peer.closed;
  });

  test("VER 1 0 (no common version) rejects with MsnProtocolError", async () => {
    const session = track(newAliceSession(server.port));
    const connecting = session.connect();
    const peer = await server.nextPeer();
    await peer.readLine();
    peer.sendLines("VER 1 0");
    peer.end();
    await assert.rejects(connecting, MsnProtocolError);
  });

  test("XFR NS redirect: closes, connects to the new server and starts again from VER 1", async () => {
    const second = await ScriptServer.start();
    try {
      const session = track(newAliceSession(server.port));
      const connecting = session.connect();
      await playRedirect(await server.nextPeer(), second.address, server.address);
      await playFullLogin(await second.nextPeer());
      await connecting;
      assert.equal(session.status, "NLN");
    } finally {
      await second.close();
    }
  });

  test("redirects beyond maxRedirects fail the login", async () => {
    const session = track(newAliceSession(server.port, { maxRedirects: 1 }));
    const closed = nextEvent(session, "closed");
    const connecting = session.connect();
    for (let hop = 0; hop < 2; hop += 1) {
      const peer = await server.nextPeer();
      await peer.readLine();
      peer.sendLines("VER 1 MSNP7");
      await peer.readLine();
      peer.sendLines("CVR 2 1 1 1 x y");
      await peer.readLine();
      peer.sendLines("INF 3 MD5");
      await peer.readLine();
      peer.sendLines(`XFR 4 NS ${server.address}`);
    }
    await assert.rejects(connecting, /more than 1 XFR NS redirects/);
    assert.equal((await closed).reason, "protocol-error");
  });

  test("a server that never answers: the request times out, the session closes", async () => {
    const session = track(newAliceSession(server.port, { requestTimeoutMs: 150 }));
    const closed = nextEvent(session, "closed");
    const started = Date.now();
    const connecting = session.connect();
    const peer = await server.nextPeer();
    await peer.readLine();
    await assert.rejects(
      connecting,
      (error: unknown) => error instanceof MsnTimeoutError && /VER 1/.test(error.message),
    );
    assert.ok(Date.now() - started < 1000);
    assert.equal((await closed).reason, "protocol-error");
    await peer.closed;
  });

  test("connection refused rejects and closes with socket-error", async () => {
    const port = server.port;
    await server.close();
    const session = track(newAliceSession(port));
    const closed = nextEvent(session, "closed");
    await assert.rejects(session.connect(), MsnNetworkError);
    const event = await closed;
    assert.equal(event.reason, "socket-error");
    assert.ok(event.error instanceof MsnNetworkError);
    server = await ScriptServer.start();
  });

  test("connect() twice is refused; close() during login aborts it", async () => {
    const session = track(newAliceSession(server.port));
    const connecting = session.connect();
    await assert.rejects(session.connect(), MsnArgumentError);
    const peer = await server.nextPeer();
    await peer.readLine();
    const closed = nextEvent(session, "closed");
    await session.close();
    await assert.rejects(connecting, MsnConnectionClosedError);
    assert.equal((await closed).reason, "local");
  });

  test("list sync tolerates Escargot's MSNP5 counter order and missing groups", async () => {
    const session = track(newAliceSession(server.port, { versions: ["MSNP5"] }));
    const connecting = session.connect();
    const peer = await server.nextPeer();
    await peer.expect("VER 1 MSNP5 CVR0");
    peer.sendLines("VER 1 MSNP5");
    await peer.readLine();
    peer.sendLines("CVR 2 1 1 1 x y");
    await peer.readLine();
    peer.sendLines("INF 3 MD5");
    await peer.readLine();
    peer.sendLines("USR 4 MD5 S salt");
    await peer.readLine();
    peer.sendLines(`USR 5 OK ${ALICE} Alice`);
    await peer.expect("SYN 6 0");
    // Escargot's MSNP2–5 LST: count before index.
    peer.sendLines(
      "SYN 6 3",
      "LST 6 FL 3 2 1 bob@example.com Bob",
      "LST 6 FL 3 2 2 carol@example.com Carol",
      "LST 6 AL 3 0 0",
      "LST 6 BL 3 1 1 eve@example.com Eve",
      "LST 6 RL 3 0 0",
      "GTC 6 3 A",
      "BLP 6 3 BL",
    );
    await peer.expect("CHG 7 NLN");
    peer.sendLines("CHG 7 NLN");
    await connecting;
    assert.equal(session.protocolVersion, "MSNP5");
    assert.deepEqual([...session.contacts.keys()].sort(), [
      "bob@example.com",
      "carol@example.com",
      "eve@example.com",
    ]);
    assert.equal(session.contacts.get("eve@example.com")?.lists.block, true);
    assert.equal(session.privacyMode, "BL");
  });

  test("an unparsable sync times out with a typed error", async () => {
    const session = track(newAliceSession(server.port, { requestTimeoutMs: 200 }));
    const connecting = session.connect();
    const peer = await server.nextPeer();
    await playLogin(peer);
    await peer.expect("SYN 6 0");
    peer.sendLines("SYN 6 1", "LST 6 FL 1 1 2 bob@example.com Bob 0");
    await assert.rejects(
      connecting,
      (error: unknown) => error instanceof MsnTimeoutError && /SYN/.test(error.message),
    );
  });
});

describe("NotificationSession after login", () => {
  test("presence is de-duplicated; name changes and FLN are reported", async () => {
    const { session, peer } = await loggedIn();
    const events = record(session, "presence");
    peer.sendLines(
      "NLN NLN bob@example.com Bob%20B", // repeat of the ILN state: dropped
      "NLN NLN bob@example.com Bob%20B",
      "NLN AWY bob@example.com Bob%20B",
      "NLN AWY bob@example.com Bob%20B",
      "NLN AWY bob@example.com B%C3%B6b%20%E2%9C%93",
      "NLN BSY carol@example.com Carol",
      "FLN bob@example.com",
      "FLN bob@example.com",
    );
    await tick(50);
    const seen = events.map(([, p]) => {
      const { contact, previousStatus } = p as NotificationEvents["presence"];
      return `${contact.email} ${previousStatus}->${contact.status} ${contact.friendlyName}`;
    });
    assert.deepEqual(seen, [
      "bob@example.com NLN->AWY Bob B",
      "bob@example.com AWY->AWY Böb ✓",
      "carol@example.com FLN->BSY Carol",
      "bob@example.com AWY->FLN Böb ✓",
    ]);
    assert.equal(session.contacts.get("bob@example.com")?.status, "FLN");
  });

  test("setFriendlyName percent-encodes and accepts Escargot's raw UTF-8 echo", async () => {
    const { session, peer } = await loggedIn();
    const changed = nextEvent(session, "friendlyNameChanged");
    const renaming = session.setFriendlyName("Älice 100%");
    await peer.expect(`REA 8 ${ALICE} %C3%84lice%20100%25`);
    peer.sendLines(`REA 8 2 ${ALICE} Älice%20100%25`);
    await renaming;
    assert.equal(session.friendlyName, "Älice 100%");
    assert.deepEqual(await changed, { friendlyName: "Älice 100%", previous: "Alice" });
    await assert.rejects(session.setFriendlyName("   "), MsnArgumentError);
    await assert.rejects(session.setFriendlyName("x".repeat(400)), MsnArgumentError);
  });

  test("addContact sends ADD FL then ADD AL (msnp.md §4.3) and reports the ILN", async () => {
    const { session, peer } = await loggedIn();
    const events = record(session, "contactAdded", "presence");
    const adding = session.addContact("dave@example.com");
    await peer.expect("ADD 8 FL dave@example.com dave@example.com");
    peer.sendLines("ADD 8 FL 2 dave@example.com dave@example.com", "ILN 8 AWY dave@example.com Dave");
    await peer.expect("ADD 9 AL dave@example.com dave@example.com");
    peer.sendLines("ADD 9 AL 3 dave@example.com dave@example.com");
    await adding;
    const dave = session.contacts.get("dave@example.com");
    assert.deepEqual(dave?.lists, { forward: true, allow: true, block: false, reverse: false });
    assert.equal(dave?.status, "AWY");
    assert.equal(dave?.friendlyName, "Dave");
    assert.deepEqual(
      events.map(([name, p]) => (name === "contactAdded" ? `added ${(p as { list: string }).list}` : name)),
      ["added FL", "presence", "added AL"],
    );
  });

  test("addContact validates the address before sending anything", async () => {
    const { session, peer } = await loggedIn();
    for (const bad of ["no-at-sign", "a b@example.com", "x@y\r\nOUT", "", "a;{guid}@x.y"]) {
      await assert.rejects(session.addContact(bad), MsnArgumentError, bad);
    }
    assert.ok(await peer.silentFor(30));
  });

  test("a numeric error rejects only the request with that TrID", async () => {
    const { session, peer } = await loggedIn();
    const adding = session.addContact("nobody@example.com");
    await peer.expect("ADD 8 FL nobody@example.com nobody@example.com");
    peer.sendLines("205 8");
    await assert.rejects(
      adding,
      (error: unknown) => error instanceof MsnServerError && error.code === 205 && error.command === "ADD",
    );
    assert.equal(session.isConnected, true);
  });

  test("replies are matched by TrID, not by order", async () => {
    const { session, peer } = await loggedIn();
    const status = session.setStatus("AWY");
    const rename = session.setFriendlyName("A");
    await peer.expect("CHG 8 AWY");
    await peer.expect(`REA 9 ${ALICE} A`);
    peer.sendLines(`REA 9 2 ${ALICE} A`, "NLN NLN bob@example.com Bob%20B", "CHG 8 AWY");
    await Promise.all([status, rename]);
    assert.equal(session.status, "AWY");
    assert.equal(session.friendlyName, "A");
  });

  test("removeContact, block and unblock use the server's spelling", async () => {
    const { session, peer } = await loggedIn();
    const removed = nextEvent(session, "contactRemoved");
    const removing = session.removeContact("Carol@Example.com");
    await peer.expect("REM 8 FL carol@example.com");
    peer.sendLines("REM 8 FL 2 carol@example.com");
    await removing;
    assert.deepEqual((await removed).list, "FL");
    assert.equal(session.contacts.get("carol@example.com")?.lists.forward, false);

    const blocking = session.block("bob@example.com");
    await peer.expect("REM 9 AL bob@example.com");
    peer.sendLines("REM 9 AL 3 bob@example.com");
    await peer.expect("ADD 10 BL bob@example.com bob@example.com");
    peer.sendLines("ADD 10 BL 4 bob@example.com bob@example.com");
    await blocking;
    assert.deepEqual(session.contacts.get("bob@example.com")?.lists, {
      forward: true,
      allow: false,
      block: true,
      reverse: true,
    });
    const unblocking = session.unblock("bob@example.com");
    await peer.expect("REM 11 BL bob@example.com");
    peer.sendLines("REM 11 BL 5 bob@example.com");
    await peer.expect("ADD 12 AL bob@example.com bob@example.com");
    peer.sendLines("ADD 12 AL 6 bob@example.com bob@example.com");
    await unblocking;
    assert.equal(session.contacts.get("bob@example.com")?.lists.allow, true);
  });

  test("server-initiated list changes: ADD 0 RL (both layouts) and REM 0 RL", async () => {
    const { session, peer } = await loggedIn();
    const events = record(session, "reverseListAdd", "reverseListRemove", "contactAdded");
    peer.sendLines(
      "ADD 0 RL 2 erin@example.com Erin%20E", // documented layout
      "ADD 0 3 RL frank@example.com Frank", // Escargot's MSNP<10 layout
      "ADD 0 RL 4 erin@example.com Erin%20E", // repeat: no event
      "REM 0 RL 5 bob@example.com",
      "ADD 0 FL 6 gina@example.com Gina",
    );
    await tick(50);
    assert.deepEqual(events, [
      ["reverseListAdd", { email: "erin@example.com", friendlyName: "Erin E" }],
      ["reverseListAdd", { email: "frank@example.com", friendlyName: "Frank" }],
      ["reverseListRemove", { email: "bob@example.com" }],
      ["contactAdded", { contact: session.contacts.get("gina@example.com"), list: "FL" }],
    ]);
    assert.equal(session.contacts.get("bob@example.com")?.lists.reverse, false);
    assert.equal(session.contacts.get("erin@example.com")?.lists.reverse, true);
  });

  test("RNG becomes a ring event (msnp.md §7.2)", async () => {
    const { session, peer } = await loggedIn();
    const ring = nextEvent(session, "ring");
    peer.sendLines(
      "RNG 091cb0006d6b88a43660e6af1f0cc72 127.0.0.1:21864 CKI d87b62d59ec86b92c3c4 bob@example.com Bob%20B",
    );
    assert.deepEqual(await ring, {
      sessionId: "091cb0006d6b88a43660e6af1f0cc72",
      address: "127.0.0.1:21864",
      host: "127.0.0.1",
      port: 21864,
      cookie: "d87b62d59ec86b92c3c4",
      inviterEmail: "bob@example.com",
      inviterName: "Bob B",
    });
  });

  test("malformed RNG is ignored, not fatal", async () => {
    const { session, peer } = await loggedIn();
    const rings = record(session, "ring");
    peer.sendLines("RNG 1 nonsense CKI x a@b.c A", "RNG 1 127.0.0.1:99999 CKI x a@b.c A", "RNG");
    await tick(30);
    assert.equal(rings.length, 0);
    assert.equal(session.isConnected, true);
  });

  test("CHL is answered with QRY (MSNP7 product id, md5, 32-byte payload, no CRLF)", async () => {
    const { peer } = await loggedIn();
    peer.sendLines("CHL 0 15570131571988941333");
    const { line, payload } = await peer.readPayloadCommand();
    assert.equal(line, "QRY 8 msmsgs@msnmsgr.com 32");
    assert.equal(
      payload.toString(),
      createHash("md5").update("15570131571988941333Q1P7W2E4J9R8U3S5").digest("hex"),
    );
    peer.sendLines("QRY 8");
  });

  test("system messages arrive as serverMessage", async () => {
    const { session, peer } = await loggedIn();
    const message = nextEvent(session, "serverMessage");
    const body =
      "MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n\r\nType: 1\r\nArg1: 5\r\n";
    peer.send(`MSG Hotmail Hotmail ${Buffer.byteLength(body)}\r\n${body}`);
    const { content } = await message;
    assert.equal(content.kind, "system");
    assert.deepEqual(content.kind === "system" && [content.type, content.arg1], [1, "5"]);
  });

  for (const [line, reason] of [
    ["OUT OTH", "other-login"],
    ["OUT SSD", "server-shutdown"],
    ["OUT", "server-out"],
  ] as const) {
    test(`${line} closes with ${reason}`, async () => {
      const { session, peer } = await loggedIn();
      const closed = nextEvent(session, "closed");
      peer.sendLines(line);
      peer.end();
      assert.deepEqual(await closed, { reason });
      assert.equal(session.status, "FLN");
      await assert.rejects(session.setStatus("NLN"), MsnConnectionClosedError);
    });
  }

  test("the server closing the socket without OUT: socket-closed", async () => {
    const { session, peer } = await loggedIn();
    const closed = nextEvent(session, "closed");
    peer.end();
    assert.equal((await closed).reason, "socket-closed");
  });

  test("close() sends OUT, ends the socket, emits local once", async () => {
    const { session, peer } = await loggedIn();
    const events = record(session, "closed");
    await session.close();
    await peer.expect("OUT");
    await peer.closed;
    await session.close();
    assert.deepEqual(events, [["closed", { reason: "local" }]]);
  });

  test("keep-alive: PNG every interval, QNG resets, silence closes with keepalive-timeout", async () => {
    const { session, peer } = await loggedIn({ pingIntervalMs: 40, maxMissedPongs: 2 });
    await peer.expect("PNG", 500);
    peer.sendLines("QNG");
    await peer.expect("PNG", 500);
    peer.sendLines("QNG 60");
    await peer.expect("PNG", 500);
    assert.equal(session.isConnected, true);
    const closed = nextEvent(session, "closed", 1000);
    const started = Date.now();
    // No more QNG: one more PNG, then the session gives up (within (maxMissedPongs+1) intervals).
    await peer.expect("PNG", 500);
    const event = await closed;
    assert.equal(event.reason, "keepalive-timeout");
    assert.ok(event.error instanceof MsnTimeoutError);
    assert.ok(Date.now() - started < 400);
    await peer.closed;
  });

  test("keep-alive: QNG <n> below the interval brings the next PNG forward; above it changes nothing", async () => {
    const { session, peer } = await loggedIn({ pingIntervalMs: 2000 });
    await peer.expect("PNG", 3000);
    let since = Date.now();
    peer.sendLines("QNG 1");
    await peer.expect("PNG", 3000);
    const asked = Date.now() - since;
    assert.ok(asked >= 800 && asked < 1700, `next PNG after ${asked} ms, asked for 1000`);
    since = Date.now();
    peer.sendLines("QNG 60");
    await peer.expect("PNG", 3000);
    const capped = Date.now() - since;
    assert.ok(capped >= 1800, `next PNG after ${capped} ms: the configured 2000 stays the upper bound`);
    peer.sendLines("QNG 0", "QNG -5", "QNG x");
    assert.equal(session.isConnected, true);
    await session.close();
  });

  test("status validation", async () => {
    const { session } = await loggedIn();
    await assert.rejects(session.setStatus("FLN" as never), MsnArgumentError);
    await assert.rejects(session.setStatus("XYZ" as never), MsnArgumentError);
  });
});

describe("NotificationSession bad input", () => {
  test("a flood of unknown addresses stops at MAX_CONTACTS; known contacts still update", async () => {
    // Regression: NLN/ADD 0 RL for ever new addresses grew `contacts` without bound.
    const warnings: string[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (message: string) => void warnings.push(message),
      error: () => undefined,
    };
    const { session, peer } = await loggedIn({ logger });
    const known = session.contacts.size;
    const flood = MAX_CONTACTS + 500;
    let lines = "";
    for (let i = 0; i < flood; i++) {
      lines += i % 2 === 0 ? `NLN NLN s${i}@flood.test S\r\n` : `ADD 0 RL 1 s${i}@flood.test S\r\n`;
    }
    peer.send(lines);
    for (let i = 0; i < 50 && session.contacts.size < MAX_CONTACTS; i++) await tick(20);
    await tick(50);
    assert.equal(session.contacts.size, MAX_CONTACTS);
    assert.ok(known > 0 && session.getContact("bob@example.com"), "contacts from the sync are kept");
    assert.equal(warnings.filter((w) => w.startsWith("contact limit reached")).length, 1);
    const presence = nextEvent(session, "presence");
    peer.sendLines("NLN BSY bob@example.com Bob%20B");
    assert.equal((await presence).contact.status, "BSY");
    assert.equal(session.isConnected, true);
  });

  test("unknown commands and stray errors are ignored; the session stays usable", async () => {
    const { session, peer } = await loggedIn();
    peer.sendLines("FOO 1 2 3", "ZZZ", "999 0", "217 4242", "SBS 0 null", "UBX bob@example.com 0");
    const changing = session.setStatus("BSY");
    await peer.expect("CHG 8 BSY");
    peer.sendLines("CHG 8 BSY");
    await changing;
    assert.equal(session.status, "BSY");
  });

  for (const [label, bytes] of [
    ["a malformed line", Buffer.from("this is not msnp\r\n")],
    ["invalid UTF-8 in a line", Buffer.from([0x4e, 0x4c, 0x4e, 0x20, 0xc3, 0x28, 0x0d, 0x0a])],
    ["a negative payload length", Buffer.from("MSG Hotmail Hotmail -1\r\n")],
    ["a huge payload length", Buffer.from("MSG Hotmail Hotmail 99999999999\r\n")],
  ] as const) {
    test(`${label} closes the session with protocol-error`, async () => {
      const { session, peer } = await loggedIn();
      const closed = nextEvent(session, "closed");
      peer.send(bytes);
      const event = await closed;
      assert.equal(event.reason, "protocol-error");
      assert.equal(event.error?.name, "FramingError");
      await peer.closed;
    });
  }

  test("an endless line is cut off at the line limit, not buffered forever", async () => {
    const { session, peer } = await loggedIn();
    const closed = nextEvent(session, "closed");
    const chunk = Buffer.alloc(4096, 0x41);
    for (let i = 0; i < 8 && !peer.isClosed; i += 1) peer.send(chunk);
    assert.equal((await closed).reason, "protocol-error");
  });

  test("a payload larger than maxPayloadBytes is refused before it is read", async () => {
    const { session, peer } = await loggedIn({ maxPayloadBytes: 200 });
    const closed = nextEvent(session, "closed");
    peer.send("MSG Hotmail Hotmail 201\r\n");
    assert.equal((await closed).error?.message.includes("exceeds the limit"), true);
  });

  test("a payload split across many reads is reassembled", async () => {
    const { session, peer } = await loggedIn();
    const message = nextEvent(session, "serverMessage");
    const wire = Buffer.from(
      `MSG Hotmail Hotmail ${Buffer.byteLength(PROFILE_PAYLOAD)}\r\n${PROFILE_PAYLOAD}`,
    );
    for (const byte of wire) {
      peer.send(Buffer.from([byte]));
    }
    assert.equal((await message).content.kind, "profile");
  });

  test("a throwing listener does not break the session", async () => {
    const { session, peer } = await loggedIn();
    session.on("presence", () => {
      throw new Error("listener bug");
    });
    const second = nextEvent(session, "presence");
    peer.sendLines("NLN AWY bob@example.com Bob%20B");
    await second;
    const changing = session.setStatus("BRB");
    await peer.expect("CHG 8 BRB");
    peer.sendLines("CHG 8 BRB");
    await changing;
  });
});
