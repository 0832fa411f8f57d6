/**
 * Proves the real-homeserver plumbing the bridge's end-to-end tests stand on: Synapse from the
 * chroot starts, two Element-like users talk through it, and an appservice registered the way the
 * bridge registers receives the room's events and ephemeral events, authenticated with its hs_token.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { stringify as toYaml } from "yaml";
import { startSynapse, type SynapseHandle } from "../harness/synapse.js";
import { TestMatrixUser } from "../harness/matrix-client.js";

interface ReceivedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

type JsonObject = Record<string, unknown>;

/** Just enough of an appservice to record what Synapse pushes to it. */
class RecordingAppservice {
  readonly requests: ReceivedRequest[] = [];
  private readonly emitter = new EventEmitter();
  private readonly server: Server = createServer((req, res) => void this.handle(req, res));

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    assert.ok(address !== null && typeof address === "object");
    return address.port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: JsonObject = {};
    try {
      const parsed: unknown = text ? JSON.parse(text) : {};
      if (typeof parsed === "object" && parsed !== null) body = parsed as JsonObject;
    } catch {
      // Recorded as an empty body; the assertions will say what was missing.
    }
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const request = { method: req.method ?? "", path, authorization: req.headers.authorization, body };
    this.requests.push(request);
    this.emitter.emit("request", request);
    const known = path.startsWith("/_matrix/app/v1/transactions/") || path === "/_matrix/app/v1/ping";
    res.writeHead(known ? 200 : 404, { "content-type": "application/json" });
    res.end(known ? "{}" : JSON.stringify({ errcode: "M_NOT_FOUND", error: "not here" }));
  }

  /** The first request (already received or arriving within `timeoutMs`) matching `predicate`. */
  waitFor(
    what: string,
    predicate: (r: ReceivedRequest) => boolean,
    timeoutMs = 10_000,
  ): Promise<ReceivedRequest> {
    const seen = this.requests.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const onRequest = (r: ReceivedRequest): void => {
        if (!predicate(r)) return;
        clearTimeout(timer);
        this.emitter.off("request", onRequest);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.emitter.off("request", onRequest);
        const got = this.requests.map((r) => `${r.method} ${r.path}`).join(", ") || "nothing";
        reject(new Error(`appservice: timed out waiting for ${what}; received: ${got}`));
      }, timeoutMs);
      this.emitter.on("request", onRequest);
    });
  }
}

function arrayField(obj: JsonObject, ...keys: string[]): JsonObject[] {
  for (const key of keys) {
    const value = obj[key];
    if (Array.isArray(value))
      return value.filter((v): v is JsonObject => typeof v === "object" && v !== null);
  }
  return [];
}

describe("real Synapse from the chroot", () => {
  const asId = "msn-smoke";
  const asToken = randomBytes(16).toString("hex");
  const hsToken = randomBytes(16).toString("hex");
  const appservice = new RecordingAppservice();
  let workDir: string | undefined;
  let synapse: SynapseHandle | undefined;
  const users: TestMatrixUser[] = [];

  before(async () => {
    const asPort = await appservice.listen();
    workDir = await mkdtemp(join(tmpdir(), "msn-smoke-"));
    const registration = join(workDir, "registration.yaml");
    await writeFile(
      registration,
      toYaml({
        id: asId,
        url: `http://127.0.0.1:${asPort}`,
        as_token: asToken,
        hs_token: hsToken,
        sender_localpart: "msn_bot",
        rate_limited: false,
        namespaces: { users: [{ exclusive: true, regex: "@msn_.*:msn\\.test" }], aliases: [], rooms: [] },
        "de.sorunome.msc2409.push_ephemeral": true,
        receive_ephemeral: true,
      }),
    );
    synapse = await startSynapse({ appserviceRegistrationFiles: [registration], serverName: "msn.test" });
  });

  after(async () => {
    for (const user of users) user.stop();
    await synapse?.stop();
    await appservice.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  test("two users chat in a DM and the appservice receives the room's events with its hs_token", async () => {
    assert.ok(synapse);
    const hs = synapse;

    // Synapse reaches the appservice and authenticates with the hs_token.
    assert.equal(typeof (await hs.pingAppservice(asId, asToken)), "number");
    const ping = await appservice.waitFor("the ping", (r) => r.path === "/_matrix/app/v1/ping");
    assert.equal(ping.authorization, `Bearer ${hsToken}`);

    // Only the appservice may hold names in its exclusive namespace.
    await assert.rejects(hs.registerUser("msn_intruder", "pw"), /M_EXCLUSIVE/);

    const [aliceCreds, bobCreds] = await Promise.all([
      hs.registerUser("alice", "alice-pw"),
      hs.registerUser("bob", "bob-pw"),
    ]);
    assert.equal(aliceCreds.userId, "@alice:msn.test");
    const [alice, bob] = await Promise.all([
      TestMatrixUser.start({ baseUrl: hs.baseUrl, ...aliceCreds }),
      TestMatrixUser.start({ baseUrl: hs.baseUrl, ...bobCreds }),
    ]);
    users.push(alice, bob);

    // The bridge bot in the room is what makes the appservice interested in it.
    const botId = "@msn_bot:msn.test";
    const roomId = await alice.createDirectRoom([bob.userId, botId]);
    const botJoin = await fetch(`${hs.baseUrl}/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${asToken}`, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(botJoin.status, 200, await botJoin.text());

    assert.equal(await bob.waitForInvite(alice.userId), roomId);
    await bob.joinRoom(roomId);

    const eventId = await alice.sendText(roomId, "hello bob");
    const received = await bob.waitForMessage(roomId, "hello bob");
    assert.equal(received.getId(), eventId);
    assert.equal(received.getSender(), alice.userId);

    const txn = await appservice.waitFor("the transaction carrying alice's message", (r) =>
      arrayField(r.body, "events").some((e) => e["event_id"] === eventId),
    );
    assert.equal(txn.method, "PUT");
    assert.match(txn.path, /^\/_matrix\/app\/v1\/transactions\/[^/]+$/);
    assert.equal(txn.authorization, `Bearer ${hsToken}`);
    const event = arrayField(txn.body, "events").find((e) => e["event_id"] === eventId);
    assert.equal(event?.["sender"], alice.userId);
    assert.equal(event?.["room_id"], roomId);
    assert.deepEqual(event?.["content"], { msgtype: "m.text", body: "hello bob" });

    // Ephemeral events (typing) reach both the other user and the appservice (MSC2409).
    await alice.setTyping(roomId, true);
    await bob.waitForTyping(roomId, alice.userId, true);
    const typingTxn = await appservice.waitFor("an m.typing ephemeral event", (r) =>
      arrayField(r.body, "ephemeral", "de.sorunome.msc2409.ephemeral").some(
        (e) => e["type"] === "m.typing" && e["room_id"] === roomId,
      ),
    );
    assert.equal(typingTxn.authorization, `Bearer ${hsToken}`);
    const typing = arrayField(typingTxn.body, "ephemeral", "de.sorunome.msc2409.ephemeral").find(
      (e) => e["type"] === "m.typing",
    );
    assert.deepEqual((typing?.["content"] as JsonObject | undefined)?.["user_ids"], [alice.userId]);
  });
});
