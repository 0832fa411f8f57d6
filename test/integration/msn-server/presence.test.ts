import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { MsnTestServer } from "../../msn-server/index.js";
import { about, goOnline, login, type RawClient } from "./raw-client.js";

const ALICE = { email: "alice@example.com", password: "a", name: "Alice" };
const BOB = { email: "bob@example.com", password: "b", name: "Bob" };
const CAROL = { email: "carol@example.com", password: "c", name: "Carol" };
const DAVE = { email: "dave@example.com", password: "d", name: "Dave" };

describe("MSN test server: presence (CHG, ILN, NLN, FLN)", () => {
  let server: MsnTestServer;
  const open: RawClient[] = [];
  const as = async (who: { email: string; password: string }): Promise<RawClient> => {
    const c = await login(server.nsPort, who.email, who.password);
    open.push(c);
    return c;
  };

  beforeEach(async () => {
    // Everyone has everyone else on FL and AL.
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

  test("the first CHG triggers one ILN (TrID of the CHG) per visible online FL contact", async () => {
    const b = await as(BOB);
    await goOnline(b, "BSY");
    const c = await as(CAROL);
    await goOnline(c, "HDN");
    const a = await as(ALICE);
    a.send("SYN 1 0");
    await a.next("BLP");
    await a.drain(0);
    a.send("CHG 9 NLN");
    assert.equal((await a.next()).line, "CHG 9 NLN");
    assert.deepEqual(
      (await a.drain(50)).map((r) => r.line),
      ["ILN 9 BSY bob@example.com Bob"],
      "hidden carol and offline dave are absent",
    );
    a.send("CHG 10 AWY");
    assert.equal((await a.next()).line, "CHG 10 AWY");
    assert.deepEqual(await a.drain(50), [], "no second burst");
  });

  test("nothing before the first CHG: no NLN, and XFR SB is 913", async () => {
    const a = await as(ALICE);
    a.send("XFR 5 SB");
    assert.equal((await a.next()).line, "913 5");
    const b = await as(BOB);
    await goOnline(b);
    assert.deepEqual(await a.drain(50), [], "alice has not sent CHG, so she hears nothing");
  });

  test("status changes fan out to watchers; HDN looks like FLN and forbids XFR SB", async () => {
    const a = await as(ALICE);
    await goOnline(a);
    const b = await as(BOB);
    await goOnline(b);
    assert.equal((await a.next("NLN")).line, "NLN NLN bob@example.com Bob");
    b.send("CHG 20 BRB");
    await b.next("CHG");
    assert.equal((await a.next("NLN")).line, "NLN BRB bob@example.com Bob");
    b.send("CHG 21 HDN");
    await b.next("CHG");
    assert.equal((await a.next()).line, "FLN bob@example.com");
    b.send("XFR 22 SB");
    assert.equal((await b.next()).line, "913 22");
    b.send("CHG 23 NLN");
    await b.next("CHG");
    assert.equal((await a.next()).line, "NLN NLN bob@example.com Bob");
  });

  test("blocking: ADD BL sends FLN to the blocked watcher only; REM BL restores NLN", async () => {
    const a = await as(ALICE);
    await goOnline(a);
    const c = await as(CAROL);
    await goOnline(c);
    const b = await as(BOB);
    await goOnline(b);
    await a.next((r) => r.line === "NLN NLN bob@example.com Bob");
    await c.next((r) => r.line === "NLN NLN bob@example.com Bob");
    b.send("ADD 30 BL alice@example.com alice@example.com");
    assert.equal((await b.next()).line, "219 30", "alice is on bob's AL");
    b.send("REM 31 AL alice@example.com");
    await b.next("REM");
    await a.drain(30);
    await c.drain(0);
    b.send("ADD 32 BL alice@example.com alice@example.com");
    await b.next("ADD");
    assert.equal((await a.next(about(BOB.email))).line, "FLN bob@example.com");
    assert.deepEqual(await c.drain(30), [], "carol is not affected");

    b.send("CHG 33 AWY");
    await b.next("CHG");
    assert.equal((await c.next(about(BOB.email))).line, "NLN AWY bob@example.com Bob");
    assert.equal(
      (await a.next(about(BOB.email))).line,
      "FLN bob@example.com",
      "blocked alice still sees bob offline",
    );

    b.send("REM 34 BL alice@example.com");
    await b.next("REM");
    assert.equal((await a.next(about(BOB.email))).line, "NLN AWY bob@example.com Bob");
  });

  test("BLP BL hides the account from watchers not on its AL", async () => {
    const a = await as(ALICE);
    await goOnline(a);
    const c = await as(CAROL);
    await goOnline(c);
    const b = await as(BOB);
    b.send("REM 40 AL carol@example.com");
    await b.next("REM");
    b.send("BLP 41 BL");
    await b.next("BLP");
    await goOnline(b);
    assert.equal(
      (await a.next((r) => r.name === "NLN" && about(BOB.email)(r))).line,
      "NLN NLN bob@example.com Bob",
    );
    assert.deepEqual(
      (await c.drain(50)).filter((r) => r.name === "NLN" && about(BOB.email)(r)),
      [],
      "carol never sees bob online",
    );
    // And carol's ILN burst would not list bob either.
    const fresh = await as(CAROL);
    assert.deepEqual(
      (await goOnline(fresh)).map((r) => r.tokens[3]),
      ["alice@example.com"],
      "carol's burst lists alice but not bob",
    );
  });

  test("OUT and a dropped connection both make watchers see FLN", async () => {
    const a = await as(ALICE);
    await goOnline(a);
    const b = await as(BOB);
    await goOnline(b);
    await a.next("NLN");
    b.send("OUT");
    assert.ok(await b.closesWithin());
    assert.equal((await a.next()).line, "FLN bob@example.com");

    const d = await as(DAVE);
    await goOnline(d);
    await a.next("NLN");
    server.dropConnections(DAVE.email);
    assert.equal((await a.next()).line, "FLN dave@example.com");
    assert.ok(await d.closesWithin());
  });

  test("CHG FLN is 201, an unknown status closes the connection", async () => {
    const a = await as(ALICE);
    a.send("CHG 50 FLN");
    assert.equal((await a.next()).line, "201 50");
    a.send("CHG 51 XYZ");
    assert.ok(await a.closesWithin());
  });

  test("duplicate NLN switch sends every NLN twice", async () => {
    server.setDuplicateNln(true);
    const a = await as(ALICE);
    await goOnline(a);
    const b = await as(BOB);
    await goOnline(b);
    const lines = (await a.drain(50)).map((r) => r.line);
    assert.deepEqual(lines, ["NLN NLN bob@example.com Bob", "NLN NLN bob@example.com Bob"]);
  });

  test("a re-login takes over without the contacts seeing FLN", async () => {
    const a = await as(ALICE);
    await goOnline(a);
    const b = await as(BOB);
    await goOnline(b);
    await a.next("NLN");
    const b2 = await as(BOB);
    assert.equal((await b.next()).line, "OUT OTH");
    assert.deepEqual(await a.drain(50), [], "no FLN during the hand-over");
    assert.equal(server.statusOf(BOB.email), "NLN", "the status survives the hand-over");
    b2.send("XFR 60 SB");
    assert.equal((await b2.next()).line, "913 60", "but the new session must send CHG first");
  });
});
