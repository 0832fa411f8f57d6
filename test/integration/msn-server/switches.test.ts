import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { afterEach, beforeEach, describe, test } from "node:test";

import { MsnTestServer } from "../../msn-server/index.js";
import { about, goOnline, login, md5hex, openChat, RawClient } from "./raw-client.js";

const ALICE = { email: "alice@example.com", password: "a", name: "Alice" };
const BOB = { email: "bob@example.com", password: "b", name: "Bob" };

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

describe("MSN test server: behaviour switches", () => {
  let server: MsnTestServer;
  const open: RawClient[] = [];
  const as = async (who: { email: string; password: string }, port = server.nsPort): Promise<RawClient> => {
    const c = await login(port, who.email, who.password);
    open.push(c);
    return c;
  };

  beforeEach(async () => {
    server = new MsnTestServer({
      accounts: [
        { ...ALICE, contacts: [BOB.email] },
        { ...BOB, contacts: [ALICE.email] },
      ],
    });
    await server.start();
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await server.stop();
  });

  test("XFR NS redirect: to another server, and to itself once", async () => {
    const other = new MsnTestServer({ accounts: [ALICE] });
    await other.start();
    try {
      server.redirectNs({ host: other.host, port: other.nsPort });
      const c = await RawClient.connect(server.nsPort);
      open.push(c);
      c.send("VER 1 MSNP7");
      await c.next("VER");
      c.send("USR 2 MD5 I alice@example.com");
      assert.equal((await c.next()).line, `XFR 2 NS 127.0.0.1:${other.nsPort}`);
      const there = await as(ALICE, other.nsPort);
      assert.ok(other.isOnline(ALICE.email));
      there.close();

      server.redirectNs({ host: server.host, port: server.nsPort }, 1);
      const first = await RawClient.connect(server.nsPort);
      open.push(first);
      first.send("VER 1 MSNP7");
      await first.next("VER");
      first.send("USR 2 MD5 I alice@example.com");
      assert.equal((await first.next()).line, `XFR 2 NS 127.0.0.1:${server.nsPort}`);
      await as(ALICE); // the second attempt is not redirected
      assert.ok(server.isOnline(ALICE.email));
    } finally {
      await other.stop();
    }
  });

  test("challenges: CHL at login, a correct QRY is acknowledged, a wrong one is 540 and a close", async () => {
    server.setChallenges(true);
    const a = await as(ALICE);
    const chl = await a.next("CHL");
    assert.match(chl.line, /^CHL 0 \d{20}$/);
    const answer = createHash("md5")
      .update(chl.tokens[2] + "Q1P7W2E4J9R8U3S5")
      .digest("hex");
    a.sendPayload("QRY 10 msmsgs@msnmsgr.com", answer);
    assert.equal((await a.next()).line, "QRY 10");

    server.sendChallenge(ALICE.email);
    await a.next("CHL");
    a.sendPayload("QRY 11 msmsgs@msnmsgr.com", md5hex("wrong"));
    assert.equal((await a.next()).line, "540 11");
    assert.ok(await a.closesWithin());
  });

  test("an unanswered challenge drops the connection; without challenges QRY is ignored", async () => {
    const quiet = await as(BOB);
    quiet.sendPayload("QRY 9 msmsgs@msnmsgr.com", md5hex("x"));
    assert.deepEqual(await quiet.drain(50), [], "Escargot ignores QRY");

    const strict = new MsnTestServer({ accounts: [ALICE], challenges: true, challengeTimeoutMs: 50 });
    await strict.start();
    try {
      const a = await login(strict.nsPort, ALICE.email, ALICE.password);
      await a.next("CHL");
      assert.ok(await a.closesWithin(1000), "dropped after the challenge timeout");
    } finally {
      await strict.stop();
    }
  });

  test("reply rules: stop answering PNG (half-open link), drop or delay replies to one command", async () => {
    const a = await as(ALICE);
    server.setPingReplies(false, ALICE.email);
    a.send("PNG");
    assert.deepEqual(await a.drain(60), [], "no QNG");
    assert.equal(server.received(ALICE.email).at(-1)?.line, "PNG", "the PNG did reach the server");
    server.setPingReplies(true, ALICE.email);
    a.send("PNG");
    assert.equal((await a.next()).line, "QNG");

    const b = await as(BOB);
    await goOnline(a);
    await goOnline(b);
    const undo = server.delayReplies("CAL", 150);
    const sb = await RawClient.connect(server.sbPort);
    open.push(sb);
    a.send("XFR 20 SB");
    const cookie = (await a.next("XFR")).tokens[5];
    sb.send(`USR 1 alice@example.com ${cookie}`);
    await sb.next("USR");
    const sent = Date.now();
    sb.send("CAL 2 bob@example.com");
    await b.next("RNG");
    assert.ok(Date.now() - sent < 150, "the invitation itself is not delayed");
    await sb.next("CAL", 2000);
    assert.ok(Date.now() - sent >= 140, "the CAL reply is");
    undo();

    const drop = server.dropReplies((ctx) => ctx.name === "NLN" && ctx.email === BOB.email);
    a.send("CHG 30 BSY");
    await a.next("CHG");
    assert.deepEqual(await b.drain(50), [], "bob missed alice's NLN");
    drop();
    a.send("CHG 31 AWY");
    assert.equal((await b.next(about(ALICE.email))).line, "NLN AWY alice@example.com Alice");
  });

  test("kick with OUT SSD and abrupt drops", async () => {
    const a = await as(ALICE);
    await goOnline(a);
    const b = await as(BOB);
    await goOnline(b);
    await a.next("NLN");
    server.kick(BOB.email, "SSD");
    assert.equal((await b.next()).line, "OUT SSD");
    assert.ok(await b.closesWithin());
    assert.equal((await a.next()).line, "FLN bob@example.com");

    server.dropConnections(ALICE.email);
    assert.ok(await a.closesWithin());
    assert.deepEqual(a.pending(), [], "no goodbye before a drop");
    assert.equal(server.isOnline(ALICE.email), false);
  });

  test("restart refuses connections while down; accounts and lists survive", async () => {
    const a = await as(ALICE);
    a.send("ADG 5 Friends");
    await a.next("ADG");
    const nsPort = server.nsPort;
    const sbPort = server.sbPort;
    const restarting = server.restart({ downMs: 150, announce: true });
    assert.equal((await a.next()).line, "OUT SSD");
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.ok(await refused(nsPort), "NS port refuses while down");
    assert.ok(await refused(sbPort), "SB port refuses while down");
    await restarting;
    assert.equal(server.nsPort, nsPort, "same port after the restart");
    const again = await as(ALICE);
    again.send("SYN 1 0");
    await again.next("BLP");
    assert.ok(
      again.history.some((r) => r.line === "LSG 1 1 2 2 1 Friends 0"),
      "the group made before the restart is still there",
    );
  });

  test("observability: every received line per account, command events, waits", async () => {
    const events: string[] = [];
    server.on("command", (r) => events.push(`${r.connection}:${r.line}`));
    const a = await as(ALICE);
    const lines = server.received(ALICE.email).map((r) => r.line);
    assert.deepEqual(lines, [
      "VER 1 MSNP7 MSNP6 MSNP5 CVR0",
      "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0540 MSMSGS alice@example.com",
      "USR 3 MD5 I alice@example.com",
      `USR 4 MD5 S ${md5hex(server.account(ALICE.email)!.salt + ALICE.password)}`,
    ]);
    assert.deepEqual(
      events,
      lines.map((l) => `ns:${l}`),
      "the same lines were emitted as events",
    );

    const waiting = server.waitForCommand(ALICE.email, "CHG", 2000, { includePast: false });
    const b = await as(BOB);
    await goOnline(b);
    await goOnline(a);
    assert.equal((await waiting).line, "CHG 6 NLN");
    const { inviterSb } = await openChat(server, a, ALICE.email, { ns: b, email: BOB.email });
    open.push(inviterSb);
    inviterSb.sendPayload(
      "MSG 3 N",
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhi",
    );
    const msg = await server.waitForCommand(ALICE.email, (r) => r.connection === "sb" && r.name === "MSG");
    assert.equal(msg.line, "MSG 3 N 64");
    assert.equal(msg.payload?.toString().endsWith("\r\n\r\nhi"), true);
    const relayed = await server.waitForSent(BOB.email, (r) => r.connection === "sb" && r.name === "MSG");
    assert.equal(relayed.line, "MSG alice@example.com Alice 64");

    await assert.rejects(server.waitForCommand(ALICE.email, "NEVER", 30), /timed out after 30 ms/);
  });

  test("injectRaw writes arbitrary bytes to an account's NS connection", async () => {
    const a = await as(ALICE);
    server.injectRaw(ALICE.email, "NOT 5\r\nhelloUBX bob@example.com 0\r\n");
    const not = await a.next("NOT");
    assert.equal(not.payload?.toString(), "hello");
    assert.equal((await a.next()).line, "UBX bob@example.com 0");
    assert.ok(
      server.transcript(ALICE.email).some((r) => r.direction === "out" && r.line.startsWith("NOT 5")),
      "recorded in the transcript",
    );
  });
});
