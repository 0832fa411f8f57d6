/**
 * Routes appservice events: the bot's invites and management-room commands, portal traffic,
 * ghost invites, membership changes, and ephemeral typing/presence. Every input is checked for
 * shape here, at the edge; the core only sees well-formed values.
 */
import type { BridgeCore } from "../bridge/core.js";
import type { GhostIds } from "../bridge/ghost-ids.js";
import type { Log } from "../bridge/log.js";
import type { MatrixPort } from "../bridge/matrix-port.js";
import type { Store } from "../store/store.js";
import { helpText, runCommand } from "./commands.js";

export interface MatrixEvent {
  type: string;
  room_id: string;
  sender: string;
  event_id?: string;
  state_key?: string;
  content: Record<string, unknown>;
  unsigned?: { prev_content?: Record<string, unknown> };
}

export interface RouterDeps {
  core: BridgeCore;
  matrix: MatrixPort;
  store: Store;
  ghosts: GhostIds;
  log: Log;
  /** Whether this Matrix user may use the bridge at all (config `bridge.permissions`). */
  isPermitted(userId: string): boolean;
  /** Leaves (or rejects an invite to) a room as the given ghost or the bot (null). */
  leave(asEmail: string | null, roomId: string, reason: string): Promise<void>;
  joinAsBot(roomId: string): Promise<void>;
}

