/**
 * MSNP8–12 notification sessions over a scripted NS plus a loopback Passport service: byte-exact
 * client lines, both counted list formats, ADC/REM by GUID, PRP MFN, UBX, and the CHL algorithm.
 */
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ScriptServer, type ScriptPeer } from "./script-server.js";
import { ALICE, closeSessions, newAliceSession, nextEvent, PROFILE_PAYLOAD } from "./ns-script.js";
import { PassportTestServer } from "./passport-server.js";
import type { NotificationEvents, NotificationSession } from "../../../src/msnp/notification.js";
import { answerChallengeMsnp11, MSNP11_CHALLENGE_PRODUCT } from "../../../src/msnp/challenge.js";
import { MsnArgumentError } from "../../../src/msnp/errors.js";
import { PassportAuthError } from "../../../src/msnp/passport.js";
import { isAuthFailure } from "../../../src/bridge/errors.js";

const TICKET = "t=TICKET0123456789abcd&p=";
const HISTORIC_CHALLENGE =
  "lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct=1062764229,kpp=1,kv=5";
const ESCARGOT_CHALLENGE = "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1";
const EPOCH = "2000-01-01T00:00:00.0-00:00";
const ALL_VERSIONS = ["MSNP12", "MSNP11", "MSNP10", "MSNP9", "MSNP8", "MSNP7"];

let ns: ScriptServer;
let passport: PassportTestServer;
let sessions: NotificationSession[] = [];

beforeEach(async () => {
  ns = await ScriptServer.start();
  passport = await PassportTestServer.start();
  passport.ticket = TICKET;
  sessions = [];
});

afterEach(async () => {
  await closeSessions(sessions);
  await ns.close();
  await passport.close();
});

function twnSession(versions: string[]): NotificationSession {
  const session = newAliceSession(ns.port, { versions, passportUrl: passport.nexusUrl });
  sessions.push(session);
  return session;
}

const flushHeldEvents = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** VER → CVR → USR TWN I → (Passport) → USR TWN S; no INF on MSNP8+. */
async function playTwnLogin(
  peer: ScriptPeer,
  offered: string,
  chosen: string,
  challenge: string,
  ok: string,
): Promise<void> {
  await peer.expect(`VER 1 ${offered} CVR0`);
  peer.sendLines(`VER 1 ${chosen}`);
  await peer.expect(`CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.2.0205 MSMSGS ${ALICE}`);
  peer.sendLines("CVR 2 6.2.0205 6.2.0205 6.2.0205 https://example.invalid https://example.invalid");
  await peer.expect(`USR 3 TWN I ${ALICE}`);
  peer.sendLines(`USR 3 TWN S ${challenge}`);
  await peer.expect(`USR 4 TWN S ${TICKET}`);
  peer.sendLines(ok);
  peer.send(`MSG Hotmail Hotmail ${Buffer.byteLength(PROFILE_PAYLOAD)}\r\n${PROFILE_PAYLOAD}`);
}

