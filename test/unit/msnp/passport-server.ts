/**
 * A tiny loopback Passport 1.4 service for unit tests (msnp.md §3.4): `/rdr/pprdr.asp` names the
 * login URL, `/login` checks the `Authorization` header. Each test sets the behaviour it needs and
 * reads back the requests the client made.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  path: string;
  authorization: string | undefined;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export class PassportTestServer {
  readonly requests: RecordedRequest[] = [];
  /** Overrides per path; the defaults implement the happy path for `ticket`. */
  readonly routes = new Map<string, Handler>();
  ticket = "t=TICKET0123456789abcd&p=";
  /** The Authorization value `/login` accepts (the whole header). */
  expectedAuthorization: string | null = null;

  private constructor(private readonly server: http.Server) {
    server.on("request", (req, res) => {
      const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
      this.requests.push({ path, authorization: req.headers.authorization });
      req.resume();
      const route = this.routes.get(path);
      if (route) return route(req, res);
      if (path === "/rdr/pprdr.asp") {
        res.writeHead(200, {
          PassportURLs: `DARealm=Passport.Net,DALogin=127.0.0.1:${this.port}/login,DAReg=x,ConfigVersion=15`,
        });
        return res.end();
      }
      if (path === "/login") return this.login(req, res);
      res.writeHead(404).end();
    });
  }

  static async start(): Promise<PassportTestServer> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return new PassportTestServer(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get nexusUrl(): string {
    return `http://127.0.0.1:${this.port}/rdr/pprdr.asp`;
  }

  login(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.expectedAuthorization !== null && req.headers.authorization !== this.expectedAuthorization) {
      res.writeHead(401, {
        "WWW-Authenticate": "Passport1.4 da-status=failed,srealm=Passport.NET,ts=-3,prompt",
      });
      return void res.end();
    }
    res.writeHead(200, {
      "Authentication-Info": `Passport1.4 da-status=success,tname=MSPAuth,tname=MSPProf,from-PP='${this.ticket}',ru=http://messenger.msn.com`,
    });
    res.end();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
