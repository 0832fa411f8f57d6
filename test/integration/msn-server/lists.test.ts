import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { MsnTestServer } from "../../msn-server/index.js";
import { goOnline, login, type RawClient } from "./raw-client.js";

const ALICE = { email: "alice@example.com", password: "a", name: "Alice" };
const BOB = { email: "bob@example.com", password: "b", name: "Bob B" };
const CAROL = {
  email: "carol@example.com",
  password: "c",
  name: "Carol",
  phones: { PHH: "+1 555 0100", MOB: "Y" },
};

describe("MSN test server: list sync and list changes (MSNP7)", () => {
  let server: MsnTestServer;
  const open: RawClient[] = [];
  const as = async (who: { email: string; password: string }): Promise<RawClient> => {
    const c = await login(server.nsPort, who.email, who.password);
    open.push(c);
    return c;
  };

  // A fresh server per test: lists persist for a server's lifetime, tests must not share them.
  beforeEach(async () => {
    server = new MsnTestServer({ accounts: [ALICE, BOB, CAROL] });
    await server.start();
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await server.stop();
  });

  test("an empty account syncs version+1, group 0 and four empty lists, then GTC and BLP", async () => {
    const c = await as(CAROL);
    c.send("SYN 7 41");
    const lines: string[] = [];
    for (;;) {
      const r = await c.next();
      lines.push(r.line);
      if (r.name === "BLP") break;
    }
    assert.deepEqual(lines, [
      "SYN 7 42",
      "LSG 7 42 1 1 0 Other%20Contacts 0",
      "LST 7 FL 42 0 0",
      "LST 7 AL 42 0 0",
      "LST 7 BL 42 0 0",
      "LST 7 RL 42 0 0",
      "GTC 7 42 A",
      "BLP 7 42 AL",
    ]);
  });

  test("ADD FL/AL, groups and BLP persist across logins and come back in SYN", async () => {
    const a = await as(ALICE);
    a.send("ADG 10 Work%20Mates");
    assert.equal((await a.next()).line, "ADG 10 1 Work%20Mates 1 0");
    a.send("ADD 11 FL bob@example.com bob@example.com 1");
    assert.equal((await a.next("ADD")).line, "ADD 11 FL 2 bob@example.com bob@example.com 1");
    a.send("ADD 12 AL bob@example.com bob@example.com");
    assert.equal((await a.next("ADD")).line, "ADD 12 AL 3 bob@example.com bob@example.com");
    a.send("BLP 13 BL");
    assert.equal((await a.next("BLP")).line, "BLP 13 4 BL");
    a.close();
    await server.waitUntil(() => !server.isOnline(ALICE.email), 2000, "alice offline");

    const again = await as(ALICE);
    again.send("SYN 20 0");
    const lines: string[] = [];
    for (;;) {
      const r = await again.next();
      lines.push(r.line);
      if (r.name === "BLP") break;
    }
    assert.deepEqual(lines, [
      "SYN 20 1",
      "LSG 20 1 1 2 0 Other%20Contacts 0",
      "LSG 20 1 2 2 1 Work%20Mates 0",
      "LST 20 FL 1 1 1 bob@example.com Bob%20B 1",
      "LST 20 AL 1 1 1 bob@example.com Bob%20B",
      "LST 20 BL 1 0 0",
      "LST 20 RL 1 0 0",
      "GTC 20 1 A",
      "BLP 20 1 BL",
    ]);
    assert.deepEqual(server.account(BOB.email)!.lists.RL, [ALICE.email], "alice is on bob's RL");

    again.send("RMG 24 1");
    assert.equal((await again.next()).line, "RMG 24 2 1");
    assert.deepEqual(server.account(ALICE.email)!.contactGroups, {}, "removing a group empties it");
  });

  test("ADD FL puts the adder on the contact's RL with ADD 0 RL and yields ILN if online", async () => {
    const b = await as(BOB);
    await goOnline(b, "AWY");
    const a = await as(ALICE);
    await goOnline(a);
    a.send("ADD 30 FL bob@example.com bob@example.com");
    assert.equal((await a.next("ADD")).line, "ADD 30 FL 2 bob@example.com bob@example.com");
    assert.equal((await a.next("ILN")).line, "ILN 30 AWY bob@example.com Bob%20B");
    assert.equal((await b.next("ADD")).line, "ADD 0 RL 2 alice@example.com Alice");

    // Already on the list: Escargot says yes again (and re-announces the RL).
    a.send("ADD 31 FL bob@example.com bob@example.com");
    assert.equal((await a.next("ADD")).line, "ADD 31 FL 3 bob@example.com bob@example.com");
    assert.equal((await b.next("ADD")).line, "ADD 0 RL 3 alice@example.com Alice");

    a.send("REM 32 FL bob@example.com");
    assert.equal((await a.next("REM")).line, "REM 32 FL 4 bob@example.com");
    assert.equal((await b.next("REM")).line, "REM 0 RL 4 alice@example.com");
    assert.deepEqual(server.account(BOB.email)!.lists.RL, []);
  });

  test("list errors: 201 bad address, 205 unknown, 219 AL vs BL, 216 not on list, 224 bad group", async () => {
    const a = await as(ALICE);
    a.send("ADD 40 FL bob bob");
    a.send("ADD 41 FL nobody@example.com nobody@example.com");
    a.send("ADD 42 BL carol@example.com carol@example.com");
    a.send("ADD 43 AL carol@example.com carol@example.com");
    a.send("REM 44 AL carol@example.com");
    a.send("ADD 45 FL carol@example.com carol@example.com 9");
    a.send("RMG 46 0");
    a.send("REM 47 BL carol@example.com");
    const lines = [];
    for (let i = 0; i < 8; i++) lines.push((await a.next()).line);
    assert.deepEqual(lines, [
      "201 40",
      "205 41",
      "ADD 42 BL 1 carol@example.com carol@example.com",
      "219 43",
      "216 44",
      "224 45",
      "230 46",
      "REM 47 BL 2 carol@example.com",
    ]);
  });

  test("ADD RL and REM RL end the session; BLP/GTC to the same value twice is 218", async () => {
    const a = await as(ALICE);
    a.send("GTC 50 A");
    assert.equal((await a.next()).line, "GTC 50 1 A", "the first time succeeds even if unchanged");
    a.send("GTC 51 A");
    assert.equal((await a.next()).line, "218 51");
    a.send("ADD 52 RL bob@example.com bob@example.com");
    assert.ok(await a.closesWithin(), "ADD RL closes the connection");

    const b = await as(BOB);
    b.send("REM 53 RL alice@example.com");
    assert.ok(await b.closesWithin(), "REM RL tears the session down");
  });

  test("REA changes the own name; watchers see an NLN with the new name", async () => {
    server.befriend(BOB.email, ALICE.email);
    const b = await as(BOB);
    await goOnline(b);
    const a = await as(ALICE);
    await goOnline(a);
    await b.next((r) => r.line === "NLN NLN alice@example.com Alice");
    a.send("REA 60 alice@example.com Alice%20the%20Great");
    assert.equal((await a.next("REA")).line, "REA 60 2 alice@example.com Alice%20the%20Great");
    assert.equal((await b.next("NLN")).line, "NLN NLN alice@example.com Alice%20the%20Great");
    assert.equal(server.account(ALICE.email)!.name, "Alice the Great");
  });

  test("a contact's published phone numbers follow its LST lines as BPR", async () => {
    server.befriend(ALICE.email, CAROL.email);
    const a = await as(ALICE);
    a.send("SYN 70 0");
    const lines: string[] = [];
    for (;;) {
      const r = await a.next();
      lines.push(r.line);
      if (r.name === "BLP") break;
    }
    const fl = lines.indexOf("LST 70 FL 1 1 1 carol@example.com Carol 0");
    assert.ok(fl >= 0, lines.join(" | "));
    assert.deepEqual(lines.slice(fl + 1, fl + 3), ["BPR 1 PHH +1%20555%200100", "BPR 1 MOB Y"]);
  });
});
