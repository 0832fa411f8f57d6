import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { MsnTestServer } from "../../msn-server/index.js";
import { goOnline, goOnlineTwn, login, loginTwn, RawClient, syncList, type Received } from "./raw-client.js";

const ALICE = { email: "alice@example.com", password: "a", name: "Alice" };
const BOB = { email: "bob@example.com", password: "b", name: "Bob" };
const CAROL = { email: "carol@example.com", password: "c", name: "Carol" };
const DAVE = { email: "dave@example.com", password: "d", name: "Dave" };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TS = "2000-01-01T00:00:00.0-00:00";
const NO_MSNOBJ = "%3Cmsnobj%2F%3E";
const lines = (rs: readonly Received[]) => rs.map((r) => r.line);

describe("MSN test server: MSNP8–12 lists, presence and switchboards", () => {
  let server: MsnTestServer;
  const open: RawClient[] = [];
  /** Logs in with MSNP7 (MD5) or, for 8–12, TWN with a ticket fetched over HTTP. */
  const as = async (who: { email: string; password: string }, version: number): Promise<RawClient> => {
    const c =
      version <= 7
        ? await login(server.nsPort, who.email, who.password)
        : await loginTwn(server, version, who.email, who.password);
    open.push(c);
    return c;
  };
  /** Logs in, syncs the list and sends the first CHG (with a client id on 8+). */
  const online = async (
    who: { email: string; password: string },
    version: number,
    clientId = "0",
  ): Promise<{ c: RawClient; burst: Received[] }> => {
    const c = await as(who, version);
    if (version <= 7) return { c, burst: await goOnline(c) };
    await syncList(c, version);
    return { c, burst: await goOnlineTwn(c, "NLN", clientId) };
  };

  beforeEach(async () => {
    server = new MsnTestServer({ accounts: [ALICE, BOB, CAROL, DAVE] });
    await server.start();
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await server.stop();
  });

  /** alice: bob on FL+AL (+RL) in group "Work Mates", dave on FL+AL, carol added alice unanswered. */
  async function seedAliceLists(): Promise<void> {
    server.befriend(ALICE.email, BOB.email);
    server.befriend(BOB.email, ALICE.email);
    server.befriend(ALICE.email, DAVE.email);
    server.addContact(CAROL.email, ALICE.email, ["FL"]);
    const c = await as(ALICE, 9);
    c.send("ADG 20 Work%20Mates 0");
    assert.equal((await c.next()).line, "ADG 20 1 Work%20Mates 1 0");
    c.send("ADD 21 FL bob@example.com Bob 1");
    assert.equal((await c.next()).line, "ADD 21 FL 2 bob@example.com Bob 1");
    c.close();
  }

  test("SYN on MSNP8/9: counts, then GTC/BLP/LSG/LST without TrIDs (LST email name bits groups)", async () => {
    await seedAliceLists();
    for (const version of [8, 9]) {
      const c = await as(ALICE, version);
      assert.deepEqual(lines(await syncList(c, version)), [
        "SYN 5 1 3 2",
        "GTC A",
        "BLP AL",
        "LSG 0 Other%20Contacts 0",
        "LSG 1 Work%20Mates 0",
        "LST bob@example.com Bob 11 1",
        "LST dave@example.com Dave 3 0",
        "LST carol@example.com Carol 8",
      ]);
      c.close();
    }
  });

  test("SYN on MSNP10–12: PRP MFN, LSG name guid, LST N= F= C= with PL for unanswered adders; 10/11 end with an empty field", async () => {
    await seedAliceLists();
    const seen: string[][] = [];
    for (const version of [10, 11, 12]) {
      const c = await as(ALICE, version);
      const got = lines(await syncList(c, version));
      const lsg = /^LSG Work%20Mates (\S+)$/.exec(got[4] ?? "");
      assert.ok(lsg, got.join(" | "));
      const groupGuid = lsg[1]!;
      const guid = (email: string) =>
        /C=(\S+)/.exec(got.find((l) => l.includes(`N=${email}`)) ?? "")?.[1] ?? "";
      const [bob, dave, carol] = [guid(BOB.email), guid(DAVE.email), guid(CAROL.email)];
      for (const g of [groupGuid, bob, dave, carol]) assert.match(g, GUID);
      assert.equal(new Set([bob, dave, carol]).size, 3);
      const tail = version === 12 ? "" : " ";
      assert.deepEqual(got, [
        `SYN 5 ${TS} ${TS} 3 1`,
        "GTC A",
        "BLP AL",
        "PRP MFN Alice",
        `LSG Work%20Mates ${groupGuid}`,
        `LST N=bob@example.com F=Bob C=${bob} 11 ${groupGuid}`,
        `LST N=dave@example.com F=Dave C=${dave} 3${tail}`,
        `LST N=carol@example.com F=Carol C=${carol} 16${tail}`,
      ]);
      seen.push([groupGuid, bob, dave, carol]);
      c.close();
    }
    assert.deepEqual(seen[1], seen[0], "GUIDs are stable across logins and versions");
    assert.deepEqual(seen[2], seen[0]);

    // Another owner's GUID for the same contact differs.
    server.befriend(BOB.email, DAVE.email);
    const b = await as(BOB, 12);
    const bobDave = /C=(\S+)/.exec(lines(await syncList(b, 12)).find((l) => l.includes("N=dave")) ?? "")?.[1];
    assert.match(bobDave ?? "", GUID);
    assert.notEqual(bobDave, seen[0]![2]);
  });

  test("ADC/REM on MSNP12: FL by GUID, AL by address; RL notifications in each contact's dialect", async () => {
    const bob = await as(BOB, 7);
    const carol = await as(CAROL, 11);
    const a = await as(ALICE, 12);
    a.send("ADC 30 FL N=bob@example.com F=bob@example.com");
    const added = (await a.next("ADC")).line;
    const m = /^ADC 30 FL N=bob@example\.com F=Bob C=(\S+)$/.exec(added);
    assert.ok(m, added);
    const bobGuid = m[1]!;
    assert.match(bobGuid, GUID);
    assert.equal((await bob.next("ADD")).line, "ADD 0 RL 1 alice@example.com Alice");

    a.send("ADC 31 FL N=carol@example.com F=carol@example.com");
    await a.next("ADC");
    assert.equal((await carol.next("ADC")).line, "ADC 0 RL N=alice@example.com F=Alice");
    a.send("ADC 32 AL N=carol@example.com");
    assert.equal((await a.next()).line, "ADC 32 AL N=carol@example.com");
    a.send("REM 33 AL carol@example.com");
    assert.equal((await a.next()).line, "REM 33 AL carol@example.com");

    a.send("REM 34 FL bob@example.com");
    assert.equal((await a.next()).line, "216 34", "FL removal takes the GUID, not the address");
    a.send(`REM 35 FL ${bobGuid}`);
    assert.equal((await a.next()).line, `REM 35 FL ${bobGuid}`);
    assert.equal((await bob.next("REM")).line, "REM 0 RL 2 alice@example.com");
    assert.deepEqual(server.account(ALICE.email)!.lists.FL, [CAROL.email]);

    a.send("ADC 36 FL N=nobody@example.com F=x");
    a.send("ADC 37 FL N=bob F=bob");
    a.send("REM 38 FL 00000000-0000-0000-0000-000000000000");
    assert.deepEqual(
      [(await a.next()).line, (await a.next()).line, (await a.next()).line],
      ["208 36", "201 37", "216 38"],
    );
    a.send("ADC 39 RL N=carol@example.com F=Carol");
    assert.ok(await a.closesWithin(), "ADC RL closes the connection");
    carol.send("REM 40 RL alice@example.com");
    assert.ok(await carol.closesWithin(), "REM RL tears the session down");
  });

  test("presence between MSNP7 and MSNP12 watchers: each gets its own dialect; CHG without client id is ignored", async () => {
    for (const [x, y] of [
      [ALICE, BOB],
      [ALICE, CAROL],
    ]) {
      server.befriend(x!.email, y!.email);
      server.befriend(y!.email, x!.email);
    }
    const { c: bob } = await online(BOB, 7);
    const { c: carol } = await online(CAROL, 8, "268435456");
    const a = await as(ALICE, 12);
    await syncList(a, 12);

    a.send("CHG 9 NLN");
    assert.deepEqual(await a.drain(50), [], "MSNP8+: no reply to CHG without a client id");
    assert.equal(server.statusOf(ALICE.email), "FLN", "and no status change");
    assert.deepEqual(await bob.drain(0), []);

    const msnobj = '<msnobj Creator="alice@example.com" Size="1" Type="3"/>';
    a.send(`CHG 10 NLN 1342177280 ${encodeURIComponent(msnobj)}`);
    assert.equal((await a.next()).line, `CHG 10 NLN 1342177280 ${encodeURIComponent(msnobj)}`);
    assert.deepEqual(lines(await a.drain(30)).sort(), [
      `ILN 10 NLN bob@example.com Bob 0 ${NO_MSNOBJ}`,
      `ILN 10 NLN carol@example.com Carol 268435456 ${NO_MSNOBJ}`,
    ]);
    assert.equal((await bob.next("NLN")).line, "NLN NLN alice@example.com Alice");
    assert.equal((await carol.next("NLN")).line, "NLN NLN alice@example.com Alice 1342177280");

    bob.send("CHG 11 BSY");
    await bob.next("CHG");
    assert.equal((await a.next("NLN")).line, `NLN BSY bob@example.com Bob 0 ${NO_MSNOBJ}`);

    a.send("PNG");
    assert.equal((await a.next("QNG")).line, "QNG 60");
    carol.send("PNG");
    assert.equal((await carol.next("QNG")).line, "QNG", "MSNP8 has a bare QNG");

    a.send("OUT");
    assert.equal((await bob.next("FLN")).line, "FLN alice@example.com");
    assert.equal((await carol.next("FLN")).line, "FLN alice@example.com");
  });

  test("own name: PRP MFN on 10+ (REA is 502), REA on ≤9; watchers see NLN with the new name", async () => {
    for (const watcher of [BOB, CAROL]) server.befriend(watcher.email, ALICE.email);
    server.befriend(BOB.email, DAVE.email);
    const { c: bob } = await online(BOB, 7);
    const { c: carol } = await online(CAROL, 10);
    const { c: a } = await online(ALICE, 12);
    await bob.next("NLN");
    await carol.next("NLN");

    a.send("PRP 20 MFN Alice%20New%20%25");
    assert.equal((await a.next()).line, "PRP 20 MFN Alice%20New%20%25");
    assert.equal((await bob.next("NLN")).line, "NLN NLN alice@example.com Alice%20New%20%25");
    assert.equal(
      (await carol.next("NLN")).line,
      `NLN NLN alice@example.com Alice%20New%20%25 0 ${NO_MSNOBJ}`,
    );
    assert.equal(server.account(ALICE.email)!.name, "Alice New %");
    a.send("REA 21 alice@example.com Other");
    assert.equal((await a.next()).line, "502 21");

    const { c: d } = await online(DAVE, 9);
    await bob.next("NLN");
    d.send("REA 22 dave@example.com Dave%20Nine");
    assert.equal((await d.next("REA")).line, "REA 22 2 dave@example.com Dave%20Nine");
    assert.equal((await bob.next("NLN")).line, "NLN NLN dave@example.com Dave%20Nine");
  });

  test("UUX on MSNP11+ is answered UUX n 0 and relayed as UBX to MSNP11+ watchers only", async () => {
    for (const watcher of [BOB, CAROL, DAVE]) server.befriend(watcher.email, ALICE.email);
    const { c: bob } = await online(BOB, 12);
    const { c: carol } = await online(CAROL, 10);
    const { c: dave } = await online(DAVE, 7);
    const { c: a } = await online(ALICE, 11);
    for (const w of [bob, carol, dave]) await w.next("NLN");

    const psm = "<Data><PSM>Grüße 100%</PSM><CurrentMedia></CurrentMedia></Data>";
    a.sendPayload("UUX 30", psm);
    assert.equal((await a.next()).line, "UUX 30 0");
    const ubx = await bob.next("UBX");
    assert.equal(ubx.line, `UBX alice@example.com ${Buffer.byteLength(psm)}`);
    assert.equal(ubx.payload!.toString("utf8"), psm);
    assert.deepEqual(await carol.drain(50), [], "MSNP10 has no UBX");
    assert.deepEqual(await dave.drain(0), [], "nor has MSNP7");

    // A watcher logging in later gets the personal message right after the ILN.
    bob.close();
    await server.waitUntil(() => !server.isOnline(BOB.email), 2000, "bob offline");
    const { burst } = await online(BOB, 11);
    assert.deepEqual(
      burst.map((r) => r.line),
      [`ILN 6 NLN alice@example.com Alice 0 ${NO_MSNOBJ}`, `UBX alice@example.com ${Buffer.byteLength(psm)}`],
    );

    // UUX on MSNP10 is not part of the dialect: no reply.
    carol.sendPayload("UUX 31", psm);
    assert.deepEqual(await carol.drain(50), []);

    // The personal message outlives the session: alice's next first CHG re-sends it after the NLN.
    const bob2 = open[open.length - 1]!;
    await bob2.drain(0);
    a.close();
    await bob2.next("FLN");
    await online(ALICE, 12);
    assert.equal((await bob2.next()).line, `NLN NLN alice@example.com Alice 0 ${NO_MSNOBJ}`);
    assert.equal((await bob2.next()).line, `UBX alice@example.com ${Buffer.byteLength(psm)}`);
  });

  test("groups on MSNP10+: ADG/REG/RMG and group membership by GUID; BLP/GTC without list version", async () => {
    server.befriend(ALICE.email, BOB.email);
    const a = await as(ALICE, 10);
    const bobGuid = /C=(\S+)/.exec(lines(await syncList(a, 10)).find((l) => l.includes("N=bob")) ?? "")?.[1];
    assert.match(bobGuid ?? "", GUID);
    a.send("ADG 50 Family");
    const adg = (await a.next()).line;
    const groupGuid = /^ADG 50 Family (\S+)$/.exec(adg)?.[1];
    assert.match(groupGuid ?? "", GUID, adg);
    a.send(`REG 51 ${groupGuid} Close%20Family`);
    assert.equal((await a.next()).line, `REG 51 ${groupGuid} Close%20Family`);
    a.send(`ADC 52 FL C=${bobGuid} ${groupGuid}`);
    assert.equal((await a.next()).line, `ADC 52 FL C=${bobGuid} ${groupGuid}`);
    assert.deepEqual(server.account(ALICE.email)!.contactGroups, { [BOB.email]: ["1"] });
    a.send(`REM 53 FL ${bobGuid} ${groupGuid}`);
    assert.equal((await a.next()).line, `REM 53 FL ${bobGuid} ${groupGuid}`);
    a.send("RMG 54 1");
    assert.equal((await a.next()).line, "224 54", "groups are named by GUID on MSNP10+");
    a.send(`RMG 55 ${groupGuid}`);
    assert.equal((await a.next()).line, `RMG 55 ${groupGuid}`);
    a.send("BLP 56 BL");
    a.send("GTC 57 N");
    assert.deepEqual([(await a.next()).line, (await a.next()).line], ["BLP 56 BL", "GTC 57 N"]);
    assert.deepEqual(server.account(ALICE.email)!.lists.FL, [BOB.email], "bob is still a contact");
  });

  test("switchboard on MSNP12: IRO/JOI carry the client id; a MSNP7 participant sees MSNP7 lines", async () => {
    for (const [x, y] of [
      [ALICE, BOB],
      [ALICE, CAROL],
    ]) {
      server.befriend(x!.email, y!.email);
      server.befriend(y!.email, x!.email);
    }
    const { c: a } = await online(ALICE, 12, "1342177280");
    const { c: b } = await online(BOB, 12, "268435456");
    const { c: c7 } = await online(CAROL, 7);

    a.send("XFR 40 SB");
    const xfr = await a.next("XFR");
    assert.match(xfr.line, /^XFR 40 SB 127\.0\.0\.1:\d+ CKI \S+$/);
    const aSb = await RawClient.connect(server.sbPort);
    open.push(aSb);
    aSb.send(`USR 1 alice@example.com ${xfr.tokens[5]}`);
    assert.equal((await aSb.next()).line, "USR 1 OK alice@example.com Alice");
    aSb.send("CAL 2 bob@example.com");
    const sessionId = (await aSb.next("CAL")).tokens[3]!;
    const rng = await b.next("RNG");
    assert.match(
      rng.line,
      new RegExp(`^RNG ${sessionId} 127\\.0\\.0\\.1:\\d+ CKI \\S+ alice@example\\.com Alice$`),
    );
    const bSb = await RawClient.connect(server.sbPort);
    open.push(bSb);
    bSb.send(`ANS 1 bob@example.com ${rng.tokens[4]} ${sessionId}`);
    assert.deepEqual(
      [(await bSb.next()).line, (await bSb.next()).line],
      ["IRO 1 1 1 alice@example.com Alice 1342177280", "ANS 1 OK"],
    );
    assert.equal((await aSb.next("JOI")).line, "JOI bob@example.com Bob 268435456");

    aSb.send("CAL 3 carol@example.com");
    await aSb.next("CAL");
    const rng7 = await c7.next("RNG");
    const cSb = await RawClient.connect(server.sbPort);
    open.push(cSb);
    cSb.send(`ANS 1 carol@example.com ${rng7.tokens[4]} ${sessionId}`);
    assert.deepEqual(
      [(await cSb.next()).line, (await cSb.next()).line, (await cSb.next()).line],
      ["IRO 1 1 2 alice@example.com Alice", "IRO 1 2 2 bob@example.com Bob", "ANS 1 OK"],
    );
    assert.equal((await aSb.next("JOI")).line, "JOI carol@example.com Carol 0");
    assert.equal((await bSb.next("JOI")).line, "JOI carol@example.com Carol 0");

    cSb.sendPayload("MSG 2 N", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhi");
    assert.match((await aSb.next("MSG")).line, /^MSG carol@example\.com Carol \d+$/);
  });
});