describe("MSNP8 (TWN, counted SYN with list bits)", () => {
  test("byte-exact login, list sync, CHG with client-id; ILN with client-id", async () => {
    const session = twnSession(["MSNP8", "MSNP7"]);
    const connecting = session.connect();
    const peer = await ns.nextPeer();
    await playTwnLogin(peer, "MSNP8 MSNP7", "MSNP8", HISTORIC_CHALLENGE, `USR 4 OK ${ALICE} Alice%20A 1 0`);
    await peer.expect("SYN 5 0");
    peer.sendLines(
      "SYN 5 12 2 2",
      "GTC A",
      "BLP AL",
      "PRP PHH 555-0100",
      "LSG 0 Other%20Contacts 0",
      "LSG 1 Friends 0",
      "LST bob@example.com Bob%20B 11 0",
      "BPR PHH 555-1234",
      "LST carol@example.com Carol 3 1,0",
    );
    await peer.expect("CHG 6 NLN 0");
    peer.sendLines("CHG 6 NLN 0", "ILN 6 NLN bob@example.com Bob%20B 268435492");
    await connecting;
    await flushHeldEvents();

    assert.equal(session.protocolVersion, "MSNP8");
    assert.equal(session.friendlyName, "Alice A");
    assert.equal(session.status, "NLN");
    assert.equal(session.privacyMode, "AL");
    assert.deepEqual(
      [...session.groups.values()].map((g) => [g.id, g.name]),
      [
        ["0", "Other Contacts"],
        ["1", "Friends"],
      ],
    );
    assert.deepEqual(session.getContact("bob@example.com"), {
      email: "bob@example.com",
      friendlyName: "Bob B",
      lists: { forward: true, allow: true, block: false, reverse: true },
      groups: ["0"],
      status: "NLN",
    });
    assert.deepEqual(session.getContact("carol@example.com")?.groups, ["1", "0"]);
    assert.deepEqual(session.getContact("carol@example.com")?.lists, {
      forward: true,
      allow: true,
      block: false,
      reverse: false,
    });

    // MSNP8–9 still change lists with ADD/REM by address and rename with REA.
    const adding = session.addContact("dave@example.com");
    await peer.expect("ADD 7 FL dave@example.com dave@example.com");
    peer.sendLines("ADD 7 FL 13 dave@example.com Dave");
    await peer.expect("ADD 8 AL dave@example.com dave@example.com");
    peer.sendLines("ADD 8 AL 14 dave@example.com Dave");
    await adding;
    const removing = session.removeContact("bob@example.com");
    await peer.expect("REM 9 FL bob@example.com");
    peer.sendLines("REM 9 FL 15 bob@example.com");
    await removing;
    assert.equal(session.getContact("bob@example.com")?.lists.forward, false);
    await assert.rejects(session.setPersonalMessage("hi"), /MSNP8 has no personal messages/);
    const renaming = session.setFriendlyName("Alice 2");
    await peer.expect(`REA 10 ${ALICE} Alice%202`);
    peer.sendLines(`REA 10 16 ${ALICE} Alice%202`);
    await renaming;
    assert.equal(session.friendlyName, "Alice 2");
  });

  test("neither the password nor the ticket is ever logged", async () => {
    const logged: string[] = [];
    const capture = (message: string, meta?: Record<string, unknown>): void => {
      logged.push(message + JSON.stringify(meta ?? {}));
    };
    const session = newAliceSession(ns.port, {
      versions: ["MSNP8"],
      passportUrl: passport.nexusUrl,
      logger: { debug: capture, info: capture, warn: capture, error: capture },
    });
    sessions.push(session);
    const connecting = session.connect();
    const peer = await ns.nextPeer();
    await playTwnLogin(peer, "MSNP8", "MSNP8", HISTORIC_CHALLENGE, `USR 4 OK ${ALICE} Alice 1 0`);
    await peer.expect("SYN 5 0");
    peer.sendLines("SYN 5 1 0 0");
    await peer.expect("CHG 6 NLN 0");
    peer.sendLines("CHG 6 NLN 0");
    await connecting;
    assert.ok(
      logged.some((line) => line.includes("USR")),
      "the login was logged at all",
    );
    const all = logged.join("\n");
    assert.ok(!all.includes("alicepw"), "password logged");
    assert.ok(!all.includes("TICKET0123456789abcd"), "ticket logged");
  });

  test("a rejected Passport login fails connect() with the bridge's auth failure (911)", async () => {
    passport.expectedAuthorization = "never matches";
    const session = twnSession(["MSNP8"]);
    const closed = nextEvent(session, "closed");
    const connecting = session.connect();
    const peer = await ns.nextPeer();
    await peer.expect("VER 1 MSNP8 CVR0");
    peer.sendLines("VER 1 MSNP8");
    await peer.expect(`CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.2.0205 MSMSGS ${ALICE}`);
    peer.sendLines("CVR 2 6.2.0205 6.2.0205 6.2.0205 x x");
    await peer.expect(`USR 3 TWN I ${ALICE}`);
    peer.sendLines(`USR 3 TWN S ${HISTORIC_CHALLENGE}`);
    const error = await connecting.then(
      () => assert.fail("expected a rejection"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof PassportAuthError);
    assert.ok(isAuthFailure(error));
    assert.equal((await closed).reason, "login-failed");
    await peer.closed;
    assert.equal(peer.pending.length, 0, "no USR TWN S was sent");
  });

  test("plain-http Passport URLs off loopback are refused when the session is created", () => {
    assert.throws(
      () =>
        newAliceSession(ns.port, {
          versions: ["MSNP8"],
          passportUrl: "http://nexus.example.net/rdr/pprdr.asp",
        }),
      MsnArgumentError,
    );
  });
});

describe("MSNP12 (TWN, N=/F=/C= list, ADC, PRP, UBX)", () => {
  async function loggedIn12(): Promise<{ session: NotificationSession; peer: ScriptPeer }> {
    const session = twnSession(ALL_VERSIONS);
    const connecting = session.connect();
    const peer = await ns.nextPeer();
    await playTwnLogin(peer, ALL_VERSIONS.join(" "), "MSNP12", ESCARGOT_CHALLENGE, `USR 4 OK ${ALICE} 1 0`);
    peer.sendLines("SBS 0 null");
    await peer.expect(`SYN 5 ${EPOCH} ${EPOCH}`);
    peer.sendLines(
      "SYN 5 2024-01-01T00:00:00.0-00:00 2024-01-01T00:00:00.0-00:00 4 1",
      "GTC A",
      "BLP BL",
      "PRP MFN Alice%20A",
      "LSG Friends 6d4bd9e5-0000-0000-0000-000000000001",
      "LST N=bob@example.com F=Bob%20B C=b0b00000-0000-0000-0000-00000000000b 11 6d4bd9e5-0000-0000-0000-000000000001",
      "LST N=carol@example.com F=Carol C=ca401000-0000-0000-0000-00000000000c 19 ",
      "LST N=dave@example.com 2",
      "LST N=erin@example.com F=Erin C=e4140000-0000-0000-0000-00000000000e 5 ",
    );
    await peer.expect("CHG 6 NLN 0");
    peer.sendLines("CHG 6 NLN 0", "ILN 6 NLN bob@example.com Bob%20B 1342177280 %3Cmsnobj%2F%3E", "QNG 60");
    await connecting;
    await flushHeldEvents();
    return { session, peer };
  }

  test("byte-exact login; name from PRP MFN; both lists parsed incl. empty trailing fields and PL", async () => {
    const { session } = await loggedIn12();
    assert.equal(session.protocolVersion, "MSNP12");
    assert.equal(session.friendlyName, "Alice A");
    assert.equal(session.privacyMode, "BL");
    assert.deepEqual(
      [...session.groups.values()],
      [{ id: "6d4bd9e5-0000-0000-0000-000000000001", name: "Friends" }],
    );
    assert.deepEqual(session.getContact("bob@example.com"), {
      email: "bob@example.com",
      friendlyName: "Bob B",
      lists: { forward: true, allow: true, block: false, reverse: true },
      groups: ["6d4bd9e5-0000-0000-0000-000000000001"],
      status: "NLN",
      guid: "b0b00000-0000-0000-0000-00000000000b",
    });
    // 19 = FL + AL + PL: pending means "has me on their list".
    assert.deepEqual(session.getContact("carol@example.com")?.lists, {
      forward: true,
      allow: true,
      block: false,
      reverse: true,
    });
    assert.deepEqual(session.getContact("carol@example.com")?.groups, []);
    assert.equal(session.getContact("dave@example.com")?.friendlyName, "dave@example.com");
    assert.equal(session.getContact("dave@example.com")?.guid, undefined);
    assert.deepEqual(session.getContact("erin@example.com")?.lists, {
      forward: true,
      allow: false,
      block: true,
      reverse: false,
    });
  });

  test("ADC to add, REM FL by GUID, PRP MFN to rename, ADC 0 RL from the server", async () => {
    const { session, peer } = await loggedIn12();

    const added = nextEvent(session, "contactAdded");
    const adding = session.addContact("frank@example.com");
    await peer.expect("ADC 7 FL N=frank@example.com F=frank@example.com");
    peer.sendLines("ADC 7 FL N=frank@example.com F=Frank C=f4a4c000-0000-0000-0000-00000000000f");
    await peer.expect("ADC 8 AL N=frank@example.com");
    peer.sendLines("ADC 8 AL N=frank@example.com");
    await adding;
    assert.equal((await added).contact.friendlyName, "Frank");
    assert.equal(session.getContact("frank@example.com")?.guid, "f4a4c000-0000-0000-0000-00000000000f");
    assert.deepEqual(session.getContact("frank@example.com")?.lists, {
      forward: true,
      allow: true,
      block: false,
      reverse: false,
    });

    const removed = nextEvent(session, "contactRemoved");
    const removing = session.removeContact("frank@example.com");
    await peer.expect("REM 9 FL f4a4c000-0000-0000-0000-00000000000f");
    peer.sendLines("REM 9 FL f4a4c000-0000-0000-0000-00000000000f");
    await removing;
    assert.equal((await removed).email, "frank@example.com");
    assert.equal(session.getContact("frank@example.com")?.lists.forward, false);

    // Other lists still go by address.
    const blocking = session.block("bob@example.com");
    await peer.expect("REM 10 AL bob@example.com");
    peer.sendLines("REM 10 AL bob@example.com");
    await peer.expect("ADC 11 BL N=bob@example.com");
    peer.sendLines("ADC 11 BL N=bob@example.com");
    await blocking;
    assert.equal(session.getContact("bob@example.com")?.lists.block, true);

    // No GUID known (dave is on AL only): FL removal cannot be expressed.
    await assert.rejects(session.removeContact("dave@example.com"), MsnArgumentError);

    const renamed = nextEvent(session, "friendlyNameChanged");
    const renaming = session.setFriendlyName("Alice Two");
    await peer.expect("PRP 12 MFN Alice%20Two");
    peer.sendLines("PRP 12 MFN Alice%20Two");
    await renaming;
    assert.deepEqual(await renamed, { friendlyName: "Alice Two", previous: "Alice A" });

    const reverse = nextEvent(session, "reverseListAdd");
    peer.sendLines("ADC 0 RL N=grace@example.com F=Grace%20G");
    assert.deepEqual(await reverse, { email: "grace@example.com", friendlyName: "Grace G" });
  });

  test("UBX personal messages arrive as presence with contact.personalMessage; repeats are silent", async () => {
    const { session, peer } = await loggedIn12();
    const seen: NotificationEvents["presence"][] = [];
    session.on("presence", (event) => seen.push(event));
    const ubx = (email: string, xml: string): void =>
      peer.send(`UBX ${email} ${Buffer.byteLength(xml)}\r\n${xml}`);

    ubx("bob@example.com", "<Data><PSM>Lunch &amp; a café &lt;3</PSM><CurrentMedia></CurrentMedia></Data>");
    ubx("bob@example.com", "<Data><PSM>Lunch &amp; a café &lt;3</PSM><CurrentMedia></CurrentMedia></Data>");
    ubx("stranger@example.com", "<Data><PSM>hi</PSM></Data>");
    ubx("bob@example.com", "<Data><PSM></PSM><CurrentMedia></CurrentMedia></Data>");
    peer.sendLines("NLN AWY bob@example.com Bob%20B 1342177280 %3Cmsnobj%2F%3E");
    await new Promise((resolve) => setTimeout(resolve, 50));

    assert.deepEqual(
      seen.map((e) => [e.contact.status, e.contact.personalMessage, e.previousPersonalMessage]),
      [
        ["NLN", "Lunch & a café <3", undefined],
        ["NLN", "", "Lunch & a café <3"],
        ["AWY", "", ""],
      ],
    );
    assert.equal(session.getContact("stranger@example.com"), undefined);
  });

  test("an empty list: GTC, BLP and PRP MFN after the SYN reply still apply", async () => {
    const session = twnSession(["MSNP10"]);
    const connecting = session.connect();
    const peer = await ns.nextPeer();
    await playTwnLogin(peer, "MSNP10", "MSNP10", ESCARGOT_CHALLENGE, `USR 4 OK ${ALICE} 1 0`);
    await peer.expect(`SYN 5 ${EPOCH} ${EPOCH}`);
    peer.sendLines(`SYN 5 ${EPOCH} ${EPOCH} 0 0`, "GTC A", "BLP BL", "PRP MFN Alice%20Ten");
    await peer.expect("CHG 6 NLN 0");
    peer.sendLines("CHG 6 NLN 0");
    await connecting;
    assert.equal(session.contacts.size, 0);
    assert.equal(session.privacyMode, "BL");
    assert.equal(session.friendlyName, "Alice Ten");
  });

  test("setPersonalMessage sends UUX with the XML-escaped text; older versions refuse", async () => {
    const { session, peer } = await loggedIn12();
    const setting = session.setPersonalMessage("a <b> & ☺");
    const { line, payload } = await peer.readPayloadCommand();
    const xml = "<Data><PSM>a &#60;b&#62; &#38; ☺</PSM><CurrentMedia></CurrentMedia></Data>";
    assert.equal(line, `UUX 7 ${Buffer.byteLength(xml)}`);
    assert.equal(payload.toString(), xml);
    peer.sendLines("UUX 7 0");
    await setting;
    await assert.rejects(session.setPersonalMessage("x".repeat(1001)), MsnArgumentError);
  });

  test("CHL is answered with the MSNP11 algorithm and product id", async () => {
    const { peer } = await loggedIn12();
    peer.sendLines("CHL 0 22210219642164014968");
    const { tokens, payload } = await peer.readPayloadCommand();
    assert.deepEqual(tokens, ["QRY", "7", MSNP11_CHALLENGE_PRODUCT.productId, "32"]);
    assert.equal(payload.toString(), answerChallengeMsnp11("22210219642164014968", MSNP11_CHALLENGE_PRODUCT));
  });
});
