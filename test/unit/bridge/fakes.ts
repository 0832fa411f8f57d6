/**
 * In-process stand-ins for the two sides of the core, recording what the core asked of them.
 * The store is the real SQLite store in memory.
 */
import { randomBytes } from "node:crypto";
import type { CoreOptions } from "../../../src/bridge/core.js";
import type { MatrixMessageContent, MatrixPort } from "../../../src/bridge/matrix-port.js";
import type {
  MsnContact,
  MsnRing,
  NotificationPort,
  NotificationPortEvents,
  SwitchboardPort,
  SwitchboardPortEvents,
} from "../../../src/bridge/msn-ports.js";
import type { MsnStatus } from "../../../src/bridge/presence.js";
import { TypedEventEmitter } from "../../../src/msnp/events.js";
import { CredentialCipher } from "../../../src/store/credentials.js";
import { openStore } from "../../../src/store/open-store.js";
import type { Store } from "../../../src/store/store.js";

export async function memoryStore(): Promise<Store> {
  return openStore("sqlite::memory:", { configDir: "/", cipher: new CredentialCipher(randomBytes(32)) });
}

export class FakeSwitchboard extends TypedEventEmitter<SwitchboardPortEvents> implements SwitchboardPort {
  fire<K extends keyof SwitchboardPortEvents & string>(event: K, payload: SwitchboardPortEvents[K]): void {
    this.emit(event, payload);
  }

  readonly participants = new Map<string, string>();
  readonly sent: string[] = [];
  typingSent = 0;
  closed = false;
  failNextSend: Error | null = null;

  constructor(private readonly ns: FakeNotification) {
    super();
  }

  async invite(email: string): Promise<void> {
    const c = this.ns.contacts.get(email.toLowerCase());
    if (!c || c.status === "FLN") throw Object.assign(new Error("217"), { code: 217 });
    setImmediate(() => this.join(c.email, c.friendlyName));
  }

  join(email: string, name: string): void {
    this.participants.set(email.toLowerCase(), name);
    this.emit("join", { email, name });
  }

  leave(email: string): void {
    this.participants.delete(email.toLowerCase());
    this.emit("leave", { email, idle: false });
  }

  async waitForJoin(email: string): Promise<void> {
    if (this.participants.has(email.toLowerCase())) return;
    await new Promise<void>((done) => {
      const h = (j: { email: string }): void => {
        if (j.email.toLowerCase() === email.toLowerCase()) {
          this.off("join", h);
          done();
        }
      };
      this.on("join", h);
    });
  }

  async sendText(text: string): Promise<void> {
    if (this.closed) throw new Error("closed");
    if (this.failNextSend) {
      const e = this.failNextSend;
      this.failNextSend = null;
      throw e;
    }
    this.sent.push(text);
  }

  async sendTyping(): Promise<void> {
    this.typingSent++;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.emit("closed", { reason: "local" });
  }
}

export class FakeNotification extends TypedEventEmitter<NotificationPortEvents> implements NotificationPort {
  fire<K extends keyof NotificationPortEvents & string>(event: K, payload: NotificationPortEvents[K]): void {
    this.emit(event, payload);
  }

  readonly contacts = new Map<string, MsnContact>();
  readonly opened: FakeSwitchboard[] = [];
  friendlyName = "Alice";
  readonly protocolVersion = "MSNP7";
  status: MsnStatus = "NLN";
  connectError: Error | null = null;
  connects = 0;

  constructor(
    public email: string,
    public password: string,
  ) {
    super();
  }

  addFakeContact(email: string, name: string, status: MsnStatus): void {
    this.contacts.set(email.toLowerCase(), {
      email,
      friendlyName: name,
      status,
      lists: { forward: true, allow: true, block: false, reverse: true },
    });
  }

