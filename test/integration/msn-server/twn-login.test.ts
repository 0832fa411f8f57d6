import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";

import { MsnTestServer } from "../../msn-server/index.js";
import { fetchTicket, httpGet, loginTwn, passportAuthorization, RawClient } from "./raw-client.js";

const ALICE = { email: "alice@example.com", password: "alice pw,1%", name: "Alice A" };
const BOB = { email: "bob@example.com", password: "bobpw", name: "Bob" };
const POLICY = "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1";

/** The MSNP11 CHL answer written out independently of the server (msnp.md §6). */
function msnp11Answer(challenge: string, id: string, key: string): string {
  const digest = createHash("md5")
    .update(challenge + key)
    .digest();
  const words = [0, 4, 8, 12].map((o) => digest.readUInt32LE(o));
  const [m0, m1, m2, m3] = words.map((w) => BigInt(w & 0x7fffffff)) as [bigint, bigint, bigint, bigint];
  const padded = (challenge + id).padEnd(Math.ceil((challenge + id).length / 8) * 8, "0");
  const c = Array.from({ length: padded.length / 4 }, (_, i) =>
    BigInt(Buffer.from(padded, "ascii").readUInt32LE(i * 4)),
  );
  const p = 0x7fffffffn;
  let hi = 0n;
  let lo = 0n;
  for (let i = 0; i < c.length; i += 2) {
    const x = (m0 * (((c[i]! * 0x0e79a9c1n) % p) + hi) + m1) % p;
    hi = (m2 * ((c[i + 1]! + x) % p) + m3) % p;
    lo += hi + x;
  }
  hi = (hi + m1) % p;
  lo = (lo + m3) % p;
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt32LE((w ^ Number(i % 2 === 0 ? hi : lo)) >>> 0, i * 4));
  return out.toString("hex");
}

/** Runs VER/CVR/USR TWN I on a fresh connection; resolves with the client and the policy line. */
async function startTwn(port: number, version: number, email: string): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.send(`VER 1 MSNP${version} CVR0`);
  await c.next("VER");
  c.send(`CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 7.0.0816 MSMSGS ${email}`);
  await c.next("CVR");
  c.send(`USR 3 TWN I ${email}`);
  assert.equal((await c.next()).line, `USR 3 TWN S ${POLICY}`);
  return c;
}

