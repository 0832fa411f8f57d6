import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ALICE, BOB, Harness, chat, sleep, waitForEvent } from "./helpers.js";
import { FramingError } from "../../../src/msnp/errors.js";

/** Bytes injected into live sessions by the test server, as a broken or hostile server would send them. */
describe("msnp client against the MSN test server: bad server input", () => {
  let h: Harness;

  before(async () => {
    h = await Harness.start();
  });
  after(() => h.stop());
  afterEach(async () => {
    await Promise.allSettled(h.sessions.map((s) => s.close()));
    await h.server.waitUntil(() => !h.server.isOnline(ALICE.email) && !h.server.isOnline(BOB.email));
  });

  test("unknown commands, stray errors and odd-but-valid lines are ignored", async () => {
    const alice = await h.login(ALICE);
    // The UBX at the end carries the 3-byte payload "abc" (MSNP11+ presence data; ignored here).
    h.server.injectRaw(
      ALICE.email,
      "XYZ 0 what\r\nQNG\r\n999 77\r\nNLN\r\nFLN\r\nILN 5\r\nADD 0\r\nRNG\r\nOUX SSD\r\nUBX bob@example.com 3\r\nabc",
    );
    await sleep(50);
    assert.equal(alice.isConnected, true);
    await alice.setStatus("BRB");
    assert.equal(h.server.statusOf(ALICE.email), "BRB");
  });

  for (const [label, bytes] of [
    ["a line that is not MSNP", Buffer.from("<html>502 Bad Gateway</html>\r\n")],
    ["invalid UTF-8", Buffer.from([0x4e, 0x4c, 0x4e, 0x20, 0xff, 0x0d, 0x0a])],
    ["a non-numeric MSG length", Buffer.from("MSG Hotmail Hotmail abc\r\n")],
    ["an absurd MSG length", Buffer.from(`MSG Hotmail Hotmail ${"9".repeat(30)}\r\n`)],
  ] as const) {
    test(`NS: ${label} → closed with protocol-error, no crash`, async () => {
      const alice = await h.login(ALICE);
      const closed = waitForEvent(alice, "closed");
      h.server.injectRaw(ALICE.email, bytes);
      const event = await closed;
      assert.equal(event.reason, "protocol-error");
      assert.ok(event.error instanceof FramingError);
      await h.server.waitUntil(() => !h.server.isOnline(ALICE.email), 2000, "server saw the disconnect");
    });
  }

  test("NS: an endless line is cut off at the client's line limit", async () => {
    const alice = await h.login(ALICE);
    const closed = waitForEvent(alice, "closed");
    for (let i = 0; i < 6 && alice.isConnected; i += 1) {
      h.server.injectRaw(ALICE.email, Buffer.alloc(4096, 0x41));
      await sleep(5);
    }
    const event = await closed;
    assert.equal(event.reason, "protocol-error");
    assert.equal((event.error as FramingError).kind, "line-too-long");
  });

  test("SB: a malformed payload length closes only that switchboard", async () => {
    const alice = await h.login(ALICE);
    const bob = await h.login(BOB);
    const { callerBoard, calleeBoard } = await chat(alice, bob);
    const closed = waitForEvent(callerBoard, "closed");
    h.server.injectRaw(ALICE.email, "MSG bob@example.com Bob -12\r\n", { connection: "sb" });
    assert.equal((await closed).reason, "protocol-error");
    assert.equal(alice.isConnected, true, "the NS session is unaffected");
    const left = waitForEvent(calleeBoard, "leave");
    assert.equal((await left).email, ALICE.email);
  });

  test("SB: garbage MIME in a well-framed MSG is reported, not fatal", async () => {
    const alice = await h.login(ALICE);
    const bob = await h.login(BOB);
    const { callerBoard } = await chat(alice, bob);
    const unsupported = waitForEvent(callerBoard, "unsupported");
    const payload = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x0d, 0x0a, 0x41]);
    h.server.injectRaw(
      ALICE.email,
      Buffer.concat([Buffer.from(`MSG bob@example.com Bob ${payload.length}\r\n`), payload]),
      { connection: "sb" },
    );
    assert.equal((await unsupported).kind, "unknown");
    const message = waitForEvent(callerBoard, "message");
    const text = "Content-Type: text/plain\r\n\r\nstill ok";
    h.server.injectRaw(ALICE.email, `MSG bob@example.com Bob ${Buffer.byteLength(text)}\r\n${text}`, {
      connection: "sb",
    });
    assert.equal((await message).text, "still ok");
  });
});
