import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { ScriptServer, type ScriptPeer } from "./script-server.js";
import { MsnConnection } from "../../../src/msnp/connection.js";
import type { MsnCommand } from "../../../src/msnp/framing.js";
import {
  MsnArgumentError,
  MsnConnectionClosedError,
  MsnNetworkError,
  MsnServerError,
  MsnTimeoutError,
} from "../../../src/msnp/errors.js";

let server: ScriptServer;
let connection: MsnConnection;
let peer: ScriptPeer;
let unsolicited: MsnCommand[];

beforeEach(async () => {
  server = await ScriptServer.start();
  connection = await MsnConnection.connect({ host: "127.0.0.1", port: server.port, requestTimeoutMs: 500 });
  unsolicited = [];
  connection.on("command", (command) => unsolicited.push(command));
  peer = await server.nextPeer();
});

afterEach(async () => {
  connection.destroy();
  await server.close();
});

describe("MsnConnection", () => {
  test("TrIDs start at 1 and increase per connection; send() without TrID for PNG", async () => {
    const first = connection.request("CHG", ["NLN"]);
    const second = connection.request("CHG", ["AWY"]);
    connection.send("PNG", []);
    await peer.expect("CHG 1 NLN");
    await peer.expect("CHG 2 AWY");
    await peer.expect("PNG");
    peer.sendLines("CHG 2 AWY", "CHG 1 NLN");
    assert.deepEqual((await first).args, ["1", "NLN"]);
    assert.deepEqual((await second).args, ["2", "AWY"]);
  });

  test("commands without a TrID are never taken for replies (QNG 1, RNG 1 …)", async () => {
    const pending = connection.request("CHG", ["NLN"]);
    await peer.readLine();
    peer.sendLines("QNG 1", "RNG 1 127.0.0.1:1864 CKI c a@b.c A", "NLN NLN 1 x", "CHG 1 NLN");
    await pending;
    assert.deepEqual(
      unsolicited.map((c) => c.name),
      ["QNG", "RNG", "NLN"],
    );
  });

  test("same-TrID lines of another name are events; only the named reply settles the request", async () => {
    const pending = connection.request("ANS", ["a@b.c", "cookie", "1"]);
    await peer.readLine();
    peer.sendLines("IRO 1 1 2 x@y.z X", "IRO 1 2 2 w@y.z W", "ANS 1 OK");
    assert.deepEqual((await pending).args, ["1", "OK"]);
    assert.deepEqual(
      unsolicited.map((c) => c.args[3]),
      ["x@y.z", "w@y.z"],
    );
  });

  test("numeric errors reject the matching request with MsnServerError", async () => {
    const pending = connection.request("CAL", ["bob@example.com"]);
    await peer.readLine();
    peer.sendLines("217 1");
    await assert.rejects(
      pending,
      (error: unknown) => error instanceof MsnServerError && error.code === 217 && error.trId === 1,
    );
  });

  test("every request times out; a late reply becomes an ordinary event", async () => {
    const pending = connection.request("CHG", ["NLN"], undefined, { timeoutMs: 30 });
    await assert.rejects(
      pending,
      (error: unknown) => error instanceof MsnTimeoutError && error.timeoutMs === 30,
    );
    peer.sendLines("CHG 1 NLN");
    await peer.silentFor(20);
    assert.deepEqual(
      unsolicited.map((c) => c.name),
      ["CHG"],
    );
  });

  test("pending requests reject with MsnConnectionClosedError when the peer closes", async () => {
    const pending = connection.request("SYN", ["0"]);
    const closed = new Promise<{ error: Error | null }>((resolve) => connection.once("close", resolve));
    await peer.readLine();
    peer.end();
    await assert.rejects(pending, MsnConnectionClosedError);
    assert.deepEqual(await closed, { error: null });
    await assert.rejects(connection.request("CHG", ["NLN"]), MsnConnectionClosedError);
    assert.throws(() => connection.send("PNG", []), MsnConnectionClosedError);
  });

  test("invalid arguments are refused before anything is written", async () => {
    await assert.rejects(connection.request("REA", ["a@b.c", "two words"]), MsnArgumentError);
    assert.throws(() => connection.send("MSG", ["N\r\nOUT"], "x"), MsnArgumentError);
    assert.ok(await peer.silentFor(20));
  });

  test("a peer that stops reading cannot make us buffer without bound", async () => {
    peer.socket.pause();
    const chunk = Buffer.alloc(60_000, 0x61);
    let failure: unknown = null;
    for (let i = 0; i < 2000 && failure === null; i += 1) {
      try {
        connection.send("MSG", ["N"], chunk, { withTrId: true });
      } catch (error) {
        failure = error;
      }
    }
    assert.ok(failure instanceof MsnConnectionClosedError, String(failure));
    assert.equal(connection.isClosed, true);
  });

  test("a refused connection rejects promptly with MsnNetworkError", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const address = probe.address();
    assert.ok(address && typeof address === "object");
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(
      MsnConnection.connect({ host: "127.0.0.1", port: address.port, connectTimeoutMs: 500 }),
      (error: unknown) => error instanceof MsnNetworkError && error.code === "ECONNREFUSED",
    );
  });
});
