/**
 * Contacts share their frozen parts (list memberships, group sets) across contacts and sessions,
 * to keep a bridge with thousands of puppets small. Sharing must never let a change to one
 * contact show on another.
 */
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ScriptServer } from "./script-server.js";
import { closeSessions, newAliceSession, playFullLogin } from "./ns-script.js";
import type { NotificationSession } from "../../../src/msnp/notification.js";

let server: ScriptServer;
let sessions: NotificationSession[] = [];

async function login(): Promise<{
  session: NotificationSession;
  peer: Awaited<ReturnType<ScriptServer["nextPeer"]>>;
}> {
  const session = newAliceSession(server.port);
  sessions.push(session);
  const connecting = session.connect();
  const peer = await server.nextPeer();
  // bob and dave: FL AL, group 0; carol: FL AL, group 1.
  await playFullLogin(peer, {
    listLines: [
      "SYN 6 1",
      "LSG 6 1 1 2 0 Other%20Contacts 0",
      "LSG 6 1 2 2 1 Friends 0",
      "LST 6 FL 1 1 3 bob@example.com Bob 0",
      "LST 6 FL 1 2 3 carol@example.com Carol 1",
      "LST 6 FL 1 3 3 Dave@Example.com Dave 0",
      "LST 6 AL 1 1 3 bob@example.com Bob",
      "LST 6 AL 1 2 3 carol@example.com Carol",
      "LST 6 AL 1 3 3 Dave@Example.com Dave",
      "LST 6 BL 1 0 0",
      "LST 6 RL 1 0 0",
      "GTC 6 1 A",
      "BLP 6 1 AL",
    ],
    iln: [],
  });
  await connecting;
  return { session, peer };
}

beforeEach(async () => {
  server = await ScriptServer.start();
  sessions = [];
});

afterEach(async () => {
  await closeSessions(sessions);
  await server.close();
});

describe("contact sharing", () => {
  test("equal list memberships and group sets are one frozen object, across sessions", async () => {
    const a = (await login()).session;
    const b = (await login()).session;
    const bob = a.contacts.get("bob@example.com")!;
    const dave = a.contacts.get("dave@example.com")!;
    const carol = a.contacts.get("carol@example.com")!;
    assert.deepEqual(bob.lists, { forward: true, allow: true, block: false, reverse: false });
    assert.equal(bob.lists, carol.lists);
    assert.equal(bob.lists, b.contacts.get("bob@example.com")!.lists);
    assert.deepEqual(bob.groups, ["0"]);
    assert.equal(bob.groups, dave.groups);
    assert.deepEqual(carol.groups, ["1"]);
    assert.ok(Object.isFrozen(bob) && Object.isFrozen(bob.lists) && Object.isFrozen(bob.groups));
    // The server's spelling stays where it is not lower case.
    assert.equal(dave.email, "Dave@Example.com");
    assert.equal(bob.email, "bob@example.com");
  });

  test("a change to one contact's lists or groups leaves the others as they were", async () => {
    const { session, peer } = await login();
    const other = (await login()).session;
    const removing = session.removeContact("bob@example.com");
    await peer.expect("REM 8 FL bob@example.com");
    peer.sendLines("REM 8 FL 2 bob@example.com");
    await removing;
    assert.deepEqual(session.contacts.get("bob@example.com")!.lists, {
      forward: false,
      allow: true,
      block: false,
      reverse: false,
    });
    assert.deepEqual(session.contacts.get("bob@example.com")!.groups, []);
    for (const contact of [
      session.contacts.get("carol@example.com")!,
      session.contacts.get("dave@example.com")!,
      other.contacts.get("bob@example.com")!,
    ]) {
      assert.deepEqual(contact.lists, { forward: true, allow: true, block: false, reverse: false });
      assert.equal(contact.groups.length, 1);
    }
    assert.deepEqual(other.contacts.get("bob@example.com")!.groups, ["0"]);
  });
});