  async connect(): Promise<void> {
    this.connects++;
    if (this.connectError) throw this.connectError;
  }
  async close(): Promise<void> {}
  async setStatus(s: MsnStatus): Promise<void> {
    this.status = s;
  }
  async setFriendlyName(n: string): Promise<void> {
    this.friendlyName = n;
  }
  async addContact(email: string): Promise<void> {
    this.addFakeContact(email, email, "FLN");
  }
  async removeContact(email: string): Promise<void> {
    this.contacts.delete(email.toLowerCase());
  }
  async openSwitchboard(): Promise<SwitchboardPort> {
    const sb = new FakeSwitchboard(this);
    this.opened.push(sb);
    return sb;
  }
  async answerInvitation(ring: MsnRing): Promise<SwitchboardPort> {
    const sb = new FakeSwitchboard(this);
    sb.participants.set(ring.inviterEmail.toLowerCase(), ring.inviterName);
    this.opened.push(sb);
    return sb;
  }
}

export interface SentMessage {
  as: string | null;
  roomId: string;
  content: MatrixMessageContent;
}

export class FakeMatrix implements MatrixPort {
  readonly botUserId = "@msnbot:hs";
  readonly messages: SentMessage[] = [];
  readonly notices: { roomId: string; text: string }[] = [];
  readonly typing: { email: string; roomId: string; typing: boolean }[] = [];
  readonly presence: { email: string; presence: string }[] = [];
  readonly names = new Map<string, string>();
  readonly rooms: { roomId: string; kind: "dm" | "group"; members: string[] }[] = [];
  membership = "join";

  /** Every ensureGhost call, by e-mail address: profile requests the homeserver would get. */
  readonly ensureGhostCalls: string[] = [];
  /** Makes ensureGhost take this long, like a homeserver round trip. */
  ghostDelayMs = 0;

  async ensureGhost(email: string, displayName: string): Promise<void> {
    this.ensureGhostCalls.push(email.toLowerCase());
    if (this.ghostDelayMs > 0) await new Promise((r) => setTimeout(r, this.ghostDelayMs));
    this.names.set(email.toLowerCase(), displayName);
  }
  async setGhostPresence(email: string, presence: string): Promise<void> {
    this.presence.push({ email, presence });
  }
  async setGhostTyping(email: string, roomId: string, typing: boolean): Promise<void> {
    this.typing.push({ email, roomId, typing });
  }
  async sendMessage(as: string | null, roomId: string, content: MatrixMessageContent): Promise<string> {
    this.messages.push({ as, roomId, content });
    return `$ev${this.messages.length}`;
  }
  async createDirectRoom(email: string, userId: string): Promise<string> {
    const roomId = `!dm${this.rooms.length}:hs`;
    this.rooms.push({ roomId, kind: "dm", members: [email, userId] });
    return roomId;
  }
  async createGroupRoom(userId: string, emails: readonly string[]): Promise<string> {
    const roomId = `!group${this.rooms.length}:hs`;
    this.rooms.push({ roomId, kind: "group", members: [userId, ...emails] });
    return roomId;
  }
  async joinGhost(): Promise<void> {}
  async leaveGhost(): Promise<void> {}
  async inviteUser(_as: string | null, _roomId: string, _userId: string): Promise<void> {}
  async membershipOf(): Promise<string | null> {
    return this.membership;
  }
  async redact(): Promise<boolean> {
    return true;
  }
  async sendBotNotice(roomId: string, text: string): Promise<void> {
    this.notices.push({ roomId, text });
  }
  mediaUrl(): string | null {
    return null;
  }
  roomLink(roomId: string): string {
    return `https://matrix.to/#/${roomId}`;
  }
}

export async function until(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Core options scaled down for tests: every wait is milliseconds. */
export const TEST_CORE_OPTIONS: CoreOptions = {
  typingTimeoutMs: 80,
  typingRepeatMs: 30,
  joinTimeoutMs: 1000,
  offlineGraceMs: 20,
  reconnectWaitMs: 300,
  homeserverRetry: { initialMs: 5, maxMs: 20, jitter: 0, totalMs: 500 },
  loginConcurrency: 2,
  reconnect: { initialMs: 10, maxMs: 50, jitter: 0 },
  forwardPresence: false,
  forwardDisplayname: false,
};
