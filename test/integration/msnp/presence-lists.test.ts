import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ALICE, BOB, CAROL, Harness, PROFILES, collect, negotiated, sleep, waitForEvent } from "./helpers.js";
import { MsnArgumentError, MsnServerError } from "../../../src/msnp/errors.js";

for (const profile of PROFILES) {
  describe(`msnp client against the MSN test server: presence and lists (${profile.name})`, () => {
    let h: Harness;

    before(async () => {
      h = await Harness.start({}, profile);
    });
    after(() => h.stop());
    afterEach(async () => {
      await Promise.allSettled(h.sessions.map((s) => s.close()));
      h.server.setDuplicateNln(false);
      await h.server.waitUntil(
        () => ![ALICE, BOB, CAROL].some((a) => h.server.isOnline(a.email)),
        2000,
        "everyone offline",
      );
    });

    test("ILN at login, NLN on changes, FLN at logout; duplicates suppressed", async () => {
      const bob = await h.login(BOB, { initialStatus: "AWY" });
      const alice = await h.login(ALICE);
      // Bob was online before Alice's first CHG: the ILN burst told her.
      assert.equal(alice.contacts.get(BOB.email)?.status, "AWY");
      assert.equal(alice.contacts.get(BOB.email)?.friendlyName, BOB.name);

      h.server.setDuplicateNln(true);
      const presence = collect(alice, "presence");
      await bob.setStatus("BSY");
      await waitForEvent(alice, "presence", (p) => p.contact.status === "BSY");
      await bob.setFriendlyName("Bøb ✓ 100%");
      await waitForEvent(alice, "presence", (p) => p.contact.friendlyName === "Bøb ✓ 100%");
      await bob.setStatus("BSY"); // no visible change: the server still sends NLN (twice)
      await sleep(100);
      const offline = waitForEvent(alice, "presence", (p) => p.contact.status === "FLN");
      await bob.close();
      await offline;
      assert.deepEqual(
        presence.map((p) => `${p.previousStatus}->${p.contact.status} ${p.contact.friendlyName}`),
        [`AWY->BSY ${BOB.name}`, `BSY->BSY Bøb ✓ 100%`, "BSY->FLN Bøb ✓ 100%"],
      );
      await h.server.waitUntil(() => !h.server.isOnline(BOB.email));
      // Restore Bob's name for later tests.
      const restore = await h.login(BOB);
      await restore.setFriendlyName(BOB.name);
    });

    const versionNumber = (account: typeof ALICE): number => Number(negotiated(profile, account).slice(4));
    if (versionNumber(ALICE) >= 11 && versionNumber(BOB) >= 11) {
      test("personal messages (UUX → UBX) arrive as presence with contact.personalMessage", async () => {
        const alice = await h.login(ALICE);
        const bob = await h.login(BOB);
        const seen = waitForEvent(alice, "presence", (p) => p.contact.personalMessage === "Out & about <3");
        await bob.setPersonalMessage("Out & about <3");
        const event = await seen;
        assert.equal(event.contact.email, BOB.email);
        assert.equal(event.contact.status, "NLN");
        const cleared = waitForEvent(alice, "presence", (p) => p.contact.personalMessage === "");
        await bob.setPersonalMessage("");
        assert.equal((await cleared).previousPersonalMessage, "Out & about <3");
      });
    }

    test("our own friendly name round-trips through percent-encoding", async () => {
      const carol = await h.login(CAROL);
      const changed = waitForEvent(carol, "friendlyNameChanged");
      await carol.setFriendlyName("Cärol 100% ☃");
      assert.deepEqual(await changed, { friendlyName: "Cärol 100% ☃", previous: CAROL.name });
      assert.equal(h.server.account(CAROL.email)?.name, "Cärol 100% ☃");
      await carol.setFriendlyName(CAROL.name);
    });

    test("adding a contact: FL+AL on our side, reverse-list notification on theirs; removing undoes it", async () => {
      const alice = await h.login(ALICE);
      const carol = await h.login(CAROL, { initialStatus: "LUN" });
      const added = collect(alice, "contactAdded");
      const reverse = waitForEvent(carol, "reverseListAdd");

      await alice.addContact(CAROL.email);
      assert.deepEqual(await reverse, { email: ALICE.email, friendlyName: ALICE.name });
      assert.deepEqual(
        added.map((a) => a.list),
        ["FL", "AL"],
      );
      const contact = alice.contacts.get(CAROL.email);
      assert.deepEqual(contact?.lists, { forward: true, allow: true, block: false, reverse: false });
      assert.equal(contact?.status, "LUN", "the ILN after ADD gives the presence at once");
      assert.ok(h.server.account(ALICE.email)?.lists.FL.includes(CAROL.email));
      assert.equal(carol.contacts.get(ALICE.email)?.lists.reverse, true);

      const reverseRemoved = waitForEvent(carol, "reverseListRemove");
      const removed = waitForEvent(alice, "contactRemoved");
      await alice.removeContact(CAROL.email);
      assert.deepEqual(await reverseRemoved, { email: ALICE.email });
      assert.equal((await removed).list, "FL");
      assert.equal(alice.contacts.get(CAROL.email)?.lists.forward, false);
      assert.ok(!h.server.account(ALICE.email)?.lists.FL.includes(CAROL.email));
      // Like the official client, removal leaves the contact allowed.
      assert.equal(alice.contacts.get(CAROL.email)?.lists.allow, true);
      assert.ok(h.server.account(ALICE.email)?.lists.AL.includes(CAROL.email));
    });

    test("adding an unknown account fails with 205; invalid addresses never reach the wire", async () => {
      const alice = await h.login(ALICE);
      await assert.rejects(
        alice.addContact("nobody@example.com"),
        // 205 on MSNP≤9, 208 on MSNP10+ (msnp.md §4.3).
        (error: unknown) => error instanceof MsnServerError && [205, 208].includes(error.code),
      );
      const before = h.server.received(ALICE.email).length;
      await assert.rejects(alice.addContact("not an address"), MsnArgumentError);
      assert.equal(h.server.received(ALICE.email).length, before);
      assert.equal(alice.isConnected, true);
    });

    test("blocking makes us appear offline to the blocked contact; unblocking restores it", async () => {
      const alice = await h.login(ALICE);
      const bob = await h.login(BOB);
      await h.server.waitUntil(() => bob.contacts.get(ALICE.email)?.status === "NLN", 2000, "bob sees alice");
      const gone = waitForEvent(
        bob,
        "presence",
        (p) => p.contact.email === ALICE.email && p.contact.status === "FLN",
      );
      await alice.block(BOB.email);
      await gone;
      assert.deepEqual(alice.contacts.get(BOB.email)?.lists, {
        forward: true,
        allow: false,
        block: true,
        reverse: true,
      });
      const back = waitForEvent(
        bob,
        "presence",
        (p) => p.contact.email === ALICE.email && p.contact.status === "NLN",
      );
      await alice.unblock(BOB.email);
      await back;
    });

    test("HDN makes us offline to others", async () => {
      const alice = await h.login(ALICE);
      const bob = await h.login(BOB);
      await h.server.waitUntil(() => bob.contacts.get(ALICE.email)?.status === "NLN", 2000, "bob sees alice");
      const hidden = waitForEvent(bob, "presence", (p) => p.contact.status === "FLN");
      await alice.setStatus("HDN");
      await hidden;
      assert.equal(alice.status, "HDN");
    });
  });
}
