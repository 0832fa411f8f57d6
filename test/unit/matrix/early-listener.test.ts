import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { RequestListener } from "node:http";
import { createServer } from "node:net";
import { EarlyListener, type ServableAppService } from "../../../src/matrix/early-listener.js";

function blockFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Busy: what loading a CommonJS library does to the main thread.
  }
}

function fakeAppService(seen: string[]): ServableAppService {
  const requestListener: RequestListener = (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end("from the app");
  };
  return {
    requestListener,
    listen: () => {
      throw new Error("would bind a server of its own");
    },
    close: () => Promise.reject(new Error("would close a server that never listened")),
  };
}

describe("EarlyListener (the appservice port while the bridge starts)", () => {
  const open: EarlyListener[] = [];
  after(async () => {
    for (const l of open) await l.release();
  });

  test("answers probes at once: /health and /live 200, /ready 503 starting", async () => {
    const listener = await EarlyListener.listen(0, "127.0.0.1");
    open.push(listener);
    const url = `http://127.0.0.1:${listener.port}`;
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), "OK");
    const live = await fetch(`${url}/live`);
    assert.equal(live.status, 200);
    assert.deepEqual(await live.json(), { status: "ok" });
    const ready = await fetch(`${url}/ready?x=1`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { status: string }).status, "unavailable");
  });

  test("boot() first, bind() once the port is known; a released thread that never bound exits", async () => {
    const booted = EarlyListener.boot();
    open.push(booted);
    blockFor(100); // the main thread loading the configuration meanwhile
    await booted.bind(0, "127.0.0.1");
    assert.ok(booted.port > 0);
    assert.equal((await fetch(`http://127.0.0.1:${booted.port}/health`)).status, 200);

    const unused = EarlyListener.boot();
    await unused.release();
    await assert.rejects(unused.bind(0, "127.0.0.1"), /released/);
  });

  test("answers while the main thread is blocked (as when a library loads)", async () => {
    const listener = await EarlyListener.listen(0, "127.0.0.1");
    open.push(listener);
    // A probe from another process, while this thread spins.
    const probe = `fetch("http://127.0.0.1:${listener.port}/health").then(r => process.exit(r.status === 200 ? 0 : 1), () => process.exit(2))`;
    const child = spawn(process.execPath, ["-e", probe], { stdio: "ignore" });
    const exited = new Promise<number | null>((done) => child.once("exit", done));
    blockFor(1500);
    assert.equal(await exited, 0);
  });

  test("a homeserver transaction while starting gets 503 (retried later), not a hang", async () => {
    const listener = await EarlyListener.listen(0, "127.0.0.1");
    open.push(listener);
    const res = await fetch(`http://127.0.0.1:${listener.port}/_matrix/app/v1/transactions/1`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ events: [] }),
    });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "1");
    assert.equal(((await res.json()) as { errcode: string }).errcode, "M_UNKNOWN");
  });

  test("serve(): the AppService's listen() takes over the same port; close() frees it", async () => {
    const listener = await EarlyListener.listen(0, "127.0.0.1");
    const url = `http://127.0.0.1:${listener.port}`;
    const seen: string[] = [];
    const appService = fakeAppService(seen);
    listener.serve(appService);
    assert.equal((await fetch(`${url}/ready`)).status, 503);
    await appService.listen(0, "ignored", 10);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/ready`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "from the app");
    }
    assert.deepEqual(seen, ["GET /ready", "GET /ready", "GET /ready"]);
    await appService.close();
    await assert.rejects(fetch(`${url}/health`));
  });

  test("a port in use rejects like a listen would", async () => {
    const first = await EarlyListener.listen(0, "127.0.0.1");
    open.push(first);
    const plain = createServer();
    await new Promise<void>((done) => plain.listen(0, "127.0.0.1", done));
    const address = plain.address();
    const port = typeof address === "object" && address ? address.port : 0;
    await assert.rejects(EarlyListener.listen(port, "127.0.0.1"), { code: "EADDRINUSE" });
    await new Promise<void>((done) => plain.close(() => done()));
  });
});