const UNBRIDGEABLE: Readonly<Record<string, string>> = {
  "m.sticker": "MSN cannot show stickers",
  "m.reaction": "MSN has no reactions",
  "m.room.redaction": "MSN cannot delete messages that were sent",
  "m.room.encrypted": "the bridge cannot read encrypted messages; turn encryption off for this room",
  "m.poll.start": "MSN has no polls",
  "org.matrix.msc3381.poll.start": "MSN has no polls",
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Shape check for events from the homeserver; anything else is dropped with a log line. */
export function asMatrixEvent(raw: unknown): MatrixEvent | null {
  if (!isObject(raw)) return null;
  const { type, room_id, sender, content } = raw;
  if (
    typeof type !== "string" ||
    typeof room_id !== "string" ||
    typeof sender !== "string" ||
    !isObject(content)
  ) {
    return null;
  }
  return raw as unknown as MatrixEvent;
}

export class EventRouter {
  /**
   * Messages taken from the homeserver (or the outbox) and not yet settled — on MSN, or refused
   * with a notice. A homeserver that replays a transaction meanwhile must not send them twice.
   */
  readonly #onItsWay = new Set<string>();

  constructor(private readonly d: RouterDeps) {}

  async onEvent(raw: unknown): Promise<void> {
    const ev = asMatrixEvent(raw);
    if (!ev) {
      this.d.log.warn("dropped a malformed event");
      return;
    }
    if (ev.sender === this.d.matrix.botUserId || this.d.ghosts.isGhost(ev.sender)) return;
    // A transaction the homeserver replays after a crash may hold events that were handled
    // before it: their messages already went to MSN, their commands already ran.
    const eventId = typeof ev.event_id === "string" ? ev.event_id : null;
    if (eventId !== null && (await this.d.store.wasEventHandled(eventId))) {
      this.d.log.info("skipped an event that was already handled", { eventId, roomId: ev.room_id });
      return;
    }
    const done = await this.route(ev);
    if (eventId !== null && done === "handled") await this.d.store.markEventHandled(eventId);
  }

  /** "deferred": a message for MSN, which records itself as handled (at once, or once on MSN). */
  private async route(ev: MatrixEvent): Promise<"handled" | "deferred"> {
    if (ev.type === "m.room.member") await this.onMember(ev);
    else if (ev.type === "m.room.message") return this.onMessage(ev);
    else {
      const reason = UNBRIDGEABLE[ev.type];
      if (reason && typeof ev.event_id === "string") {
        await this.d.core.handleUnbridgeable(ev.room_id, ev.sender, ev.event_id, reason);
      }
    }
    return "handled";
  }

  /**
   * Sends what a crash left in the outbox, oldest first. Runs after the logins were restored and
   * before new transactions are taken, so these messages stay ahead of anything written later.
   */
  async resendOutbox(): Promise<number> {
    const pending = await this.d.store.listOutbox();
    for (const m of pending) {
      this.d.log.info("resending a Matrix message accepted before a restart", {
        eventId: m.eventId,
        roomId: m.roomId,
      });
      this.#onItsWay.add(m.eventId);
      await this.d.core.handlePortalMessage(m.roomId, m.sender, m.eventId, m.content, {
        onSettled: () => this.settleOutgoing(m.eventId, Promise.resolve()),
      });
    }
    return pending.length;
  }

  /**
   * Records a message that reached MSN (or was refused) as handled and takes it out of the outbox
   * if it was put there (`outboxed`: that write; null if it never was). It counts as on its way
   * until recorded, so a replay arriving meanwhile is not sent again.
   */
  private async settleOutgoing(eventId: string, outboxed: Promise<unknown> | null): Promise<void> {
    try {
      await this.d.store.markEventHandled(eventId);
      if (outboxed === null) return;
      await outboxed;
      await this.d.store.removeFromOutbox(eventId);
    } finally {
      this.#onItsWay.delete(eventId);
    }
  }

  async onEphemeral(raw: unknown): Promise<void> {
    if (!isObject(raw) || !isObject(raw.content)) return;
    if (raw.type === "m.typing" && typeof raw.room_id === "string") {
      const ids = Array.isArray(raw.content.user_ids)
        ? raw.content.user_ids.filter((u) => typeof u === "string")
        : [];
      await this.d.core.handleTyping(raw.room_id, ids);
    } else if (
      raw.type === "m.presence" &&
      typeof raw.sender === "string" &&
      typeof raw.content.presence === "string"
    ) {
      await this.d.core.handleOwnPresence(raw.sender, raw.content.presence);
    }
  }

  private async onMember(ev: MatrixEvent): Promise<void> {
    const target = ev.state_key;
    const membership = ev.content.membership;
    if (typeof target !== "string" || typeof membership !== "string") return;

    if (membership === "invite" && target === this.d.matrix.botUserId) return this.onBotInvite(ev);

    const ghostEmail = this.d.ghosts.emailOf(target);
    if (membership === "invite" && ghostEmail !== null) {
      if (!this.d.isPermitted(ev.sender)) {
        await this.d.leave(ghostEmail, ev.room_id, "You are not allowed to use this bridge.");
        return;
      }
      const refusal =
        (await this.ghostInviteRefusal(ev.room_id, ev.sender)) ??
        (await this.d.core.handleGhostInvite(ev.room_id, ev.sender, ghostEmail));
      if (refusal) {
        this.d.log.info("a ghost refused an invite", { roomId: ev.room_id, sender: ev.sender, refusal });
        await this.d.leave(ghostEmail, ev.room_id, refusal);
      }
      return;
    }

    if ((membership === "leave" || membership === "ban") && target === ev.sender) {
      await this.d.core.handleUserLeft(ev.room_id, target);
      if ((await this.d.store.getUserByManagementRoom(ev.room_id)) === target) {
        await this.d.leave(null, ev.room_id, "The management room was left.").catch(() => undefined);
      }
      return;
    }

    if (membership === "join" && target === ev.sender) {
      const name = ev.content.displayname;
      const prev = ev.unsigned?.prev_content?.displayname;
      if (typeof name === "string" && prev !== undefined && name !== prev) {
        await this.d.core.handleOwnDisplayName(target, name);
      }
    }
  }

  /**
   * Inviting a ghost makes the room the inviter's chat with that contact: never a room that is
   * already another user's portal (it would take their conversation over), a group portal, or a
   * management room.
   */
  private async ghostInviteRefusal(roomId: string, inviter: string): Promise<string | null> {
    const portal = await this.d.store.getPortalByRoom(roomId);
    if (portal && portal.userId !== inviter) return "This room is another user's MSN chat.";
    if (portal && portal.kind === "group") return "This room is already an MSN group chat.";
    if ((await this.d.store.getUserByManagementRoom(roomId)) !== null)
      return "This room is a management room of the MSN bridge.";
    return null;
  }

  private async onBotInvite(ev: MatrixEvent): Promise<void> {
    if (!this.d.isPermitted(ev.sender)) {
      this.d.log.info("refused an invite from a user without permission", { sender: ev.sender });
      await this.d.leave(null, ev.room_id, "You are not allowed to use this bridge.");
      return;
    }
    // A portal is a conversation with MSN contacts; were the bot to make it someone's
    // management room, that user's commands (and the owner's messages) would be mixed up there.
    if ((await this.d.store.getPortalByRoom(ev.room_id)) !== null) {
      this.d.log.info("refused an invite into a portal", { sender: ev.sender, roomId: ev.room_id });
      await this.d.leave(null, ev.room_id, "This room is an MSN chat; start a separate DM with me.");
      return;
    }
    const manager = await this.d.store.getUserByManagementRoom(ev.room_id);
    if (manager !== null && manager !== ev.sender) {
      this.d.log.info("ignored an invite into another user's management room", { sender: ev.sender });
      return;
    }
    if (ev.content.is_direct !== true) {
      // The bot's only room with a user is their management room: a DM. Joining group rooms would
      // let it be pulled anywhere and make every room's messages look like commands.
      await this.d.leave(null, ev.room_id, "I only take commands in a direct chat: start a DM with me.");
      return;
    }
    await this.d.joinAsBot(ev.room_id);
    await this.d.store.setManagementRoom(ev.sender, ev.room_id);
    await this.d.matrix.sendBotNotice(
      ev.room_id,
      `Hello! I am the MSN Messenger bridge. This room is where you talk to me.\n${helpText()}`,
    );
  }

  private async onMessage(ev: MatrixEvent): Promise<"handled" | "deferred"> {
    if (typeof ev.event_id !== "string") return "handled";
    const manager = await this.d.store.getUserByManagementRoom(ev.room_id);
    if (manager !== null) {
      if (manager !== ev.sender || !this.d.isPermitted(ev.sender)) return "handled";
      const body = ev.content.body;
      if (typeof body !== "string" || (ev.content.msgtype !== "m.text" && ev.content.msgtype !== "m.notice"))
        return "handled";
      const eventId = ev.event_id;
      await runCommand(
        {
          core: this.d.core,
          userId: ev.sender,
          roomId: ev.room_id,
          eventId,
          redactCommand: (reason) => this.d.matrix.redact(ev.room_id, eventId, reason),
          reply: (text) => this.d.matrix.sendBotNotice(ev.room_id, text),
        },
        body,
      );
      return "handled";
    }
    const eventId = ev.event_id;
    if (this.#onItsWay.has(eventId)) {
      this.d.log.info("a message replayed by the homeserver is already on its way", { eventId });
      return "deferred";
    }
    this.#onItsWay.add(eventId);
    let returned = false;
    let settledInTime = false;
    let outboxed: Promise<unknown> | null = null;
    await this.d.core.handlePortalMessage(ev.room_id, ev.sender, eventId, ev.content, {
      awaitDelivery: true,
      // Settled while the transaction is open: recorded below, with no outbox row.
      onSettled: async () => {
        if (returned) await this.settleOutgoing(eventId, outboxed);
        else settledInTime = true;
      },
    });
    returned = true;
    if (settledInTime) {
      await this.settleOutgoing(eventId, null);
      return "deferred";
    }
    // Still on its way as the transaction is about to be acknowledged, after which the homeserver
    // will not send it again: into the outbox, so that a crash from here on does not lose it. A
    // message that reaches MSN while the transaction is open (almost all of them) costs no outbox
    // write: if the bridge dies before the acknowledgement, the homeserver replays the transaction.
    const message = { eventId, roomId: ev.room_id, sender: ev.sender, content: ev.content };
    outboxed = this.d.store.addToOutbox(message);
    await outboxed;
    return "deferred";
  }
}
