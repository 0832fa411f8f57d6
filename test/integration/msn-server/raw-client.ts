/**
 * A deliberately tiny, line-based MSNP client for testing the MSN test server over raw sockets.
 * It knows nothing beyond framing (it must not share code with src/msnp/ or with the server), so
 * the tests assert exactly what a client would see on the wire.
 */
import { createHash } from "node:crypto";
import { request } from "node:http";
import { connect, type Socket } from "node:net";

/** Server→client commands that may carry a payload (msnp.md §1). */
const SERVER_PAYLOAD = new Set(["MSG", "NOT", "UBX", "GCF", "ADL", "RML", "FQY", "UBN", "NFY", "SDG", "IPG"]);

export interface Received {
  readonly line: string;
  readonly tokens: readonly string[];
  readonly name: string;
  readonly payload?: Buffer;
}

export type Match = string | RegExp | ((r: Received) => boolean);

function matches(match: Match, r: Received): boolean {
  if (typeof match === "string") return r.name === match;
  if (match instanceof RegExp) return match.test(r.line);
  return match(r);
}

export class RawClient {
  private buffer = Buffer.alloc(0);
  private pendingPayload: { line: string; tokens: string[]; length: number } | undefined;
  private readonly queue: Received[] = [];
  private readonly waiters: { match: Match; resolve: (r: Received) => void }[] = [];
  private closedFlag = false;
  private trid = 0;
  readonly closed: Promise<void>;
  /** Everything received so far (consumed or not), for diagnostics. */
  readonly history: Received[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.closedFlag = true;
        resolve();
      }),
    );
  }

  static connect(port: number, host = "127.0.0.1"): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once("connect", () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** The next TrID of this connection. */
  nextTrid(): number {
    return ++this.trid;
  }

  /** Sends one command line (CRLF appended). */
  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  /** Sends `line <byte length>\r\n<payload>`. */
  sendPayload(line: string, payload: Buffer | string): void {
    const bytes = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
    this.socket.write(Buffer.concat([Buffer.from(`${line} ${bytes.length}\r\n`), bytes]));
  }

  sendRaw(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** Resolves with (and consumes) the first unconsumed received command matching `match`. */
  next(match: Match = () => true, timeoutMs = 2000): Promise<Received> {
    const index = this.queue.findIndex((r) => matches(match, r));
    if (index >= 0) return Promise.resolve(this.queue.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (r: Received) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        const seen = this.history.map((r) => r.line).join(" | ");
        reject(new Error(`timed out waiting for ${String(match)}; received so far: ${seen}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Unconsumed commands right now (without consuming them). */
  pending(): readonly Received[] {
    return [...this.queue];
  }

  /** Waits `ms` and returns (consuming) everything that arrived and was not consumed. */
  async drain(ms = 50): Promise<Received[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.queue.splice(0);
  }

  /** Resolves true if the server closes the connection within `timeoutMs`. */
  async closesWithin(timeoutMs = 1000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closed.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  close(): void {
    this.socket.destroy();
  }

  private deliver(r: Received): void {
    this.history.push(r);
    const index = this.waiters.findIndex((w) => matches(w.match, r));
    if (index >= 0) {
      const [waiter] = this.waiters.splice(index, 1);
      waiter!.resolve(r);
      return;
    }
    this.queue.push(r);
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.pendingPayload) {
        if (this.buffer.length < this.pendingPayload.length) return;
        const payload = this.buffer.subarray(0, this.pendingPayload.length);
        this.buffer = this.buffer.subarray(this.pendingPayload.length);
        const { line, tokens } = this.pendingPayload;
        this.pendingPayload = undefined;
        this.deliver({ line, tokens, name: tokens[0] ?? "", payload: Buffer.from(payload) });
        continue;
      }
      const newline = this.buffer.indexOf("\r\n");
      if (newline < 0) return;
      const line = this.buffer.subarray(0, newline).toString("utf8");
      this.buffer = this.buffer.subarray(newline + 2);
      const tokens = line.split(" ");
      const name = tokens[0] ?? "";
      const last = tokens[tokens.length - 1] ?? "";
      if (SERVER_PAYLOAD.has(name) && tokens.length > 1 && /^\d+$/.test(last)) {
        this.pendingPayload = { line, tokens, length: Number(last) };
        continue;
      }
      this.deliver({ line, tokens, name });
    }
  }
}

/** Matches lines that mention `email` (presence lines about one contact). */
export function about(email: string): (r: Received) => boolean {
  return (r) => r.tokens.includes(email);
}

export function md5hex(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

/** Connects and logs in with MSNP7 MD5; resolves after `USR … OK` and the profile MSG. */
export async function login(port: number, email: string, password: string): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.send(`VER ${c.nextTrid()} MSNP7 MSNP6 MSNP5 CVR0`);
  await c.next("VER");
  c.send(`CVR ${c.nextTrid()} 0x0409 winnt 5.1 i386 MSNMSGR 5.0.0540 MSMSGS ${email}`);
  await c.next("CVR");
  const t = c.nextTrid();
  c.send(`USR ${t} MD5 I ${email}`);
  const challenge = await c.next(`USR`);
  const salt = challenge.tokens[4] ?? "";
  const t2 = c.nextTrid();
  c.send(`USR ${t2} MD5 S ${md5hex(salt + password)}`);
  const ok = await c.next((r) => r.tokens[1] === String(t2));
  if (ok.name !== "USR") throw new Error(`login of ${email} failed: ${ok.line}`);
  await c.next("MSG");
  return c;
}

/** SYNs (consuming the whole list) and sends the first CHG; resolves with the ILN burst. */
export async function goOnline(c: RawClient, status = "NLN"): Promise<Received[]> {
  c.send(`SYN ${c.nextTrid()} 0`);
  await c.next("BLP");
  await c.drain(0);
  const t = c.nextTrid();
  c.send(`CHG ${t} ${status}`);
  await c.next((r) => r.name === "CHG" && r.tokens[1] === String(t));
  // The ILN burst is written in the same tick as the CHG reply.
  const rest = await c.drain(30);
  return rest.filter((r) => r.name === "ILN");
}

/** Opens a switchboard as `inviter` (NS client `ns`) and invites `inviteeEmail`; returns both ends. */
export async function openChat(
  server: { sbPort: number },
  ns: RawClient,
  inviterEmail: string,
  invitee: { ns: RawClient; email: string },
): Promise<{ inviterSb: RawClient; inviteeSb: RawClient; sessionId: string }> {
  const t = ns.nextTrid();
  ns.send(`XFR ${t} SB`);
  const xfr = await ns.next("XFR");
  const [host, port] = (xfr.tokens[3] ?? "").split(":");
  if (host !== "127.0.0.1") throw new Error(`unexpected SB host in ${xfr.line}`);
  const inviterSb = await RawClient.connect(Number(port));
  inviterSb.send(`USR ${inviterSb.nextTrid()} ${inviterEmail} ${xfr.tokens[5]}`);
  await inviterSb.next("USR");
  inviterSb.send(`CAL ${inviterSb.nextTrid()} ${invitee.email}`);
  const cal = await inviterSb.next("CAL");
  const sessionId = cal.tokens[3] ?? "";
  const rng = await invitee.ns.next("RNG");
  const inviteeSb = await RawClient.connect(server.sbPort);
  inviteeSb.send(`ANS ${inviteeSb.nextTrid()} ${invitee.email} ${rng.tokens[4]} ${rng.tokens[1]}`);
  await inviteeSb.next((r) => r.name === "ANS" && r.tokens[2] === "OK");
  await inviterSb.next("JOI");
  // Leave both ends with empty queues (the IRO lines were consumed by the caller's expectations).
  await inviteeSb.drain(0);
  return { inviterSb, inviteeSb, sessionId };
}

export interface HttpReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** A plain GET that never follows redirects, so tests see exactly what the server answered. */
export function httpGet(url: string, headers: Record<string, string> = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The historic Passport 1.4 Authorization header for `GET /login` (msnp.md §3.4). */
export function passportAuthorization(email: string, password: string, challenge: string): string {
  return (
    `Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,` +
    `sign-in=${encodeURIComponent(email)},pwd=${encodeURIComponent(password)},${challenge}`
  );
}

/** Nexus → DALogin → /login, as a historic client does; resolves with the quoted from-PP value. */
export async function fetchTicket(
  passportUrl: string,
  email: string,
  password: string,
  challenge = "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1",
): Promise<string> {
  const nexus = await httpGet(passportUrl);
  const urls = String(nexus.headers["passporturls"] ?? "");
  const daLogin = /(?:^|,)DALogin=([^,]+)/.exec(urls)?.[1];
  if (nexus.status !== 200 || daLogin === undefined) throw new Error(`nexus answered ${nexus.status}`);
  const login = await httpGet(`http://${daLogin}`, {
    Authorization: passportAuthorization(email, password, challenge),
  });
  const info = String(login.headers["authentication-info"] ?? "");
  const ticket = /from-PP='([^']*)'/.exec(info)?.[1];
  if (login.status !== 200 || ticket === undefined) throw new Error(`/login answered ${login.status}`);
  return ticket;
}

/**
 * Connects with `VER <version>` and logs in over TWN with a ticket fetched over HTTP (or the given
 * one); resolves after `USR … OK` and the profile MSG (and `SBS` on MSNP11+).
 */
export async function loginTwn(
  server: { nsPort: number; passportUrl: string },
  version: number,
  email: string,
  password: string,
): Promise<RawClient> {
  const c = await RawClient.connect(server.nsPort);
  c.send(`VER ${c.nextTrid()} MSNP${version} CVR0`);
  const ver = await c.next("VER");
  if (ver.tokens[2] !== `MSNP${version}`) throw new Error(`VER answered ${ver.line}`);
  c.send(`CVR ${c.nextTrid()} 0x0409 winnt 5.1 i386 MSNMSGR 7.0.0816 MSMSGS ${email}`);
  await c.next("CVR");
  const t = c.nextTrid();
  c.send(`USR ${t} TWN I ${email}`);
  const policy = await c.next((r) => r.tokens[1] === String(t));
  const ticket = await fetchTicket(server.passportUrl, email, password, policy.tokens[4]);
  const t2 = c.nextTrid();
  c.send(`USR ${t2} TWN S ${ticket}`);
  const ok = await c.next((r) => r.tokens[1] === String(t2));
  if (ok.name !== "USR") throw new Error(`login of ${email} failed: ${ok.line}`);
  await c.next("MSG");
  if (version >= 11) await c.next("SBS");
  return c;
}

/**
 * MSNP8+ `SYN`: the list lines carry no TrID, so the end is found by counting the announced number
 * of LST lines (msnp.md §4.2). Resolves with the SYN reply and everything after it.
 */
export async function syncList(c: RawClient, version: number): Promise<Received[]> {
  const t = c.nextTrid();
  c.send(version >= 10 ? `SYN ${t} 2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00` : `SYN ${t} 0`);
  const syn = await c.next("SYN");
  const contacts = Number(syn.tokens[version >= 10 ? 4 : 3]);
  const lines: Received[] = [syn];
  let seen = 0;
  while (seen < contacts) {
    const r = await c.next();
    lines.push(r);
    if (r.name === "LST") seen++;
  }
  // Phone lines (BPR) may follow the last LST in the same write.
  lines.push(...(await c.drain(20)));
  return lines;
}

/** MSNP8+ first CHG (with a client id); resolves with the ILN burst. */
export async function goOnlineTwn(c: RawClient, status = "NLN", clientId = "0"): Promise<Received[]> {
  const t = c.nextTrid();
  c.send(`CHG ${t} ${status} ${clientId}`);
  await c.next((r) => r.name === "CHG" && r.tokens[1] === String(t));
  const rest = await c.drain(30);
  return rest.filter((r) => r.name === "ILN" || r.name === "UBX");
}
