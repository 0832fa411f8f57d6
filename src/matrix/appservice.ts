/**
 * The appservice: matrix-appservice-bridge's Bridge with its stores disabled (we own the store),
 * events handled strictly in order per room, and appservice transactions handled exactly once.
 *
 * Why we take over PUT /_matrix/app/v1/transactions/:txnId: matrix-appservice answers 200 before
 * any event is handled and remembers only the last transaction ID, in memory. A crash after that
 * 200 loses the events (the homeserver thinks they arrived); a restart forgets which transactions
 * were seen. Here a transaction is answered only after its events were handled (or a time bound
 * passed, see TRANSACTION_WAIT_MS), and its ID is recorded in the store first, so a homeserver
 * that replays it after a crash gets 200 without the events being handled again. Events of a
 * transaction that was cut short are deduplicated one by one by the router (handled event IDs).
 */
import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from "node:http";
import {
  AppService,
  Bridge,
  Logger,
  type AppServiceRegistration,
  type BridgeOpts,
  type Request,
  type WeakEvent,
} from "matrix-appservice-bridge";
import type { GhostIds } from "../bridge/ghost-ids.js";
import { settlesWithin } from "../bridge/settles-within.js";
import type { Log } from "../bridge/log.js";
import type { EventRouter } from "./router.js";

/**
 * How long a transaction waits for its events before it is acknowledged anyway. Synapse gives up
 * on a request after 60 s and then backs off for minutes, holding up every room; a message still
 * being delivered after this bound stays queued in memory (and is recorded as handled when it is
 * delivered), so only a crash in that window can lose it.
 */
export const TRANSACTION_WAIT_MS = 25_000;

const TRANSACTIONS_PATH = "/_matrix/app/v1/transactions/";
/** The body limit matrix-appservice applies to every request (5 MB). */
export const MAX_TRANSACTION_BYTES = 5_000_000;

/** The part of the store the transaction endpoint needs. */
export interface TransactionLog {
  hasTransaction(txnId: string): Promise<boolean>;
  markTransaction(txnId: string): Promise<boolean>;
}

export interface AppserviceOptions {
  homeserverUrl: string;
  domain: string;
  registration: AppServiceRegistration;
  ghosts: GhostIds;
  log: Log;
  transactions: TransactionLog;
  /** Level for matrix-appservice-bridge's own console log. */
  libraryLogLevel: "debug" | "info" | "warn" | "error" | "off";
  json: boolean;
  /** Override of TRANSACTION_WAIT_MS (tests). */
  transactionWaitMs?: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The homeserver token of a request: the Authorization header, or the legacy query parameter. */
function requestToken(req: IncomingMessage, query: string): string | null {
  const auth = req.headers.authorization;
  if (auth !== undefined) return auth.startsWith("Bearer ") ? auth.slice("Bearer ".length) : null;
  for (const pair of query.split("&")) {
    if (!pair.startsWith("access_token=")) continue;
    try {
      return decodeURIComponent(pair.slice("access_token=".length).replace(/\+/g, " "));
    } catch {
      return null;
    }
  }
  return null;
}

function reply(res: ServerResponse, status: number, body: object, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...(close ? { connection: "close" } : {}),
  });
  res.end(text);
}

/** Answers without reading (the rest of) the body: the connection goes with the answer. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, body: object): void {
  reply(res, status, body, true);
  res.once("finish", () => req.destroy());
}

/**
 * Plain HTTP, or HTTPS when MATRIX_AS_TLS_KEY and MATRIX_AS_TLS_CERT name a key and certificate
 * file, as matrix-appservice's own listen() does.
 */
function createAppserviceServer(listener: RequestListener): Server | HttpsServer {
  const keyFile = process.env.MATRIX_AS_TLS_KEY;
  const certFile = process.env.MATRIX_AS_TLS_CERT;
  if (!keyFile && !certFile) return createServer(listener);
  if (!keyFile || !certFile) throw new Error("MATRIX_AS_TLS_KEY and MATRIX_AS_TLS_CERT must be set together");
  return createHttpsServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, listener);
}

