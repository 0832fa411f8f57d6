import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { MsnTestServer } from "../../msn-server/index.js";
import { login, md5hex, RawClient } from "./raw-client.js";

const ALICE = { email: "alice@example.com", password: "alicepw", name: "Alice Ä 100%" };
const BOB = { email: "bob@example.com", password: "bobpw", name: "Bob" };

describe("MSN test server: version negotiation and MD5 login", () => {
  let server: MsnTestServer;

  before(async () => {
    server = new MsnTestServer({ accounts: [ALICE, { ...BOB, salt: "5aef4fef51aec18" }] });
    await server.start();
  });
  after(() => server.stop());

  test("VER answers only the chosen dialect; nothing acceptable gets VER 0 and a close", async () => {
    const c = await RawClient.connect(server.nsPort);
    c.send("VER 1 MSNP7 MSNP6 CVR0");
    assert.equal((await c.next()).line, "VER 1 MSNP7");
    c.close();

    const d = await RawClient.connect(server.nsPort);
    d.send("VER 1 MSNP2 CVR0");
    assert.equal((await d.next()).line, "VER 1 0");
    assert.ok(await d.closesWithin(1000), "connection closed after VER 0");
  });

  test("CVR needs six arguments; INF answers MD5; unknown commands get no reply", async () => {
    const c = await RawClient.connect(server.nsPort);
    c.send("VER 1 MSNP7");
    await c.next("VER");
    c.send("CVR 2 0x0409 winnt");
    c.send("FOO 3 bar");
    c.send("CVR 4 0x0409 winnt 5.1 i386 MSNMSGR 6.2.0205 MSMSGS alice@example.com");
    c.send("INF 5");
    const replies = [(await c.next()).line, (await c.next()).line];
    assert.match(replies[0]!, /^CVR 4 6\.2\.0205 6\.2\.0205 6\.2\.0205 \S+ \S+$/);
    assert.equal(replies[1], "INF 5 MD5");
    assert.deepEqual(await c.drain(50), [], "no reply to the short CVR or to FOO");
    c.close();
  });

  test("the salt is the account's own and identical on every login; the hash logs in", async () => {
    const salts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await RawClient.connect(server.nsPort);
      c.send("VER 1 MSNP7");
      await c.next("VER");
      c.send(`USR 2 MD5 I ${BOB.email}`);
      const usr = await c.next("USR");
      assert.equal(usr.tokens.slice(0, 4).join(" "), "USR 2 MD5 S");
      salts.push(usr.tokens[4]!);
      c.send(`USR 3 MD5 S ${md5hex(usr.tokens[4]! + BOB.password)}`);
      assert.equal((await c.next()).line, "USR 3 OK bob@example.com Bob 1");
      const profile = await c.next("MSG");
      assert.equal(profile.line.split(" ").slice(0, 3).join(" "), "MSG Hotmail Hotmail");
      assert.match(profile.payload!.toString(), /^MIME-Version: 1\.0\r\nContent-Type: text\/x-msmsgsprofile/);
      assert.match(profile.payload!.toString(), /\r\nLoginTime: \d+\r\n/);
      c.send("OUT");
      await c.closed;
    }
    assert.deepEqual(salts, ["5aef4fef51aec18", "5aef4fef51aec18"]);
    // The worked example of msnp.md §3.3.
    assert.equal(md5hex("5aef4fef51aec18" + "alicepw"), "f25a3af3cc4fcdb4caf7d122410b9cac");
  });

  test("the friendly name is encoded like Escargot: only %, space, CR, LF escaped", async () => {
    const c = await login(server.nsPort, ALICE.email, ALICE.password);
    const ok = c.history.find((r) => r.name === "USR" && r.tokens[2] === "OK");
    assert.equal(ok?.line, "USR 4 OK alice@example.com Alice%20Ä%20100%25 1");
    c.close();
  });

  test("wrong password and unknown account both get 911; the unknown account's salt is the time", async () => {
    const c = await RawClient.connect(server.nsPort);
    c.send("VER 1 MSNP7");
    await c.next("VER");
    c.send(`USR 2 MD5 I ${ALICE.email}`);
    const usr = await c.next("USR");
    c.send(`USR 3 MD5 S ${md5hex(usr.tokens[4]! + "wrong")}`);
    assert.equal((await c.next()).line, "911 3");
    assert.ok(await c.closesWithin(), "closed after 911");

    const d = await RawClient.connect(server.nsPort);
    d.send("VER 1 MSNP7");
    await d.next("VER");
    const before = Math.floor(Date.now() / 1000);
    d.send("USR 2 MD5 I nobody@example.com");
    const fake = await d.next("USR");
    const salt = Number(fake.tokens[4]);
    assert.ok(salt >= before && salt <= before + 2, `salt ${fake.tokens[4]} is the Unix time`);
    d.send(`USR 3 MD5 S ${md5hex(fake.tokens[4]! + "anything")}`);
    assert.equal((await d.next()).line, "911 3");
    assert.ok(await d.closesWithin());
  });

  test("a second USR after login is 207; PNG gets QNG, PNG with a TrID gets nothing", async () => {
    const c = await login(server.nsPort, ALICE.email, ALICE.password);
    c.send(`USR 10 MD5 I ${ALICE.email}`);
    assert.equal((await c.next()).line, "207 10");
    c.send("PNG 11");
    c.send("PNG");
    assert.equal((await c.next()).line, "QNG");
    assert.deepEqual(await c.drain(50), []);
    c.close();
  });

  test("a second login kicks the first session with OUT OTH", async () => {
    const first = await login(server.nsPort, ALICE.email, ALICE.password);
    const second = await login(server.nsPort, ALICE.email, ALICE.password);
    assert.equal((await first.next()).line, "OUT OTH");
    assert.ok(await first.closesWithin(), "the old session is closed");
    assert.equal(second.isClosed, false);
    assert.ok(server.isOnline(ALICE.email));
    second.close();
    await server.waitUntil(() => !server.isOnline(ALICE.email), 2000, "alice offline");
  });

  test("a mis-cased login gets 911 and kicks the account's live session (Escargot)", async () => {
    const live = await login(server.nsPort, ALICE.email, ALICE.password);
    const c = await RawClient.connect(server.nsPort);
    c.send("VER 1 MSNP7");
    await c.next("VER");
    c.send("USR 2 MD5 I Alice@Example.COM");
    const usr = await c.next("USR");
    c.send(`USR 3 MD5 S ${md5hex(usr.tokens[4]! + ALICE.password)}`);
    assert.equal((await c.next()).line, "911 3");
    assert.equal((await live.next()).line, "OUT OTH");
    assert.ok(await live.closesWithin());
    assert.ok(await c.closesWithin());
    assert.equal(server.isOnline(ALICE.email), false);
  });

  test("a non-UTF-8 command line drops the connection", async () => {
    const c = await RawClient.connect(server.nsPort);
    c.sendRaw(Buffer.from([0x56, 0x45, 0x52, 0x20, 0x31, 0x20, 0xff, 0xfe, 0x0d, 0x0a]));
    assert.ok(await c.closesWithin(), "dropped");
    assert.deepEqual(c.history, [], "without any reply");
  });

  test("maintenance mode answers USR I with 500 and closes", async () => {
    server.setMaintenance(true);
    try {
      const c = await RawClient.connect(server.nsPort);
      c.send("VER 1 MSNP7");
      await c.next("VER");
      c.send(`USR 2 MD5 I ${ALICE.email}`);
      assert.equal((await c.next()).line, "500 2");
      assert.ok(await c.closesWithin());
    } finally {
      server.setMaintenance(false);
    }
  });
});