describe("MSN test server: Passport service and TWN login (MSNP8–12)", () => {
  let server: MsnTestServer;

  before(async () => {
    server = new MsnTestServer({ accounts: [ALICE, BOB] });
    await server.start();
  });
  after(() => server.stop());

  test("VER: the highest offered dialect wins; unsupported ones are skipped", async () => {
    const cases: [string, string][] = [
      ["VER 1 MSNP12 MSNP11 MSNP10 MSNP9 MSNP8 CVR0", "VER 1 MSNP12"],
      ["VER 1 MSNP7 MSNP9 MSNP8", "VER 1 MSNP9"],
      ["VER 1 MSNP15 MSNP13 MSNP7 CVR0", "VER 1 MSNP7"],
      ["VER 1 msnp11", "VER 1 MSNP11"],
    ];
    for (const [request, reply] of cases) {
      const c = await RawClient.connect(server.nsPort);
      c.send(request);
      assert.equal((await c.next()).line, reply, request);
      c.close();
    }
  });

  test("nexus names DALogin on the service's own port; passportUrl points at it", async () => {
    assert.equal(server.passportUrl, `http://127.0.0.1:${server.httpPort}/rdr/pprdr.asp`);
    assert.notEqual(server.httpPort, server.nsPort);
    const nexus = await httpGet(server.passportUrl);
    assert.equal(nexus.status, 200);
    const urls = String(nexus.headers["passporturls"]);
    assert.match(urls, new RegExp(`(^|,)DALogin=127\\.0\\.0\\.1:${server.httpPort}/login(,|$)`));
  });

  test("/login: 200 with a 20-character token for the right credentials, 401 otherwise, 500 without Authorization", async () => {
    const login = `http://127.0.0.1:${server.httpPort}/login`;
    const ok = await httpGet(login, {
      Authorization: passportAuthorization(ALICE.email, ALICE.password, POLICY),
    });
    assert.equal(ok.status, 200);
    assert.match(
      String(ok.headers["authentication-info"]),
      /^Passport1\.4 da-status=success,.*from-PP='t=[A-Za-z0-9]{20}&p='/,
    );

    for (const [email, password] of [
      [ALICE.email, "wrong"],
      ["Alice@Example.com", ALICE.password], // case-exact, like the NS
      ["nobody@example.com", "x"],
    ] as const) {
      const bad = await httpGet(login, { Authorization: passportAuthorization(email, password, POLICY) });
      assert.equal(bad.status, 401, `${email}/${password}`);
      assert.match(String(bad.headers["www-authenticate"]), /^Passport1\.4 da-status=failed,/);
      assert.equal(bad.headers["authentication-info"], undefined);
    }

    const crash = await httpGet(login);
    assert.equal(crash.status, 500, "Escargot's handler crashes without Authorization");
    assert.equal((await httpGet(`http://127.0.0.1:${server.httpPort}/nothing`)).status, 404);
  });

  test("the nexus redirect switch answers 302 first; the Location then names DALogin", async () => {
    server.setPassportNexusRedirect(true);
    try {
      const first = await httpGet(server.passportUrl);
      assert.equal(first.status, 302);
      const location = String(first.headers.location);
      assert.notEqual(location, server.passportUrl);
      const second = await httpGet(location);
      assert.equal(second.status, 200);
      assert.match(String(second.headers["passporturls"]), /DALogin=127\.0\.0\.1:\d+\/login/);
    } finally {
      server.setPassportNexusRedirect(false);
    }
  });

  test("USR TWN: MSNP8/9 answer OK with the name, 10+ without; 11+ add SBS 0 null", async () => {
    const expected: Record<number, string[]> = {
      8: ["USR 4 OK alice@example.com Alice%20A 1 0", "MSG"],
      9: ["USR 4 OK alice@example.com Alice%20A 1 0", "MSG"],
      10: ["USR 4 OK alice@example.com 1 0", "MSG"],
      11: ["USR 4 OK alice@example.com 1 0", "MSG", "SBS 0 null"],
      12: ["USR 4 OK alice@example.com 1 0", "MSG", "SBS 0 null"],
    };
    for (const [version, lines] of Object.entries(expected)) {
      const c = await startTwn(server.nsPort, Number(version), ALICE.email);
      const ticket = await fetchTicket(server.passportUrl, ALICE.email, ALICE.password);
      c.send(`USR 4 TWN S ${ticket}`);
      const got: string[] = [];
      for (const want of lines) {
        const r = await c.next();
        got.push(want === "MSG" ? r.name : r.line);
        if (r.name === "MSG") {
          assert.match(r.payload!.toString(), /^MIME-Version: 1\.0\r\nContent-Type: text\/x-msmsgsprofile/);
          assert.match(r.payload!.toString(), /\r\nClientPort: \d+\r\n/);
        }
      }
      assert.deepEqual(got, lines, `MSNP${version}`);
      assert.deepEqual(await c.drain(30), [], `nothing else before SYN/CHG on MSNP${version}`);
      c.send("OUT");
      await c.closed;
    }
  });

  test("the ticket may be bare or t=…&p=…, and is not single-use", async () => {
    const ticket = await fetchTicket(server.passportUrl, BOB.email, BOB.password);
    const token = /^t=([^&]+)&p=$/.exec(ticket)?.[1];
    assert.equal(token?.length, 20);
    const first = await startTwn(server.nsPort, 12, BOB.email);
    first.send(`USR 4 TWN S ${token}`);
    assert.equal((await first.next()).line, "USR 4 OK bob@example.com 1 0");
    const second = await startTwn(server.nsPort, 8, BOB.email);
    second.send(`USR 4 TWN S ${ticket}`);
    assert.equal((await second.next()).line, "USR 4 OK bob@example.com Bob 1 0");
    assert.equal((await first.next("OUT")).line, "OUT OTH", "the older session is kicked as on MD5");
    second.close();
    await server.waitUntil(() => !server.isOnline(BOB.email), 2000, "bob offline");
  });

  test("911 and a close for a bad ticket, another account's ticket and an expired one", async () => {
    const bad = await startTwn(server.nsPort, 12, ALICE.email);
    bad.send("USR 4 TWN S t=AAAAAAAAAAAAAAAAAAAA&p=");
    assert.equal((await bad.next()).line, "911 4");
    assert.ok(await bad.closesWithin());

    const foreign = await startTwn(server.nsPort, 9, ALICE.email);
    foreign.send(`USR 4 TWN S ${await fetchTicket(server.passportUrl, BOB.email, BOB.password)}`);
    assert.equal((await foreign.next()).line, "911 4");
    assert.ok(await foreign.closesWithin());

    server.setPassportTokenTtl(40);
    try {
      const ticket = await fetchTicket(server.passportUrl, ALICE.email, ALICE.password);
      const late = await startTwn(server.nsPort, 10, ALICE.email);
      await new Promise((resolve) => setTimeout(resolve, 80));
      late.send(`USR 4 TWN S ${ticket}`);
      assert.equal((await late.next()).line, "911 4");
      assert.ok(await late.closesWithin());
    } finally {
      server.setPassportTokenTtl(30_000);
    }
  });

  test("an XFR NS redirect on MSNP8+ carries the address twice (… NS host:port 0 host:port)", async () => {
    server.redirectNs({ host: "127.0.0.1", port: 1863 }, 1);
    const c = await RawClient.connect(server.nsPort);
    c.send("VER 1 MSNP12");
    await c.next("VER");
    c.send(`USR 2 TWN I ${ALICE.email}`);
    assert.equal((await c.next()).line, "XFR 2 NS 127.0.0.1:1863 0 127.0.0.1:1863");
    c.close();
  });

  test("MSNP8+: INF and USR MD5 close the connection without a reply; CVR needs six arguments", async () => {
    const c = await RawClient.connect(server.nsPort);
    c.send("VER 1 MSNP8");
    await c.next("VER");
    c.send("CVR 2 0x0409 winnt");
    c.send(`CVR 3 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS ${ALICE.email}`);
    assert.match((await c.next()).line, /^CVR 3 6\.0\.0602 /);
    c.send("INF 4");
    assert.ok(await c.closesWithin(), "INF closes on MSNP8+");
    assert.deepEqual(await c.drain(0), []);

    const d = await RawClient.connect(server.nsPort);
    d.send("VER 1 MSNP11");
    await d.next("VER");
    d.send(`USR 2 MD5 I ${ALICE.email}`);
    assert.ok(await d.closesWithin(), "MD5 closes on MSNP8+");
    assert.deepEqual(await d.drain(0), []);
  });

  test("challenges: MSNP11+ verify the MSNP11 transform, MSNP8–10 md5 with the MSN 6 pair; wrong → 540", async () => {
    // Public test vectors for the transform (as published with several open clients).
    assert.equal(
      msnp11Answer("22210219642164014968", "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL"),
      "85ecb0db8f32113df79ce0892b9a102c",
    );
    assert.equal(
      msnp11Answer("36819795137093047918", "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL"),
      "e7ad3cb09d3e9e4e7c720175984809e9",
    );
    server.setChallenges(true);
    try {
      const answers: [number, string, (chl: string) => string][] = [
        [12, "PROD0090YUAUV{2B", (chl) => msnp11Answer(chl, "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL")],
        [9, "PROD0038W!61ZTF9", (chl) => createHash("md5").update(`${chl}VT6PX?UQTM4WM%YR`).digest("hex")],
      ];
      for (const [version, productId, answer] of answers) {
        const c = await loginTwn(server, version, ALICE.email, ALICE.password);
        const chl = await c.next("CHL");
        assert.match(chl.line, /^CHL 0 \d{20}$/);
        c.sendPayload(`QRY 7 ${productId}`, answer(chl.tokens[2]!));
        assert.equal((await c.next()).line, "QRY 7", `MSNP${version}`);
        c.close();
      }
      const wrong = await loginTwn(server, 11, ALICE.email, ALICE.password);
      const chl = await wrong.next("CHL");
      // The md5-only answer of older dialects is not good enough on MSNP11.
      const md5Only = createHash("md5").update(`${chl.tokens[2]}YMM8C_H7KCQ2S_KL`).digest("hex");
      wrong.sendPayload("QRY 8 PROD0090YUAUV{2B", md5Only);
      assert.equal((await wrong.next()).line, "540 8");
      assert.ok(await wrong.closesWithin());
    } finally {
      server.setChallenges(false);
    }
  });
});
