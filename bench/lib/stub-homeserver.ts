/**
 * A minimal loopback "homeserver": answers every client-server request matrix-appservice-bridge
 * makes with plausible JSON, as fast as it can, and records when each m.room.message send
 * arrives. It stands in for Synapse where the point is to isolate the bridge's own cost
 * (issue 7, target a): nothing here waits, persists or federates.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";

export interface ArrivedMessage {
  /** performance.now() in this process when the request body was complete. */
  at: number;
  roomId: string;
  /** The acting user (the appservice's `user_id` query parameter), or "" for the bot itself. */
  sender: string;
  content: Record<string, unknown>;
}

export interface CreatedRoom {
  roomId: string;
  creator: string;
  invite: string[];
}

type Route = (match: RegExpExecArray, body: Record<string, unknown>, sender: string) => unknown;

export class StubHomeserver {
  readonly messages: ArrivedMessage[] = [];
  readonly rooms: CreatedRoom[] = [];
  /** Requests by "METHOD /path-shape", for the report of how many requests a flow took. */
  readonly requestCounts = new Map<string, number>();
  /** Every request answered, for "how many requests did that take". */
  totalRequests = 0;
  /** When each user's displayname / presence was last set (performance.now()). */
  readonly displayNameSetAt = new Map<string, number>();
  readonly presenceSetAt = new Map<string, number>();
  /** Paths nothing below matched; they are answered `{}` and listed so gaps are visible. */
  readonly unmatched: string[] = [];
  private server: Server | null = null;
  private nextRoom = 1;
  private nextEvent = 1;
  private waiters: Array<{ match: (m: ArrivedMessage) => boolean; resolve: (m: ArrivedMessage) => void }> =
    [];
  /** Called for every recorded message (the benchmarks' latency clock). */
  onMessage: ((message: ArrivedMessage) => void) | null = null;

  /** `botUserId`: who the appservice is when it names no `user_id` (its sender_localpart). */
  constructor(
    readonly domain: string,
    private readonly botUserId: string,
  ) {}

  private readonly routes: ReadonlyArray<readonly [string, RegExp, Route]> = [
    ["GET", /^\/_matrix\/client\/versions$/, () => ({ versions: ["v1.1", "v1.5", "v1.11"] })],
    ["GET", /\/account\/whoami$/, (_m, _b, sender) => ({ user_id: sender || this.botUserId })],
    ["GET", /\/profile\/[^/]+$/, () => ({})],
    [
      "POST",
      /\/register$/,
      (_m, body) => ({ user_id: `@${String(body.username)}:${this.domain}`, home_server: this.domain }),
    ],
    [
      "PUT",
      /\/profile\/([^/]+)\/(displayname|avatar_url)$/,
      (m) => {
        if (m[2] === "displayname") this.displayNameSetAt.set(decodeURIComponent(m[1]!), performance.now());
        return {};
      },
    ],
    [
      "PUT",
      /\/presence\/([^/]+)\/status$/,
      (m) => {
        this.presenceSetAt.set(decodeURIComponent(m[1]!), performance.now());
        return {};
      },
    ],
    [
      "POST",
      /\/createRoom$/,
      (_m, body, sender) => {
        const roomId = `!bench${this.nextRoom++}:${this.domain}`;
        const invite = Array.isArray(body.invite) ? body.invite.filter((u) => typeof u === "string") : [];
        this.rooms.push({ roomId, creator: sender, invite });
        return { room_id: roomId };
      },
    ],
    ["POST", /\/rooms\/([^/]+)\/(invite|leave|kick)$/, () => ({})],
    ["POST", /\/(?:join|rooms)\/([^/]+)(?:\/join)?$/, (m) => ({ room_id: decodeURIComponent(m[1]!) })],
    ["PUT", /\/rooms\/[^/]+\/typing\/[^/]+$/, () => ({})],
    ["PUT", /\/rooms\/[^/]+\/redact\/[^/]+\/[^/]+$/, () => ({ event_id: this.eventId() })],
    [
      "PUT",
      /\/rooms\/([^/]+)\/send\/([^/]+)\/[^/]+$/,
      (m, body, sender) => {
        if (decodeURIComponent(m[2]!) === "m.room.message") {
          this.record({
            at: performance.now(),
            roomId: decodeURIComponent(m[1]!),
            sender,
            content: body,
          });
        }
        return { event_id: this.eventId() };
      },
    ],
    ["PUT", /\/rooms\/[^/]+\/state\/[^/]+(\/[^/]*)?$/, () => ({ event_id: this.eventId() })],
    ["GET", /\/rooms\/[^/]+\/state\/m\.room\.member\/[^/]+$/, () => ({ membership: "join" })],
    [
      "GET",
      /\/rooms\/[^/]+\/state\/m\.room\.power_levels\/?$/,
      () => ({ users: { [this.botUserId]: 100 }, users_default: 0, events_default: 0, state_default: 50 }),
    ],
  ];

  private eventId(): string {
    return `$bench${this.nextEvent++}`;
  }

  private record(message: ArrivedMessage): void {
    this.messages.push(message);
    this.onMessage?.(message);
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(message)) return true;
      w.resolve(message);
      return false;
    });
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error("stub homeserver is not listening");
    return `http://127.0.0.1:${address.port}`;
  }

  async start(port = 0): Promise<void> {
    const server = createServer({ keepAlive: true }, (req, res) => this.handle(req, res));
    // The bridge keeps connections open; they must not make close() hang.
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Resolves with the first recorded message (already arrived or future) that matches. */
  waitForMessage(match: (m: ArrivedMessage) => boolean, timeoutMs = 15_000): Promise<ArrivedMessage> {
    const found = this.messages.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`stub homeserver: no matching message within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (m: ArrivedMessage): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push({ match, resolve: done });
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://stub");
      const sender = url.searchParams.get("user_id") ?? "";
      let body: Record<string, unknown> = {};
      if (chunks.length > 0) {
        try {
          const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          if (typeof parsed === "object" && parsed !== null) body = parsed as Record<string, unknown>;
        } catch {
          this.reply(res, 400, { errcode: "M_NOT_JSON", error: "body is not JSON" });
          return;
        }
      }
      const method = req.method ?? "GET";
      this.totalRequests++;
      for (const [routeMethod, pattern, route] of this.routes) {
        if (routeMethod !== method) continue;
        const match = pattern.exec(url.pathname);
        if (!match) continue;
        this.count(`${method} ${pattern.source}`);
        this.reply(res, 200, route(match, body, sender));
        return;
      }
      this.count(`${method} (unmatched)`);
      this.unmatched.push(`${method} ${url.pathname}`);
      this.reply(res, 200, {});
    });
  }

  private count(key: string): void {
    this.requestCounts.set(key, (this.requestCounts.get(key) ?? 0) + 1);
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }
}
