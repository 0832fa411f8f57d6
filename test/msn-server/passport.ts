import { randomInt } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

const TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const TOKEN_LENGTH = 20;
/** Where the nexus sends clients first when the redirect switch is on. */
const REDIRECTED_NEXUS_PATH = "/rdr/pprdr-moved.asp";

export interface PassportOptions {
  /** Checks a sign-in name (exact case, like the NS) and password. */
  readonly authenticate: (email: string, password: string) => boolean;
  readonly log: (message: string) => void;
  /** Lifetime of `/login` tokens (Escargot: 30 s). */
  tokenTtlMs: number;
  /** Nexus answers 302 to another path first (client redirect handling). */
  nexusRedirect: boolean;
  readonly now?: () => number;
}

/**
 * The Passport 1.4 ("TWN") ticket service of Escargot's HTTP front end (msnp.md §3.4), on its own
 * loopback port: `GET /rdr/pprdr.asp` (nexus) names the login URL in `PassportURLs`, `GET /login`
 * with `Authorization: Passport1.4 …sign-in=…,pwd=…` hands out a 20-character token that `USR TWN S`
 * accepts for `tokenTtlMs` (not single-use). Plain HTTP like Escargot in the lab.
 *
 * `/login` without an Authorization header crashes Escargot's handler; this service answers the
 * same status (500) on purpose, so a client sees what it would see there.
 */
export class PassportService {
  private server: Server | undefined;
  private boundPort = 0;
  private boundHost = "127.0.0.1";
  private readonly tokens = new Map<string, { email: string; expiresAt: number }>();
  private readonly now: () => number;

  constructor(private readonly options: PassportOptions) {
    this.now = options.now ?? Date.now;
  }

  get port(): number {
    return this.boundPort;
  }

  set tokenTtlMs(ms: number) {
    this.options.tokenTtlMs = ms;
  }

  set nexusRedirect(enabled: boolean) {
    this.options.nexusRedirect = enabled;
  }

  async start(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on("clientError", (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) => this.options.log(`passport listener error: ${err.message}`));
    const address = server.address();
    this.boundPort = typeof address === "object" && address ? address.port : port;
    this.boundHost = host;
    this.server = server;
    return this.boundPort;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Issues a token for `email` directly (what a successful `/login` does). */
  issue(email: string): string {
    this.sweep();
    let token: string;
    do {
      token = "";
      for (let i = 0; i < TOKEN_LENGTH; i++) token += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
    } while (this.tokens.has(token));
    this.tokens.set(token, { email, expiresAt: this.now() + this.options.tokenTtlMs });
    return token;
  }

  /**
   * The account a `USR TWN S` ticket stands for, or undefined if unknown or expired. Like
   * Escargot, the ticket may be the bare token or a `t=<token>&p=…` string (20 characters after
   * `t=` count).
   */
  verify(ticket: string): string | undefined {
    const at = ticket.indexOf("t=");
    const token = at >= 0 ? ticket.slice(at + 2, at + 2 + TOKEN_LENGTH) : ticket;
    const entry = this.tokens.get(token);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.tokens.delete(token);
      return undefined;
    }
    return entry.email;
  }

  clearTokens(): void {
    this.tokens.clear();
  }

  private sweep(): void {
    const now = this.now();
    for (const [token, entry] of this.tokens) if (entry.expiresAt <= now) this.tokens.delete(token);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // Request bodies are never needed; drain them so keep-alive connections stay usable.
    req.resume();
    const path = (req.url ?? "/").split("?", 1)[0];
    // Announced URLs name the bound address, not the request's Host header, so they are predictable.
    const host = `${this.boundHost.includes(":") ? `[${this.boundHost}]` : this.boundHost}:${this.boundPort}`;
    if (req.method !== "GET") return this.reply(res, 405, {});
    if (path === "/rdr/pprdr.asp" && this.options.nexusRedirect) {
      return this.reply(res, 302, { Location: `http://${host}${REDIRECTED_NEXUS_PATH}` });
    }
    if (path === "/rdr/pprdr.asp" || path === REDIRECTED_NEXUS_PATH || path === "/nexus-mock") {
      const urls = [
        "DARealm=Passport.Net",
        `DALogin=${host}/login`,
        `DAReg=${host}/reg`,
        `Properties=${host}/properties`,
        `GeneralRedir=${host}/redir`,
        `Help=${host}/help`,
        "ConfigVersion=15",
      ];
      return this.reply(res, 200, { PassportURLs: urls.join(",") });
    }
    if (path === "/login") return this.login(req, res);
    this.reply(res, 404, {});
  }

  private login(req: IncomingMessage, res: ServerResponse): void {
    const header = req.headers.authorization;
    if (header === undefined) {
      this.options.log("passport: /login without Authorization (Escargot answers 500 here)");
      return this.reply(res, 500, {}, "missing Authorization header\n");
    }
    const fields = parsePassportHeader(header);
    const email = fields?.get("sign-in");
    const password = fields?.get("pwd");
    if (email === undefined || password === undefined || !this.options.authenticate(email, password)) {
      return this.reply(res, 401, {
        "WWW-Authenticate":
          "Passport1.4 da-status=failed,srealm=Passport.NET,ts=-3,prompt,cburl=http://messenger.msn.com,cbtxt=Sign%20in%20failed",
      });
    }
    const token = this.issue(email);
    this.reply(res, 200, {
      "Authentication-Info": `Passport1.4 da-status=success,tname=MSPAuth,tname=MSPProf,tname=MSPSec,from-PP='t=${token}&p=',ru=http://messenger.msn.com`,
    });
  }

  private reply(res: ServerResponse, status: number, headers: Record<string, string>, body = ""): void {
    res.writeHead(status, {
      ...headers,
      "Content-Type": "text/plain",
      "Content-Length": Buffer.byteLength(body),
    });
    res.end(body);
  }
}

/**
 * Parses `Passport1.4 k=v,k=v,…` into decoded fields; undefined if it is not that scheme. Values
 * are URL-decoded leniently (a bad escape stays literal) since passwords may contain anything.
 */
export function parsePassportHeader(header: string): Map<string, string> | undefined {
  const match = /^\s*Passport1\.4\s+(.*)$/i.exec(header);
  if (!match) return undefined;
  const fields = new Map<string, string>();
  for (const part of (match[1] ?? "").split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    if (!fields.has(key)) fields.set(key, lenientDecode(part.slice(eq + 1).trim()));
  }
  return fields;
}

function lenientDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
