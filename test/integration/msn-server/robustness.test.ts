import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { MsnTestServer } from "../../msn-server/index.js";
import { goOnline, goOnlineTwn, login, loginTwn, md5hex, RawClient, syncList } from "./raw-client.js";

const ALICE = { email: "alice@example.com", password: "a", name: "Alice" };
const BOB = { email: "bob@example.com", password: "b", name: "Bob" };

/** Small deterministic PRNG so a failing fuzz run can be reproduced from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const COMMANDS = [
  "VER",
  "CVR",
  "INF",
  "USR",
  "SYN",
  "CHG",
  "ADD",
  "REM",
  "ADG",
  "RMG",
  "REG",
  "BLP",
  "GTC",
  "REA",
  "XFR",
  "PNG",
  "QRY",
  "SND",
  "URL",
  "CAL",
  "ANS",
  "MSG",
  "UUX",
  "ADC",
  "PRP",
  "FOO",
  "OUT",
];
const TOKENS = [
  "1",
  "0",
  "-1",
  "99999999999999999999",
  "MSNP7",
  "MSNP12",
  "MD5",
  "TWN",
  "MFN",
  "N=bob@example.com",
  "N=nobody",
  "F=%20",
  "C=00000000-0000-0000-0000-000000000000",
  "t=AAAAAAAAAAAAAAAAAAAA&p=",
  "I",
  "S",
  "FL",
  "AL",
  "BL",
  "RL",
  "PL",
  "NLN",
  "HDN",
  "FLN",
  "BL",
  "A",
  "N",
  "U",
  "D",
  "SB",
  "NS",
  "alice@example.com",
  "bob@example.com",
  "Alice@Example.com",
  "%",
  "%zz",
  "%20",
  "%C3%A4",
  "ü",
  "0",
  "7",
  "",
];

describe("MSN test server: robustness", () => {
  let server: MsnTestServer;
  let logs: string[];

  beforeEach(async () => {
    logs = [];
    server = new MsnTestServer({
      accounts: [
        { ...ALICE, contacts: [BOB.email] },
        { ...BOB, contacts: [ALICE.email] },
      ],
      maxLineBytes: 1024,
      maxPayloadBytes: 4096,
      log: (m) => logs.push(m),
    });
    await server.start();
  });
  afterEach(() => server.stop());

  test("an over-long line or an over-large payload drops the connection", async () => {
    const long = await RawClient.connect(server.nsPort);
    long.sendRaw(`VER 1 ${"M".repeat(2000)}`);
    assert.ok(await long.closesWithin(), "no line terminator within the limit");

    const big = await RawClient.connect(server.nsPort);
    big.send("UUX 1 100000");
    assert.ok(await big.closesWithin(), "announced payload above the limit");

    const nolength = await RawClient.connect(server.sbPort);
    nolength.send("MSG 1 A abc");
    assert.ok(await nolength.closesWithin(), "payload command without a numeric length");

    const fine = await login(server.nsPort, ALICE.email, ALICE.password);
    fine.close();
  });

  test("framing survives commands split into single bytes and glued together", async () => {
    const c = await RawClient.connect(server.nsPort);
    const salt = server.account(ALICE.email)!.salt;
    const script =
      "VER 1 MSNP7\r\n" +
      "USR 2 MD5 I alice@example.com\r\n" +
      `USR 3 MD5 S ${md5hex(salt + ALICE.password)}\r\n` +
      "PNG\nPNG\r\n"; // a bare LF is accepted too, like Escargot
    for (const byte of Buffer.from(script)) {
      c.sendRaw(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal((await c.next()).line, "VER 1 MSNP7");
    assert.equal((await c.next()).line, `USR 2 MD5 S ${salt}`);
    assert.equal((await c.next()).line, "USR 3 OK alice@example.com Alice 1");
    await c.next("MSG");
    assert.deepEqual([(await c.next()).line, (await c.next()).line], ["QNG", "QNG"]);
    c.close();
  });

  test("random commands in every state never crash the server or its handlers", async () => {
    const random = prng(0x5eed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const spray = async (c: RawClient, n: number) => {
      for (let i = 0; i < n && !c.isClosed; i++) {
        const name = pick(COMMANDS);
        const args = Array.from({ length: Math.floor(random() * 6) }, () => pick(TOKENS)).filter(
          (t) => t !== "",
        );
        if (["MSG", "QRY", "UUX"].includes(name)) {
          c.sendPayload(`${name} ${args.join(" ")}`.trim(), Buffer.from(pick(TOKENS)));
        } else {
          c.send(`${name} ${args.join(" ")}`.trim());
        }
      }
      await c.drain(20);
    };
    for (let round = 0; round < 8; round++) {
      await spray(await RawClient.connect(server.nsPort), 40);
      await spray(await RawClient.connect(server.sbPort), 40);
      const a = await login(server.nsPort, ALICE.email, ALICE.password);
      await goOnline(a);
      await spray(a, 60);
      // The same on MSNP12 (TWN login, ADC/PRP/UUX handlers).
      const b = await loginTwn(server, 12, BOB.email, BOB.password);
      await syncList(b, 12);
      await goOnlineTwn(b);
      await spray(b, 60);
      b.close();
      const raw = await RawClient.connect(server.sbPort);
      raw.sendRaw(Buffer.from(Array.from({ length: 300 }, () => Math.floor(random() * 256))));
      await raw.drain(10);
      for (const c of [a, raw]) c.close();
    }
    assert.deepEqual(
      logs.filter((l) => l.includes("handler for")),
      [],
      "no handler threw (Escargot would answer nothing; we should not even get there)",
    );
    // Still fully working afterwards.
    const b = await login(server.nsPort, BOB.email, BOB.password);
    await goOnline(b);
    b.close();
  });

  test("stop() leaves no timers or sockets behind and fails pending waits", async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const busy = new MsnTestServer({
      accounts: [ALICE, BOB],
      challenges: true,
      sbIdleTimeoutMs: 60_000,
    });
    await busy.start();
    const a = await login(busy.nsPort, ALICE.email, ALICE.password);
    await a.next("CHL");
    const idleSb = await RawClient.connect(busy.sbPort);
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the server accept it
    const pending = busy.waitForCommand(ALICE.email, "NEVER", 60_000);
    busy.delayReplies("PNG", 60_000);
    a.send("PNG");
    await busy.waitForCommand(ALICE.email, "PNG");
    await busy.stop();
    await assert.rejects(pending, /stopped/);
    assert.ok(await a.closesWithin());
    assert.ok(await idleSb.closesWithin());
    const after = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    assert.ok(after <= before, `timers left behind: ${after - before}`);
  });
});
