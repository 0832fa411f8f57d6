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
import { setTimeout as sleep } from "node:timers/promises";
import type { Request as HttpRequest, Response as HttpResponse } from "express";
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
import type { Log } from "../bridge/log.js";
import type { EventRouter } from "./router.js";

/**
 * How long a transaction waits for its events before it is acknowledged anyway. Synapse gives up
 * on a request after 60 s and then backs off for minutes, holding up every room; a message still
 * being delivered after this bound stays queued in memory (and is recorded as handled when it is
 * delivered), so only a crash in that window can lose it.
 */
export const TRANSACTION_WAIT_MS = 25_000;

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

function tokenMatches(given: unknown, expected: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

type Listener = (event: unknown) => unknown;

/**
 * matrix-appservice's AppService with our transaction handler. The base class binds
 * `this.onTransaction` into its express route in its constructor; the typings call the method
 * private, so the override is installed on the prototype below rather than declared here.
 */
export class TransactionalAppService extends AppService {
  readonly #hsToken: string;
  readonly #log: Log;
  readonly #store: TransactionLog;
  readonly #waitMs: number;
  readonly #inFlight = new Map<string, Promise<void>>();
  #markReady: () => void = () => undefined;
  readonly #ready = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(opts: { hsToken: string; log: Log; store: TransactionLog; waitMs: number }) {
    super({ homeserverToken: opts.hsToken });
    this.#hsToken = opts.hsToken;
    this.#log = opts.log;
    this.#store = opts.store;
    this.#waitMs = opts.waitMs;
  }

  /** Transactions that arrive before this wait, so none is handled before the logins are restored. */
  acceptTransactions(): void {
    this.#markReady();
  }

  async handleTransaction(req: HttpRequest, res: HttpResponse): Promise<void> {
    const auth = req.headers.authorization;
    const token = auth?.startsWith("Bearer ") ? auth.slice("Bearer ".length) : req.query.access_token;
    if (!tokenMatches(token, this.#hsToken)) {
      res.status(403).json({ errcode: "M_FORBIDDEN", error: "Bad token supplied" });
      return;
    }
    const txnId = req.params.txnId;
    const body: unknown = req.body;
    if (!txnId || !isObject(body)) {
      res.status(400).json({ errcode: "M_NOT_JSON", error: "A transaction is a JSON object" });
      return;
    }
    try {
      // A homeserver that timed out retries while the first attempt is still running: the retry
      // waits for it. Registered before any await, so two PUTs arriving together share one run.
      let work = this.#inFlight.get(txnId);
      if (!work) {
        work = this.#handleOnce(txnId, body).finally(() => this.#inFlight.delete(txnId));
        this.#inFlight.set(txnId, work);
      }
      await work;
      res.status(200).json({});
    } catch (e) {
      // Not recorded: the homeserver retries, and handled event IDs keep the retry from repeating
      // what already happened.
      this.#log.error("could not record a transaction; the homeserver will retry it", {
        txnId,
        error: e instanceof Error ? e.message : String(e),
      });
      res.status(500).json({ errcode: "M_UNKNOWN", error: "could not handle the transaction" });
    }
  }

  async #handleOnce(txnId: string, body: Record<string, unknown>): Promise<void> {
    if (await this.#store.hasTransaction(txnId)) {
      this.#log.info("transaction replayed; already handled", { txnId });
      return;
    }
    await this.#handle(txnId, body);
  }

  async #handle(txnId: string, body: Record<string, unknown>): Promise<void> {
    await this.#ready;
    const events = Array.isArray(body.events) ? body.events : [];
    // Synapse sends the unstable key, newer homeservers the stable one; never both handled.
    const rawEphemeral = body["de.sorunome.msc2409.ephemeral"] ?? body.ephemeral;
    const ephemeral = Array.isArray(rawEphemeral) ? rawEphemeral : [];
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

    const abort = new AbortController();
    const settled = Promise.allSettled(work).then(() => true);
    const bound = sleep(this.#waitMs, false, { signal: abort.signal }).catch(() => false);
    const finished = await Promise.race([settled, bound]);
    abort.abort();
    if (!finished) {
      this.#log.warn("acknowledging a transaction whose events are still being handled", {
        txnId,
        waitedMs: this.#waitMs,
      });
    }
    await this.#store.markTransaction(txnId);
  }
}

Object.defineProperty(TransactionalAppService.prototype, "onTransaction", {
  value(this: TransactionalAppService, req: HttpRequest, res: HttpResponse): void {
    void this.handleTransaction(req, res);
  },
});

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
  const transactional = new TransactionalAppService({
    hsToken,
    log: opts.log,
    store: opts.transactions,
    waitMs: opts.transactionWaitMs ?? TRANSACTION_WAIT_MS,
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
