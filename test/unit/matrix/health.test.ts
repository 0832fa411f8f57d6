import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { healthHandlers, type HealthResponse } from "../../../src/matrix/health.js";
import { memoryStore } from "../bridge/fakes.js";

/** Records what a handler answered, as express would send it. */
function recorder(): HealthResponse & { code: number; body: unknown } {
  const r = {
    code: 0,
    body: undefined as unknown,
    status(code: number) {
      r.code = code;
      return {
        json(body: unknown) {
          r.body = body;
        },
      };
    },
  };
  return r;
}

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((done) =>
    server.listen(0, "127.0.0.1", () =>
      done({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

const okStore = { ping: async () => undefined };

describe("health endpoints", () => {
  let homeserver: { server: Server; url: string };
  let failing: { server: Server; url: string };
  let silent: { server: Server; url: string };
  let refusedUrl: string;
  const paths: string[] = [];

  before(async () => {
    homeserver = await listen((req, res) => {
      paths.push(req.url ?? "");
      res.writeHead(200, { "Content-Type": "application/json" }).end('{"versions":["v1.11"]}');
    });
    failing = await listen((_req, res) => res.writeHead(502).end("bad gateway"));
    // Accepts the connection and never answers, like a homeserver stuck behind a proxy.
    silent = await listen(() => undefined);
    const gone = await listen(() => undefined);
    refusedUrl = gone.url;
    await new Promise((done) => gone.server.close(done));
  });

  after(() => {
    for (const s of [homeserver, failing, silent]) s.server.closeAllConnections();
    for (const s of [homeserver, failing, silent]) s.server.close();
  });

  test("/live answers 200 without asking anyone", async () => {
    let pinged = false;
    const h = healthHandlers({
      homeserverUrl: refusedUrl,
      store: { ping: async () => void (pinged = true) },
    });
    const res = recorder();
    await h.live(undefined, res);
    assert.equal(res.code, 200);
    assert.deepEqual(res.body, { status: "ok" });
    assert.equal(pinged, false);
  });

  test("/ready is 200 when the homeserver answers /versions and the store is open", async () => {
    const store = await memoryStore();
    try {
      const res = recorder();
      await healthHandlers({ homeserverUrl: homeserver.url, store }).ready(undefined, res);
      assert.equal(res.code, 200);
      assert.deepEqual(res.body, { status: "ready" });
      assert.ok(paths.includes("/_matrix/client/versions"), `asked for ${paths.join(", ")}`);
    } finally {
      await store.close();
    }
  });

  test("/ready is 503 with the reason when the store is closed", async () => {
    const store = await memoryStore();
    await store.close();
    const res = recorder();
    await healthHandlers({ homeserverUrl: homeserver.url, store }).ready(undefined, res);
    assert.equal(res.code, 503);
    assert.deepEqual(res.body, { status: "unavailable", reason: "store unavailable: store is closed" });
  });

  test("/ready is 503 when the store does not answer in time", async () => {
    const res = recorder();
    const hanging = { ping: () => new Promise<void>(() => undefined) };
    // The same bound applies to the homeserver check, which must not run out too on a busy machine.
    await healthHandlers({ homeserverUrl: homeserver.url, store: hanging, timeoutMs: 500 }).ready(
      undefined,
      res,
    );
    assert.equal(res.code, 503);
    assert.deepEqual(res.body, {
      status: "unavailable",
      reason: "store unavailable: the database did not answer within 500 ms",
    });
  });

  test("/ready is 503 when the homeserver refuses the connection", async () => {
    const res = recorder();
    await healthHandlers({ homeserverUrl: refusedUrl, store: okStore }).ready(undefined, res);
    assert.equal(res.code, 503);
    const body = res.body as { status: string; reason: string };
    assert.equal(body.status, "unavailable");
    assert.match(body.reason, /^homeserver unreachable: .*ECONNREFUSED/);
  });

  test("/ready is 503 when the homeserver answers with an error", async () => {
    const res = recorder();
    await healthHandlers({ homeserverUrl: failing.url, store: okStore }).ready(undefined, res);
    assert.equal(res.code, 503);
    assert.deepEqual(res.body, {
      status: "unavailable",
      reason: "homeserver answered 502 to /_matrix/client/versions",
    });
  });

  test("/ready gives up on a silent homeserver after the timeout", async () => {
    const res = recorder();
    const started = Date.now();
    await healthHandlers({ homeserverUrl: silent.url, store: okStore, timeoutMs: 100 }).ready(undefined, res);
    assert.ok(Date.now() - started < 2000, "answered within the probe's patience");
    assert.equal(res.code, 503);
    assert.deepEqual(res.body, {
      status: "unavailable",
      reason: "homeserver did not answer within 100 ms",
    });
  });

  test("both failures are reported together", async () => {
    const store = await memoryStore();
    await store.close();
    const res = recorder();
    await healthHandlers({ homeserverUrl: failing.url, store }).ready(undefined, res);
    assert.equal(res.code, 503);
    assert.deepEqual(res.body, {
      status: "unavailable",
      reason: "homeserver answered 502 to /_matrix/client/versions; store unavailable: store is closed",
    });
  });
});
