/**
 * The MSN→Matrix hot path: `PUT /rooms/{room}/send/{type}/{txnId}?user_id=<ghost>` straight over
 * node:http(s) with keep-alive connections. Profiling (issue 7) showed the Intent's stack
 * (matrix-bot-sdk on `request`, plus the Intent's registered/joined/power-level checks on every
 * send) cost most of the bridge's CPU per message; everything else (rooms, joins, profiles) stays
 * on Intents, where a few milliseconds do not matter.
 *
 * The caller chooses the transaction ID and keeps it across retries of one message: a homeserver
 * answers a repeated PUT with the same txnId with the event it already made (Synapse remembers
 * an appservice's transactions for 30 minutes), so a retry never makes a second event.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** An answer other than 200 from the homeserver; `statusCode`/`errcode` feed the retry rule. */
export class HomeserverError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errcode: string | undefined,
    message: string,
    /** From M_LIMIT_EXCEEDED answers. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
    this.name = "HomeserverError";
  }
}

export interface EventSenderOptions {
  homeserverUrl: string;
  asToken: string;
  /** A send the homeserver has not answered by then fails with ETIMEDOUT (it may have applied). */
  timeoutMs?: number;
  /**
   * Connections kept to the homeserver. Each portal has at most one send in flight, so this caps
   * how many portals are served in parallel; the rest wait for a free connection.
   */
  maxSockets?: number;
}

const MAX_ANSWER_BYTES = 64 * 1024;

export class EventSender {
  private readonly base: URL;
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;
  private readonly authorization: string;
  private readonly timeoutMs: number;
  /**
   * Sends in flight and when they give up. One sweep a second instead of a timer per request:
   * `req.setTimeout` re-arms socket listeners on every send, a measurable share of the hot path.
   */
  private readonly deadlines = new Map<ClientRequest, number>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(opts: EventSenderOptions) {
    this.base = new URL(opts.homeserverUrl.replace(/\/*$/, "/"));
    const tls = this.base.protocol === "https:";
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 32, scheduling: "fifo" as const };
    this.agent = tls ? new HttpsAgent(agentOpts) : new HttpAgent(agentOpts);
    this.request = tls ? (httpsRequest as typeof httpRequest) : httpRequest;
    this.authorization = `Bearer ${opts.asToken}`;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
  }

  /** Sends as `userId` (the appservice's own bot when null); resolves with the event ID. */
  async sendEvent(
    userId: string | null,
    roomId: string,
    type: string,
    content: Record<string, unknown>,
    txnId: string,
  ): Promise<string> {
    let path =
      `${this.base.pathname}_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/` +
      `${encodeURIComponent(type)}/${encodeURIComponent(txnId)}`;
    if (userId !== null) path += `?user_id=${encodeURIComponent(userId)}`;
    const body = JSON.stringify(content);
    try {
      return await this.put(path, body);
    } catch (e) {
      // A keep-alive connection the homeserver closed just as we reused it fails before any
      // answer. Node's own advice is to retry such a request; the same txnId makes it safe even
      // in the unlikely case the homeserver did read it.
      if (!(e instanceof ReusedSocketError)) throw e;
      return this.put(path, body);
    }
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    this.agent.destroy();
  }

  private sweep(): void {
    const now = performance.now();
    for (const [req, deadline] of this.deadlines) {
      if (deadline > now) continue;
      this.deadlines.delete(req);
      req.destroy(Object.assign(new Error("homeserver did not answer in time"), { code: "ETIMEDOUT" }));
    }
    if (this.deadlines.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  private put(path: string, body: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const req = this.request(
        {
          agent: this.agent,
          protocol: this.base.protocol,
          hostname: this.base.hostname,
          port: this.base.port,
          method: "PUT",
          path,
          headers: {
            authorization: this.authorization,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) =>
          readAnswer(res).then(
            (eventId) => {
              this.deadlines.delete(req);
              resolve(eventId);
            },
            (e: unknown) => {
              this.deadlines.delete(req);
              reject(e);
            },
          ),
      );
      this.deadlines.set(req, performance.now() + this.timeoutMs);
      if (!this.sweeper) {
        this.sweeper = setInterval(() => this.sweep(), Math.min(1000, this.timeoutMs));
        this.sweeper.unref();
      }
      req.on("error", (e: NodeJS.ErrnoException) => {
        this.deadlines.delete(req);
        const reset = e.code === "ECONNRESET" || e.code === "EPIPE";
        reject(reset && req.reusedSocket ? new ReusedSocketError(e) : e);
      });
      req.end(body);
    });
  }
}

class ReusedSocketError extends Error {
  readonly code: string | undefined;
  constructor(cause: NodeJS.ErrnoException) {
    super(`keep-alive connection closed by the homeserver: ${cause.message}`, { cause });
    this.code = cause.code;
  }
}

function readAnswer(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      // Only a small JSON object is expected; a huge answer is not read into memory.
      if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
    });
    res.on("error", reject);
    res.on("end", () => {
      const status = res.statusCode ?? 0;
      let json: Record<string, unknown> = {};
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        if (typeof parsed === "object" && parsed !== null) json = parsed as Record<string, unknown>;
      } catch {
        // Not JSON (a proxy's error page): the status says enough.
      }
      if (status === 200 && typeof json.event_id === "string") {
        resolve(json.event_id);
        return;
      }
      const errcode = typeof json.errcode === "string" ? json.errcode : undefined;
      const error = typeof json.error === "string" ? json.error : `HTTP ${status}`;
      const retryAfter = typeof json.retry_after_ms === "number" ? json.retry_after_ms : undefined;
      reject(
        new HomeserverError(
          status,
          errcode,
          `homeserver answered ${status} ${errcode ?? ""}: ${error}`.replace(/ +:/, ":"),
          retryAfter,
        ),
      );
    });
  });
}