class BodyTooLarge extends Error {}

/** The request body, at most `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once("error", reject);
  });
}

type Listener = (event: unknown) => unknown;

/**
 * matrix-appservice's AppService with our transaction endpoint in front of its express app.
 *
 * The endpoint is plain node:http rather than an express route: a homeserver sends one
 * transaction per event when traffic is light, and express's router, morgan's access log and
 * body-parser made up a quarter of the bridge's CPU per Matrix message (1.3 → 1.0 ms measured
 * with the benchmark's 2,000-message run). Every other path (ping, health, media, user/alias
 * queries) still goes to the express app.
 */
export class TransactionalAppService extends AppService {
  readonly #hsToken: string;
  readonly #log: Log;
  readonly #store: TransactionLog;
  readonly #waitMs: number;
  readonly #ownUser: (userId: string) => boolean;
  readonly #inFlight = new Map<string, Promise<void>>();
  #server: Server | HttpsServer | null = null;
  #markReady: () => void = () => undefined;
  readonly #ready = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(opts: {
    hsToken: string;
    log: Log;
    store: TransactionLog;
    waitMs: number;
    /** The bridge's own users (ghosts, the bot): their events come back as echoes. */
    ownUser?: (userId: string) => boolean;
  }) {
    super({ homeserverToken: opts.hsToken });
    this.#hsToken = opts.hsToken;
    this.#ownUser = opts.ownUser ?? (() => false);
    this.#log = opts.log;
    this.#store = opts.store;
    this.#waitMs = opts.waitMs;
  }

  /** Serves the appservice API: transactions here, everything else through the express app. */
  readonly requestListener: RequestListener = (req, res) => {
    const url = req.url ?? "";
    if (req.method === "PUT" && url.startsWith(TRANSACTIONS_PATH))
      void this.#onTransactionRequest(req, res, url);
    else this.expressApp(req, res);
  };

  override listen(port: number, hostname: string, backlog: number, callback?: () => void): Promise<void> {
    const server = createAppserviceServer(this.requestListener);
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host: hostname, backlog }, () => {
        server.off("error", reject);
        callback?.();
        resolve();
      });
    });
  }

  override async close(): Promise<void> {
    const server = this.#server;
    if (!server) throw new Error("Server has not started");
    this.#server = null;
    await new Promise<void>((resolve, reject) => {
      server.close((e) => (e ? reject(e) : resolve()));
      // Keep-alive connections (a homeserver keeps one open) would hold close() open until they time out.
      server.closeIdleConnections();
    });
  }

  /** Transactions that arrive before this wait, so none is handled before the logins are restored. */
  acceptTransactions(): void {
    this.#markReady();
  }

  async #onTransactionRequest(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    const q = url.indexOf("?");
    const rawId = url.slice(TRANSACTIONS_PATH.length, q < 0 ? undefined : q);
    const token = requestToken(req, q < 0 ? "" : url.slice(q + 1));
    // Refused before the body is read, and the connection closed with the answer: a stranger's
    // request costs no parsing, and a body of any size no reading.
    if (token === null) {
      refuse(req, res, 401, { errcode: "M_UNAUTHORIZED", error: "Missing token" });
      return;
    }
    if (!tokenMatches(token, this.#hsToken)) {
      refuse(req, res, 403, { errcode: "M_FORBIDDEN", error: "Bad token supplied" });
      return;
    }
    let txnId: string;
    try {
      txnId = decodeURIComponent(rawId);
    } catch {
      txnId = "";
    }
    if (txnId === "" || rawId.includes("/")) {
      req.resume();
      reply(res, 404, { errcode: "M_UNRECOGNIZED", error: "Not a transaction ID" });
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, MAX_TRANSACTION_BYTES)).toString("utf8"));
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        refuse(req, res, 413, { errcode: "M_TOO_LARGE", error: "The transaction is too large" });
      } else {
        reply(res, 400, { errcode: "M_NOT_JSON", error: "A transaction is a JSON object" });
      }
      return;
    }
    if (!isObject(body)) {
      reply(res, 400, { errcode: "M_NOT_JSON", error: "A transaction is a JSON object" });
      return;
    }
    reply(res, ...(await this.#handleTransaction(txnId, body)));
  }

  /** Handles one transaction at most once; resolves with the status and body to answer. */
  async #handleTransaction(txnId: string, body: Record<string, unknown>): Promise<[number, object]> {
    try {
      // A homeserver that timed out retries while the first attempt is still running: the retry
      // waits for it. Registered before any await, so two PUTs arriving together share one run.
      let work = this.#inFlight.get(txnId);
      if (!work) {
        work = this.#handleOnce(txnId, body).finally(() => this.#inFlight.delete(txnId));
        this.#inFlight.set(txnId, work);
      }
      await work;
      return [200, {}];
    } catch (e) {
      // Not recorded: the homeserver retries, and handled event IDs keep the retry from repeating
      // what already happened.
      this.#log.error("could not record a transaction; the homeserver will retry it", {
        txnId,
        error: e instanceof Error ? e.message : String(e),
      });
      return [500, { errcode: "M_UNKNOWN", error: "could not handle the transaction" }];
    }
  }

  async #handleOnce(txnId: string, body: Record<string, unknown>): Promise<void> {
    const events = Array.isArray(body.events) ? body.events : [];
    // Synapse sends the unstable key, newer homeservers the stable one; never both handled.
    const rawEphemeral = body["de.sorunome.msc2409.ephemeral"] ?? body.ephemeral;
    const ephemeral = Array.isArray(rawEphemeral) ? rawEphemeral : [];
    // The homeserver echoes every event the ghosts and the bot send, one transaction per bridged
    // MSN message when traffic is light. Nothing in such a transaction is acted on (echoes are
    // dropped; the library's membership bookkeeping is idempotent), so a replay of it is
    // harmless and it costs no store read or write.
    const echoOnly =
      ephemeral.length === 0 &&
      events.length > 0 &&
      events.every((ev) => isObject(ev) && typeof ev.sender === "string" && this.#ownUser(ev.sender));
    if (!echoOnly && (await this.#store.hasTransaction(txnId))) {
      this.#log.info("transaction replayed; already handled", { txnId });
      return;
    }
    await this.#handle(txnId, events, ephemeral);
    if (!echoOnly) await this.#store.markTransaction(txnId);
  }

  async #handle(txnId: string, events: unknown[], ephemeral: unknown[]): Promise<void> {
    await this.#ready;
    const work: Promise<unknown>[] = [];
    // Dispatched synchronously in transaction order: the per-room queues keep that order.
    const dispatch = (kind: "event" | "ephemeral", list: unknown[]): void => {
      for (const ev of list) {
        if (!isObject(ev)) {
          this.#log.warn("dropped a transaction entry that is not an object", { txnId, kind });
          continue;
        }
        for (const listener of this.listeners(kind) as Listener[]) {
          try {
            work.push(Promise.resolve(listener(ev)));
          } catch (e) {
            work.push(Promise.reject(e instanceof Error ? e : new Error(String(e))));
          }
        }
      }
    };
    dispatch("event", events);
    dispatch("ephemeral", ephemeral);

    if (!(await settlesWithin(Promise.allSettled(work), this.#waitMs))) {
      this.#log.warn("acknowledging a transaction whose events are still being handled", {
        txnId,
        waitedMs: this.#waitMs,
      });
    }
  }
}

