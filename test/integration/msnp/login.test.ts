import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ALICE, BOB, CAROL, Harness, PROFILES, negotiated, sleep, waitForEvent } from "./helpers.js";
import { MsnTestServer } from "../../msn-server/index.js";
import { MsnServerError, MsnTimeoutError } from "../../../src/msnp/errors.js";
import { PassportAuthError } from "../../../src/msnp/passport.js";

for (const profile of PROFILES) {
  describe(`msnp client against the MSN test server: login (${profile.name})`, () => {
    let h: Harness;

    before(async () => {
      h = await Harness.start({}, profile);
    });
    after(() => h.stop());

    test("login (MD5 or Passport TWN), list sync and first CHG; presence across versions", async () => {
      const bob = await h.login(BOB, { initialStatus: "BRB" });
      const alice = await h.login(ALICE);
      assert.equal(alice.protocolVersion, negotiated(profile, ALICE));
      assert.equal(bob.protocolVersion, negotiated(profile, BOB));
      assert.equal(alice.email, ALICE.email);
      assert.equal(alice.friendlyName, ALICE.name);
      assert.equal(alice.status, "NLN");
      assert.equal(h.server.statusOf(ALICE.email), "NLN");
      const bobSeen = alice.contacts.get(BOB.email);
      assert.equal(bobSeen?.friendlyName, BOB.name);
      assert.deepEqual(bobSeen?.lists, { forward: true, allow: true, block: false, reverse: true });
      assert.equal(bobSeen?.status, "BRB", "from the ILN burst after the first CHG");
      await h.server.waitUntil(() => bob.contacts.get(ALICE.email)?.status === "NLN", 2000, "bob sees alice");
      await alice.close();
      await bob.close();
      await h.server.waitUntil(() => !h.server.isOnline(ALICE.email), 2000, "alice offline");
    });

    test("wrong password: an auth failure with code 911, closed with login-failed", async () => {
      const session = h.session({ ...CAROL, password: "wrong" });
      const closed = waitForEvent(session, "closed");
      await assert.rejects(session.connect(), (error: unknown) =>
        negotiated(profile, CAROL) === "MSNP7"
          ? error instanceof MsnServerError && error.code === 911
          : error instanceof PassportAuthError && error.code === 911,
      );
      assert.equal((await closed).reason, "login-failed");
      assert.equal(h.server.isOnline(CAROL.email), false);
    });

    test("a second login kicks the first with OUT OTH", async () => {
      const first = await h.login(CAROL);
      const closed = waitForEvent(first, "closed");
      const second = await h.login(CAROL);
      assert.deepEqual(await closed, { reason: "other-login" });
      assert.equal(second.isConnected, true);
      await second.close();
    });

    test("CHL at login and mid-session is answered with the dialect's algorithm (QRY accepted)", async () => {
      h.server.setChallenges(true);
      try {
        const carol = await h.login(CAROL);
        await h.server.waitForCommand(CAROL.email, "QRY", 2000);
        h.server.clearTranscript();
        h.server.sendChallenge(CAROL.email);
        await h.server.waitForSent(CAROL.email, (r) => r.name === "QRY", 2000);
        await sleep(50);
        assert.equal(carol.isConnected, true, "a wrong answer would have been 540 and a disconnect");
        await carol.close();
      } finally {
        h.server.setChallenges(false);
      }
    });
  });
}

describe("msnp client against the MSN test server: login and session lifetime (MSNP7)", () => {
  let h: Harness;

  before(async () => {
    h = await Harness.start();
  });
  after(() => h.stop());

  test("server kick with OUT SSD: server-shutdown", async () => {
    const carol = await h.login(CAROL);
    const closed = waitForEvent(carol, "closed");
    h.server.kick(CAROL.email, "SSD");
    assert.deepEqual(await closed, { reason: "server-shutdown" });
  });

  test("connection dropped without goodbye: socket-closed (FIN) or socket-error (RST)", async () => {
    const carol = await h.login(CAROL);
    const closed = waitForEvent(carol, "closed");
    h.server.dropConnections(CAROL.email);
    assert.equal((await closed).reason, "socket-closed");

    const again = await h.login(CAROL);
    const reset = waitForEvent(again, "closed");
    h.server.dropConnections(CAROL.email, { reset: true });
    assert.ok(["socket-error", "socket-closed"].includes((await reset).reason));
  });

  test("keep-alive: answered PNGs keep the session; unanswered ones close it with keepalive-timeout", async () => {
    const carol = await h.login(CAROL, { pingIntervalMs: 40, maxMissedPongs: 2 });
    await sleep(250);
    assert.equal(carol.isConnected, true);
    assert.ok(h.server.received(CAROL.email).filter((r) => r.name === "PNG").length >= 3);
    const closed = waitForEvent(carol, "closed", () => true, 2000);
    const started = Date.now();
    h.server.setPingReplies(false, CAROL.email);
    try {
      const event = await closed;
      assert.equal(event.reason, "keepalive-timeout");
      assert.ok(event.error instanceof MsnTimeoutError);
      // Dead after at most (maxMissedPongs + 1) intervals plus scheduling slack.
      assert.ok(Date.now() - started < 400, `took ${Date.now() - started} ms`);
    } finally {
      h.server.setPingReplies(true, CAROL.email);
    }
  });

  test("XFR NS redirect to another server: logs in there", async () => {
    const target = new MsnTestServer({ accounts: [CAROL] });
    await target.start();
    try {
      h.server.redirectNs({ host: target.host, port: target.nsPort }, 1);
      const carol = await h.login(CAROL);
      assert.equal(carol.isConnected, true);
      assert.equal(target.isOnline(CAROL.email), true);
      assert.equal(h.server.isOnline(CAROL.email), false);
      assert.ok(
        h.server.received().some((r) => r.name === "USR"),
        "first server saw the USR I",
      );
      await carol.close();
    } finally {
      h.server.redirectNs(null);
      await target.stop();
    }
  });

  test("redirect loop is cut by the hop limit", async () => {
    h.server.redirectNs({ host: h.server.host, port: h.server.nsPort });
    try {
      const carol = h.session(CAROL, { maxRedirects: 2 });
      const closed = waitForEvent(carol, "closed");
      await assert.rejects(carol.connect(), /more than 2 XFR NS redirects/);
      assert.equal((await closed).reason, "protocol-error");
    } finally {
      h.server.redirectNs(null);
    }
  });

  test("a server that stops answering: requests time out with typed errors", async () => {
    const carol = await h.login(CAROL, { requestTimeoutMs: 150 });
    const removeRule = h.server.dropReplies("CHG", { email: CAROL.email });
    try {
      await assert.rejects(carol.setStatus("AWY"), MsnTimeoutError);
      assert.equal(carol.isConnected, true, "a lost reply is not fatal");
    } finally {
      removeRule();
    }
    await carol.setStatus("BSY");
    assert.equal(carol.status, "BSY");
    await carol.close();
  });
});
