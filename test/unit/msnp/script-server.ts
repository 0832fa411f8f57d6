/**
 * A tiny loopback TCP server for unit tests of the MSNP client: each accepted connection is a
 * {@link ScriptPeer} the test drives line by line (expect exactly these client bytes, send exactly
 * these server bytes). Deliberately dumb: no protocol knowledge, so it cannot share bugs with the
 * client under test.
 */
import assert from "node:assert/strict";
import net from "node:net";

const DEFAULT_WAIT_MS = 2000;

export class ScriptPeer {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private ended = false;
  readonly closed: Promise<void>;

  constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on("error", () => undefined);
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.ended = true;
        this.wake();
        resolve();
      });
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  private async waitFor<T>(take: () => T | null, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = take();
      if (value !== null) return value;
      if (this.ended) throw new Error(`connection closed while waiting for ${what}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new Error(`timed out waiting for ${what}; buffered: ${JSON.stringify(this.buffer.toString())}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Next client line (without CRLF). Fails if the client terminated it with a bare LF. */
  readLine(timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    return this.waitFor(
      () => {
        const lf = this.buffer.indexOf(0x0a);
        if (lf === -1) return null;
        assert.equal(this.buffer[lf - 1], 0x0d, "client line must end with CRLF");
        const line = this.buffer.subarray(0, lf - 1).toString("utf8");
        this.buffer = this.buffer.subarray(lf + 1);
        return line;
      },
      "a client line",
      timeoutMs,
    );
  }

  readBytes(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Buffer> {
    return this.waitFor(
      () => {
        if (this.buffer.length < count) return null;
        const bytes = Buffer.from(this.buffer.subarray(0, count));
        this.buffer = this.buffer.subarray(count);
        return bytes;
      },
      `${count} payload bytes`,
      timeoutMs,
    );
  }

  /** Asserts the next client line equals `expected` exactly. */
  async expect(expected: string, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    assert.equal(await this.readLine(timeoutMs), expected);
  }

  /** Reads a payload command; returns its line tokens and payload. */
  async readPayloadCommand(
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<{ line: string; tokens: string[]; payload: Buffer }> {
    const line = await this.readLine(timeoutMs);
    const tokens = line.split(" ");
    const length = Number(tokens.at(-1));
    assert.ok(Number.isInteger(length), `payload command without length: ${line}`);
    return { line, tokens, payload: await this.readBytes(length, timeoutMs) };
  }

  /** Resolves true if nothing (not even a partial line) arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    const before = this.buffer.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.buffer.length === before;
  }

  /** Everything received and not yet read. */
  get pending(): Buffer {
    return this.buffer;
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === "string" ? Buffer.from(data, "utf8") : data);
  }

  /** Sends lines, each terminated with CRLF. */
  sendLines(...lines: string[]): void {
    this.send(lines.map((line) => `${line}\r\n`).join(""));
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  get isClosed(): boolean {
    return this.ended;
  }
}

export class ScriptServer {
  private readonly peers: ScriptPeer[] = [];
  private waiters: Array<(peer: ScriptPeer) => void> = [];
  readonly all: ScriptPeer[] = [];

  private constructor(private readonly server: net.Server) {
    server.on("connection", (socket) => {
      const peer = new ScriptPeer(socket);
      this.all.push(peer);
      const waiter = this.waiters.shift();
      if (waiter) waiter(peer);
      else this.peers.push(peer);
    });
  }

  static async start(): Promise<ScriptServer> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return new ScriptServer(server);
  }

  get port(): number {
    const address = this.server.address();
    assert.ok(address && typeof address === "object");
    return address.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  nextPeer(timeoutMs = DEFAULT_WAIT_MS): Promise<ScriptPeer> {
    const ready = this.peers.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== onPeer);
        reject(new Error("timed out waiting for a client connection"));
      }, timeoutMs);
      const onPeer = (peer: ScriptPeer): void => {
        clearTimeout(timer);
        resolve(peer);
      };
      this.waiters.push(onPeer);
    });
  }

  async close(): Promise<void> {
    for (const peer of this.all) peer.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
