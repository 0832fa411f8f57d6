import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { MsnTestServer } from "../../msn-server/index.js";
import { goOnline, login, openChat, RawClient } from "./raw-client.js";

const ALICE = { email: "alice@example.com", password: "a", name: "Alice A" };
const BOB = { email: "bob@example.com", password: "b", name: "Bob" };
const CAROL = { email: "carol@example.com", password: "c", name: "Carol" };
const DAVE = { email: "dave@example.com", password: "d", name: "Dave" };

const TEXT_HEADER = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n";

describe("MSN test server: switchboard", () => {
  let server: MsnTestServer;
  const open: RawClient[] = [];
  const track = (c: RawClient): RawClient => {
    open.push(c);
    return c;
  };
  const online = async (who: { email: string; password: string }, status = "NLN"): Promise<RawClient> => {
    const c = track(await login(server.nsPort, who.email, who.password));
    await goOnline(c, status);
    return c;
  };
  const chat = async (inviter: RawClient, inviterEmail: string, invitee: RawClient, inviteeEmail: string) => {
    const ends = await openChat(server, inviter, inviterEmail, { ns: invitee, email: inviteeEmail });
    track(ends.inviterSb);
    track(ends.inviteeSb);
    return ends;
  };

  beforeEach(async () => {
    const all = [ALICE, BOB, CAROL, DAVE];
    server = new MsnTestServer({
      accounts: all.map((a) => ({ ...a, contacts: all.filter((o) => o !== a).map((o) => o.email) })),
    });
    await server.start();
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await server.stop();
  });

  test("XFR SB → USR → CAL → RNG → ANS/IRO → JOI, in Escargot's MSNP7 formats", async () => {
    const a = await online(ALICE);
    const b = await online(BOB);
    a.send("XFR 7 SB");
    const xfr = await a.next("XFR");
    assert.match(xfr.line, new RegExp(`^XFR 7 SB 127\\.0\\.0\\.1:${server.sbPort} CKI [0-9a-f]+$`));

    const asb = track(await RawClient.connect(server.sbPort));
    asb.send(`USR 1 alice@example.com ${xfr.tokens[5]}`);
    assert.equal((await asb.next()).line, "USR 1 OK alice@example.com Alice%20A");
    asb.send("CAL 2 bob@example.com");
    const cal = await asb.next();
    assert.match(cal.line, /^CAL 2 RINGING \S+$/);
    const sessionId = cal.tokens[3]!;

    const rng = await b.next("RNG");
    assert.match(
      rng.line,
      new RegExp(
        `^RNG ${sessionId} 127\\.0\\.0\\.1:${server.sbPort} CKI \\S+ alice@example\\.com Alice%20A$`,
      ),
    );
    const bsb = track(await RawClient.connect(server.sbPort));
    bsb.send(`ANS 1 bob@example.com ${rng.tokens[4]} ${sessionId}`);
    assert.equal((await bsb.next()).line, "IRO 1 1 1 alice@example.com Alice%20A");
    assert.equal((await bsb.next()).line, "ANS 1 OK");
    assert.equal((await asb.next()).line, "JOI bob@example.com Bob");
    assert.deepEqual(server.switchboards(), [{ id: sessionId, participants: [ALICE.email, BOB.email] }]);
  });

  test("a third participant gets IRO for both and both get JOI", async () => {
    const a = await online(ALICE);
    const b = await online(BOB);
    const c = await online(CAROL);
    const { inviterSb, inviteeSb, sessionId } = await chat(a, ALICE.email, b, BOB.email);
    inviteeSb.send("CAL 2 carol@example.com");
    assert.equal((await inviteeSb.next()).line, `CAL 2 RINGING ${sessionId}`);
    const rng = await c.next("RNG");
    assert.equal(rng.tokens[1], sessionId);
    assert.equal(rng.tokens.slice(5).join(" "), "bob@example.com Bob", "the inviter is bob");
    const csb = track(await RawClient.connect(server.sbPort));
    csb.send(`ANS 9 carol@example.com ${rng.tokens[4]} ${sessionId}`);
    assert.deepEqual(
      [(await csb.next()).line, (await csb.next()).line, (await csb.next()).line],
      ["IRO 9 1 2 alice@example.com Alice%20A", "IRO 9 2 2 bob@example.com Bob", "ANS 9 OK"],
    );
    assert.equal((await inviterSb.next()).line, "JOI carol@example.com Carol");
    assert.equal((await inviteeSb.next()).line, "JOI carol@example.com Carol");
  });

  test("CAL errors: 217 offline/hidden/blocking/unknown, 208 malformed, 215 self or present", async () => {
    const a = await online(ALICE);
    const b = await online(BOB);
    await online(CAROL, "HDN");
    const d = await online(DAVE);
    d.send("REM 1 AL alice@example.com");
    await d.next("REM");
    d.send("ADD 2 BL alice@example.com alice@example.com");
    await d.next("ADD");
    const { inviterSb } = await chat(a, ALICE.email, b, BOB.email);
    const calls: [string, string][] = [
      ["carol@example.com", "217"],
      ["dave@example.com", "217"],
      ["nobody@example.com", "217"],
      ["not-an-address", "208"],
      ["alice@example.com", "215"],
      ["bob@example.com", "215"],
    ];
    for (const [i, [who]] of calls.entries()) inviterSb.send(`CAL ${10 + i} ${who}`);
    for (const [i, [who, code]] of calls.entries()) {
      assert.equal((await inviterSb.next()).line, `${code} ${10 + i}`, `CAL ${who}`);
    }
    server.dropConnections(CAROL.email);
  });

  test("MSG is relayed byte-for-byte with the sender's name; ack modes follow Escargot", async () => {
    const a = await online(ALICE);
    const b = await online(BOB);
    const { inviterSb: asb, inviteeSb: bsb } = await chat(a, ALICE.email, b, BOB.email);
    const payload = Buffer.from(`${TEXT_HEADER}Hello Bob — ünïcødé ✓ 日本語 🎉`, "utf8");
    assert.notEqual(payload.length, payload.toString().length, "multibyte: bytes ≠ characters");

    asb.sendPayload("MSG 3 A", payload);
    assert.equal((await asb.next()).line, "ACK 3");
    const got = await bsb.next("MSG");
    assert.equal(got.line, `MSG alice@example.com Alice%20A ${payload.length}`);
    assert.ok(got.payload!.equals(payload), "identical bytes");

    asb.sendPayload(
      "MSG 4 U",
      `MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: alice@example.com\r\n\r\n\r\n`,
    );
    asb.sendPayload("MSG 5 N", `${TEXT_HEADER}n`);
    asb.sendPayload(
      "MSG 6 D",
      "MIME-Version: 1.0\r\nContent-Type: application/x-unknown-thing\r\n\r\n\x00\x01",
    );
    assert.equal((await asb.next()).line, "ACK 6", "U and N get nothing, D gets ACK");
    const relayed = [
      (await bsb.next()).payload!.toString(),
      (await bsb.next()).payload!.toString(),
      (await bsb.next()).payload!.toString(),
    ];
    assert.match(relayed[0]!, /TypingUser: alice@example\.com/);
    assert.match(relayed[1]!, /\r\n\r\nn$/);
    assert.match(relayed[2]!, /x-unknown-thing/);
    assert.deepEqual(await asb.drain(30), [], "the sender gets no echo of its own messages");

    // Alone in the session, A still gets ACK (Escargot never NAKs).
    bsb.send("OUT");
    assert.equal((await asb.next()).line, "BYE bob@example.com");
    asb.sendPayload("MSG 7 A", `${TEXT_HEADER}anyone?`);
    assert.equal((await asb.next()).line, "ACK 7");
  });

  test("1664 payload bytes pass, 1665 drop the sender's SB connection and the others see BYE", async () => {
    const a = await online(ALICE);
    const b = await online(BOB);
    const { inviterSb: asb, inviteeSb: bsb } = await chat(a, ALICE.email, b, BOB.email);
    const fill = (size: number) =>
      Buffer.concat([Buffer.from(TEXT_HEADER), Buffer.alloc(size - TEXT_HEADER.length, "x")]);
    const exact = fill(1664);
    assert.equal(exact.length, 1664);
    asb.sendPayload("MSG 2 A", exact);
    assert.equal((await asb.next()).line, "ACK 2");
    assert.equal((await bsb.next("MSG")).payload!.length, 1664);

    asb.sendPayload("MSG 3 A", fill(1665));
    assert.ok(await asb.closesWithin(), "the sender's SB connection is dropped");
    assert.deepEqual(asb.pending(), [], "no ACK for the oversized message");
    assert.equal((await bsb.next()).line, "BYE alice@example.com");
    assert.deepEqual(await bsb.drain(30), [], "the oversized message was not relayed");
  });

  test("bad ack letter and P2P without D close; non-UTF-8 text/plain vanishes silently", async () => {
    const a = await online(ALICE);
    const b = await online(BOB);
    const first = await chat(a, ALICE.email, b, BOB.email);
    const latin1 = Buffer.concat([Buffer.from(TEXT_HEADER), Buffer.from([0x48, 0xe9, 0x6c, 0x6c, 0x6f])]);
    first.inviterSb.sendPayload("MSG 2 A", latin1);
    first.inviterSb.sendPayload("MSG 3 A", `${TEXT_HEADER}after`);
    assert.equal((await first.inviterSb.next()).line, "ACK 3", "no ACK (and no NAK) for message 2");
    assert.match((await first.inviteeSb.next("MSG")).payload!.toString(), /after$/, "only message 3 arrived");

    first.inviterSb.sendPayload("MSG 4 X", `${TEXT_HEADER}x`);
    assert.ok(await first.inviterSb.closesWithin(), "unknown ack letter closes");

    const second = await chat(a, ALICE.email, b, BOB.email);
    second.inviterSb.sendPayload(
      "MSG 2 N",
      "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: bob@example.com\r\n\r\n\x00",
    );
    assert.ok(await second.inviterSb.closesWithin(), "P2P without D closes");
  });

  test("cookies: single use, wrong/expired → 911 and close, wrong session id → silent close", async () => {
    const a = await online(ALICE);
    const b = await online(BOB);
    a.send("XFR 2 SB");
    const cookie = (await a.next("XFR")).tokens[5]!;
    const ok = track(await RawClient.connect(server.sbPort));
    ok.send(`USR 1 alice@example.com ${cookie}`);
    await ok.next("USR");
    const reuse = track(await RawClient.connect(server.sbPort));
    reuse.send(`USR 1 alice@example.com ${cookie}`);
    assert.equal((await reuse.next()).line, "911 1");
    assert.ok(await reuse.closesWithin());

    a.send("XFR 3 SB");
    const cookie2 = (await a.next("XFR")).tokens[5]!;
    const impostor = track(await RawClient.connect(server.sbPort));
    impostor.send(`USR 1 bob@example.com ${cookie2}`);
    assert.equal((await impostor.next()).line, "911 1", "the cookie belongs to alice");

    ok.send("CAL 2 bob@example.com");
    const sessionId = (await ok.next("CAL")).tokens[3]!;
    const rng = await b.next("RNG");
    const wrongSession = track(await RawClient.connect(server.sbPort));
    wrongSession.send(`ANS 1 bob@example.com ${rng.tokens[4]} 12345`);
    assert.ok(await wrongSession.closesWithin(), "closed");
    assert.deepEqual(wrongSession.history, [], "without a reply");

    server.setCookieTtl(20);
    ok.send("CAL 3 bob@example.com");
    await ok.next("CAL");
    const late = await b.next("RNG");
    await new Promise((resolve) => setTimeout(resolve, 40));
    const tooLate = track(await RawClient.connect(server.sbPort));
    tooLate.send(`ANS 1 bob@example.com ${late.tokens[4]} ${sessionId}`);
    assert.equal((await tooLate.next()).line, "911 1");
    assert.ok(await tooLate.closesWithin());
  });

  test("an SB connection that does not authenticate in time is closed", async () => {
    server.setSbAuthTimeout(50);
    const idle = track(await RawClient.connect(server.sbPort));
    idle.send("CAL 1 bob@example.com");
    assert.ok(await idle.closesWithin(1000));
    assert.deepEqual(idle.history, [], "no reply to CAL before authentication");
  });

  test("the session lives while anyone is in it; re-CAL rings with the same session id", async () => {
    const a = await online(ALICE);
    const b = await online(BOB);
    const { inviterSb, inviteeSb, sessionId } = await chat(a, ALICE.email, b, BOB.email);
    inviteeSb.close();
    assert.equal((await inviterSb.next()).line, "BYE bob@example.com");
    inviterSb.send("CAL 5 bob@example.com");
    assert.equal((await inviterSb.next()).line, `CAL 5 RINGING ${sessionId}`);
    assert.equal((await b.next("RNG")).tokens[1], sessionId);
    inviterSb.send("OUT");
    await inviterSb.closed;
    await server.waitUntil(() => server.switchboards().length === 0, 1000, "session destroyed");
  });

  test("idle timeout switch ends the session with BYE email 1 to everyone", async () => {
    const a = await online(ALICE);
    const b = await online(BOB);
    server.setSbIdleTimeout(80);
    const { inviterSb, inviteeSb } = await chat(a, ALICE.email, b, BOB.email);
    assert.equal((await inviterSb.next("BYE", 2000)).line, "BYE bob@example.com 1");
    assert.equal((await inviteeSb.next("BYE", 2000)).line, "BYE alice@example.com 1");
    assert.ok(await inviterSb.closesWithin());
    assert.ok(await inviteeSb.closesWithin());
    assert.deepEqual(server.switchboards(), []);
  });
});
