/**
 * What the core asks of the Matrix side. `src/matrix` implements it with
 * matrix-appservice-bridge intents; the core never sees HTTP. Ghosts are named by the contact's
 * e-mail; the implementation maps them to user IDs.
 */
import type { MatrixPresence } from "./presence.js";

export interface MatrixMessageContent {
  msgtype: string;
  body: string;
  format?: "org.matrix.custom.html";
  formatted_body?: string;
  "m.relates_to"?: { "m.in_reply_to": { event_id: string } };
  [key: string]: unknown;
}

export interface MatrixPort {
  readonly botUserId: string;

  /** Registers the ghost if needed and sets its display name. */
  ensureGhost(email: string, displayName: string): Promise<void>;
  setGhostPresence(email: string, presence: MatrixPresence, statusMsg: string | undefined): Promise<void>;
  setGhostTyping(email: string, roomId: string, typing: boolean): Promise<void>;
  /**
   * Sends as the ghost, or as the bot when `email` is null. Returns the event ID. Callers that
   * retry pass the same `txnId` each time, so the homeserver makes one event however often a
   * send is repeated.
   */
  sendMessage(
    email: string | null,
    roomId: string,
    content: MatrixMessageContent,
    txnId?: string,
  ): Promise<string>;

  /** A DM room created by the ghost, with `is_direct` invite to the user. */
  createDirectRoom(email: string, userId: string): Promise<string>;
  /** A group room created by the bot; the ghosts join, the user is invited. */
  createGroupRoom(userId: string, emails: readonly string[], name: string, topic: string): Promise<string>;
  /** Makes the ghost a member of the room (invites it as the bot when needed). */
  joinGhost(email: string, roomId: string): Promise<void>;
  leaveGhost(email: string, roomId: string): Promise<void>;
  /** Re-invites the user to a portal they are not in. */
  inviteUser(inviterEmail: string | null, roomId: string, userId: string): Promise<void>;
  /** The user's membership in the room as seen by the ghost (or the bot when null), which must be in it. */
  membershipOf(viewerEmail: string | null, roomId: string, userId: string): Promise<string | null>;

  /** Redacts as the bot; false when the bot lacks the power to. */
  redact(roomId: string, eventId: string, reason: string): Promise<boolean>;
  /** The bot's DM with the user, created when there is none. */
  sendBotNotice(roomId: string, text: string, html?: string): Promise<void>;
  /** An HTTP(S) URL where the homeserver serves an mxc:// URI, or null. */
  mediaUrl(mxc: string): string | null;
  /** A matrix.to link to a room. */
  roomLink(roomId: string): string;
}
