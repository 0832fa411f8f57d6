/**
 * The appservice port, answered before the Matrix libraries load. matrix-appservice-bridge and
 * what it pulls in (bot SDK, request, sanitize-html, express…) take about a second of CPU to
 * load, during which the main thread's event loop is blocked; a probe that finds the port closed
 * meanwhile counts a failure, and a homeserver's transactions meet "connection refused". So a
 * worker thread ({@link WORKER_SOURCE}) binds the port within a few hundred milliseconds of the
 * process start and answers:
 *
 * - `GET /health` 200 `OK` and `GET /live` 200, as the appservice will answer them later;
 * - `GET /ready` 503 "starting" (readiness is decided by health.ts once the bridge runs);
 * - anything else 503, which a homeserver retries like any failed transaction.
 *
 * When the appservice listens ({@link EarlyListener.serve}), the worker lets go of the port and
 * the appservice's server binds it a moment later. (Binding both at once with SO_REUSEPORT would
 * close even that gap, but would also let a second bridge started by mistake on the same port
 * share it instead of failing with EADDRINUSE.)
 */
import { createServer, type RequestListener, type Server } from "node:http";
import { Worker } from "node:worker_threads";

/** The part of matrix-appservice's AppService that {@link EarlyListener.serve} touches. */
export interface ServableAppService {
  /** Answers every appservice request (the transaction endpoint and the express app behind it). */
  readonly requestListener: RequestListener;
  listen(port: number, hostname: string, backlog: number, callback?: () => void): Promise<void> | undefined;
  close(): Promise<void>;
}

type WorkerMessage = { listening: number } | { error: string; code?: string };

/**
 * The worker, as CommonJS source run with `eval`: a worker that loads an ES module boots the ESM
 * loader first, which doubles its start-up CPU (about 280 ms against 190 ms on the benchmark
 * machine). It uses nothing but node:http. It boots without a port, so that it can start while the
 * main thread is still loading the configuration; a `{ bind: { port, hostname } }` message makes
 * it listen, and it posts `{ listening: port }` or `{ error, code }`; any other message makes it
 * stop accepting and exit.
 */
const WORKER_SOURCE = `"use strict";
const { parentPort } = require("node:worker_threads");
const http = require("node:http");
function reply(res, status, body) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const headers = {
    "content-type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json",
    "content-length": Buffer.byteLength(text),
    // The bridge takes the port over within a second or two: keep no connection to this thread.
    connection: "close",
  };
  if (status === 503) headers["retry-after"] = "1";
  res.writeHead(status, headers);
  res.end(text);
}
const server = http.createServer((req, res) => {
  // Transaction bodies are not read while starting; drain them so the response can be sent.
  req.resume();
  const path = (req.url || "/").split("?")[0];
  if (req.method === "GET" && path === "/health") reply(res, 200, "OK");
  else if (req.method === "GET" && path === "/live") reply(res, 200, { status: "ok" });
  else if (req.method === "GET" && path === "/ready")
    reply(res, 503, { status: "unavailable", reason: "the bridge is starting" });
  else reply(res, 503, { errcode: "M_UNKNOWN", error: "the bridge is starting; try again shortly" });
});
server.once("error", (e) => {
  parentPort.postMessage({ error: e.message, code: e.code });
  process.exit(0);
});
parentPort.on("message", (message) => {
  if (message && message.bind) {
    server.listen({ port: message.bind.port, host: message.bind.hostname }, () => {
      parentPort.postMessage({ listening: server.address().port });
    });
    return;
  }
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
`;

export class EarlyListener {
  private worker: Worker | null;
  /** The bound port (the OS-assigned one when 0 was asked for); 0 until bound. */
  port = 0;
  hostname = "";

  private constructor(worker: Worker) {
    this.worker = worker;
  }

  /**
   * Starts the worker thread without binding anything yet: its boot (tens of milliseconds of
   * CPU, on another core) overlaps with the main thread loading the configuration.
   */
  static boot(): EarlyListener {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // A few MiB for a thread that lives a second or two.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    // A failure of the thread before bind() is reported by bind(); after it, it is no reason to
    // fail the bridge: it only loses the answers while starting.
    worker.on("error", () => undefined);
    return new EarlyListener(worker);
  }

  /** Binds `hostname:port` in a worker thread; rejects like `server.listen` (EADDRINUSE…). */
  static async listen(port: number, hostname: string): Promise<EarlyListener> {
    const listener = EarlyListener.boot();
    await listener.bind(port, hostname);
    return listener;
  }

  /** Makes the booted worker listen on `hostname:port`; rejects like `server.listen`. */
  async bind(port: number, hostname: string): Promise<void> {
    const worker = this.worker;
    if (!worker) throw new Error("the early listener was released");
    const message = await new Promise<WorkerMessage>((resolve, reject) => {
      const onExit = (code: number): void => reject(new Error(`early listener thread exited with ${code}`));
      worker.once("message", (m: WorkerMessage) => {
        worker.off("exit", onExit);
        worker.off("error", reject);
        resolve(m);
      });
      worker.once("error", reject);
      worker.once("exit", onExit);
      worker.postMessage({ bind: { port, hostname } });
    });
    if ("error" in message) {
      this.worker = null;
      await worker.terminate();
      throw Object.assign(new Error(`listen ${hostname}:${port}: ${message.error}`), { code: message.code });
    }
    this.port = message.listening;
    this.hostname = hostname;
  }

  /**
   * Makes the AppService serve on this port: its `listen()` lets the worker go and binds its
   * request listener in its place; its `close()` closes that server.
   * Call it before the Bridge's `listen()`, whose port and host arguments are then ignored.
   */
  serve(appService: ServableAppService): void {
    let server: Server | null = null;
    appService.listen = async (_port, _hostname, backlog) => {
      await this.release();
      const own = createServer(appService.requestListener);
      await new Promise<void>((resolve, reject) => {
        own.once("error", reject);
        own.listen({ port: this.port, host: this.hostname, backlog }, () => {
          own.off("error", reject);
          resolve();
        });
      });
      server = own;
    };
    appService.close = async () => {
      await this.release();
      const own = server;
      server = null;
      if (!own) return;
      await new Promise<void>((resolve, reject) => {
        own.close((e) => (e ? reject(e) : resolve()));
        // Keep-alive connections would hold close() open until they time out.
        own.closeIdleConnections();
      });
    };
  }

  /** Stops the worker's server and thread (idempotent). */
  async release(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage("stop");
    // A worker that does not exit at once (a slow client holding a response) is ended.
    const timer = setTimeout(() => void worker.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }
}
