/**
 * MatrixPort on matrix-appservice-bridge: ghosts and the bot act through Intents (which register
 * users and join rooms on demand); raw calls go through the intent's bot-sdk client.
 */
import type { Bridge, Intent } from "matrix-appservice-bridge";
import type { MatrixMessageContent, MatrixPort } from "../bridge/matrix-port.js";
import type { MatrixPresence } from "../bridge/presence.js";
import type { GhostIds } from "../bridge/ghost-ids.js";
import { escapeHtml } from "../bridge/translate.js";
import type { MediaLinks } from "./public-media.js";
import { HomeserverError, type EventSender } from "./event-sender.js";
import { nextTransactionId } from "../bridge/matrix-retry.js";

function errcode(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const o = e as { errcode?: unknown; body?: { errcode?: unknown } };
  const code = o.errcode ?? o.body?.errcode;
  return typeof code === "string" ? code : undefined;
}

/** `code` spans for bot notices: the only markup the bot's texts use. */
export function noticeHtml(text: string): string {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\n/g, "<br>");
}

export class MatrixGateway implements MatrixPort {
  constructor(
    private readonly bridge: Bridge,
    private readonly ghosts: GhostIds,
    private readonly media: Pick<MediaLinks, "urlFor">,
    /** The fast path for ghosts' messages; without it they go through Intents like the rest. */
    private readonly sender: EventSender | null = null,
  ) {}

  get botUserId(): string {
    return this.bridge.botUserId;
  }

  /** Ghost IDs of recent senders: escaping an address on every message showed in profiles. */
  private readonly senderIds = new Map<string, string>();

  private ghostUserId(email: string): string {
    let id = this.senderIds.get(email);
    if (id === undefined) {
      // Bounded: a flood of new senders only restarts the cache.
      if (this.senderIds.size >= 10_000) this.senderIds.clear();
      id = this.ghosts.userId(email);
      this.senderIds.set(email, id);
    }
    return id;
  }

  private intentFor(email: string | null): Intent {
    return email === null ? this.bridge.getIntent() : this.bridge.getIntent(this.ghosts.userId(email));
  }

  async ensureGhost(email: string, displayName: string): Promise<void> {
    const intent = this.intentFor(email);
    await intent.ensureRegistered();
    await intent.setDisplayName(displayName);
  }

  async setGhostPresence(
    email: string,
    presence: MatrixPresence,
    statusMsg: string | undefined,
  ): Promise<void> {
    await this.intentFor(email).setPresence(presence, statusMsg);
  }

  async setGhostTyping(email: string, roomId: string, typing: boolean): Promise<void> {
    await this.intentFor(email).sendTyping(roomId, typing);
  }

  async sendMessage(
    email: string | null,
    roomId: string,
    content: MatrixMessageContent,
    txnId: string = nextTransactionId(),
  ): Promise<string> {
    if (email === null || !this.sender) {
      const res = await this.intentFor(email).sendMessage(roomId, content);
      return res.event_id;
    }
    const userId = this.ghostUserId(email);
    try {
      return await this.sender.sendEvent(userId, roomId, "m.room.message", content, txnId);
    } catch (e) {
      // Not registered or not in the room (kicked, or a portal made before the ghost joined):
      // what the Intent would have checked before every send, done only when it is needed.
      // A 403 made no event, so the same txnId is sent once more.
      if (!(e instanceof HomeserverError) || e.statusCode !== 403) throw e;
      const intent = this.intentFor(email);
      await intent.ensureRegistered();
      await this.joinGhost(email, roomId);
      return this.sender.sendEvent(userId, roomId, "m.room.message", content, txnId);
    }
  }

  async createDirectRoom(email: string, userId: string): Promise<string> {
    const intent = this.intentFor(email);
    await intent.ensureRegistered();
    const res = await intent.createRoom({
      createAsClient: true,
      options: {
        preset: "trusted_private_chat",
        is_direct: true,
        visibility: "private",
        invite: [userId],
      },
    });
    return res.room_id;
  }

  async createGroupRoom(
    userId: string,
    emails: readonly string[],
    name: string,
    topic: string,
  ): Promise<string> {
    const bot = this.intentFor(null);
    const ghostIds = emails.map((e) => this.ghosts.userId(e));
    const res = await bot.createRoom({
      createAsClient: true,
      options: {
        preset: "private_chat",
        visibility: "private",
        name,
        topic,
        invite: [userId, ...ghostIds],
        power_level_content_override: { users: { [bot.userId]: 100, [userId]: 50 } },
      },
    });
    await Promise.all(emails.map((e) => this.intentFor(e).join(res.room_id)));
    return res.room_id;
  }

  async joinGhost(email: string, roomId: string): Promise<void> {
    const intent = this.intentFor(email);
    try {
      await intent.join(roomId);
    } catch {
      // Not invited yet: the bot (in group portals) brings the ghost in.
      await this.intentFor(null).invite(roomId, intent.userId);
      await intent.join(roomId);
    }
  }

  async leaveGhost(email: string, roomId: string): Promise<void> {
    await this.intentFor(email).leave(roomId);
  }

  async inviteUser(inviterEmail: string | null, roomId: string, userId: string): Promise<void> {
    await this.intentFor(inviterEmail).invite(roomId, userId);
  }

  async membershipOf(viewerEmail: string | null, roomId: string, userId: string): Promise<string | null> {
    try {
      const state = (await this.intentFor(viewerEmail).matrixClient.getRoomStateEvent(
        roomId,
        "m.room.member",
        userId,
      )) as {
        membership?: unknown;
      };
      return typeof state.membership === "string" ? state.membership : null;
    } catch (e) {
      if (errcode(e) === "M_NOT_FOUND") return null;
      throw e;
    }
  }

  async redact(roomId: string, eventId: string, reason: string): Promise<boolean> {
    try {
      await this.intentFor(null).matrixClient.redactEvent(roomId, eventId, reason);
      return true;
    } catch (e) {
      if (errcode(e) === "M_FORBIDDEN") return false;
      throw e;
    }
  }

  async sendBotNotice(roomId: string, text: string, html?: string): Promise<void> {
    await this.intentFor(null).sendMessage(roomId, {
      msgtype: "m.notice",
      body: text,
      format: "org.matrix.custom.html",
      formatted_body: html ?? noticeHtml(text),
    });
  }

  mediaUrl(mxc: string): string | null {
    return this.media.urlFor(mxc);
  }

  roomLink(roomId: string): string {
    return `https://matrix.to/#/${encodeURIComponent(roomId)}`;
  }
}