/** The Bridge, listening with the transactional AppService. */
export class MsnBridge extends Bridge {
  readonly transactional: TransactionalAppService;

  constructor(opts: BridgeOpts, transactional: TransactionalAppService) {
    super(opts);
    this.transactional = transactional;
  }

  override async listen(
    port: number,
    hostname?: string,
    backlog?: number,
    appServiceInstance?: AppService,
  ): Promise<void> {
    await super.listen(port, hostname, backlog, appServiceInstance ?? this.transactional);
  }

  /** Start handling transactions (after the logins were restored). */
  acceptTransactions(): void {
    this.transactional.acceptTransactions();
  }
}

/**
 * Runs each room's events one after another, each to completion: matrix-appservice-bridge's
 * per-room queue only orders when handlers start, so two messages of one room could otherwise
 * overtake each other while their handlers wait on the store.
 */
export class PerRoomSerializer {
  readonly #tails = new Map<string, Promise<void>>();

  run(roomId: string, task: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(roomId) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.catch(() => undefined);
    this.#tails.set(roomId, tail);
    void tail.then(() => {
      if (this.#tails.get(roomId) === tail) this.#tails.delete(roomId);
    });
    return result;
  }

  get rooms(): number {
    return this.#tails.size;
  }
}

export function createAppservice(opts: AppserviceOptions, router: () => EventRouter): MsnBridge {
  Logger.configure({ console: opts.libraryLogLevel, json: opts.json, colorize: false });
  const settle = (req: Request<unknown>, work: Promise<void>, what: string): void => {
    work.then(
      () => req.resolve(undefined),
      (e: unknown) => {
        opts.log.error(`failed to handle ${what}`, {
          error: e instanceof Error ? (e.stack ?? e.message) : String(e),
        });
        req.reject(e);
      },
    );
  };
  const rooms = new PerRoomSerializer();
  const hsToken = opts.registration.getHomeserverToken();
  if (!hsToken) throw new Error("the registration has no hs_token");
  const botUserId = `@${opts.registration.getSenderLocalpart() ?? ""}:${opts.domain}`;
  const transactional = new TransactionalAppService({
    hsToken,
    log: opts.log,
    store: opts.transactions,
    waitMs: opts.transactionWaitMs ?? TRANSACTION_WAIT_MS,
    ownUser: (userId) => userId === botUserId || opts.ghosts.isGhost(userId),
  });
  return new MsnBridge(
    {
      homeserverUrl: opts.homeserverUrl,
      domain: opts.domain,
      registration: opts.registration,
      disableStores: true,
      suppressEcho: true,
      networkName: "MSN",
      queue: { type: "per_room", perRequest: true },
      controller: {
        onEvent: (req: Request<WeakEvent>) => {
          const ev = req.getData();
          const roomId = typeof ev.room_id === "string" ? ev.room_id : "";
          settle(
            req,
            rooms.run(roomId, () => router().onEvent(ev)),
            "event",
          );
        },
        onEphemeralEvent: (req) =>
          settle(req as Request<unknown>, router().onEphemeral(req.getData()), "ephemeral event"),
      },
      intentOptions: { clients: { dontCheckPowerLevel: true } },
    },
    transactional,
  );
}

/**
 * Asks the homeserver to ping us (Matrix 1.7). Synapse answers a successful ping by retrying
 * the transactions it held back while we were down at once, instead of after its backoff.
 */
export async function pingFromHomeserver(
  homeserverUrl: string,
  registration: AppServiceRegistration,
): Promise<void> {
  const id = registration.getId();
  const asToken = registration.getAppServiceToken();
  if (!id || !asToken) return;
  const url = `${homeserverUrl.replace(/\/+$/, "")}/_matrix/client/v1/appservice/${encodeURIComponent(id)}/ping`;
  const res = await fetch(url, {
    method: "POST",
    headers: { Authorization: `Bearer ${asToken}`, "Content-Type": "application/json" },
    body: "{}",
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`homeserver answered ${res.status}`);
}
