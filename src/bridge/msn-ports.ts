/**
 * The part of the MSN protocol client the core relies on, stated as interfaces so the core
 * can be exercised without sockets. `src/msnp`'s NotificationSession and SwitchboardSession
 * satisfy these structurally; tests may pass fakes.
 */
import type { NotificationCloseReason } from "../msnp/index.js";
import type { MsnStatus } from "./presence.js";

export interface MsnContact {
  /** As the server spells it. */
  readonly email: string;
  readonly friendlyName: string;
  readonly status: MsnStatus;
  /** The contact's personal message (MSNP11+), shown as the ghost's status message. */
  readonly personalMessage?: string | undefined;
  readonly lists: {
    readonly forward: boolean;
    readonly allow: boolean;
    readonly block: boolean;
    readonly reverse: boolean;
  };
}

export interface MsnRing {
  readonly sessionId: string;
  readonly inviterEmail: string;
  readonly inviterName: string;
}

export interface MsnTextFormat {
  readonly font?: string | undefined;
  readonly bold?: boolean | undefined;
  readonly italic?: boolean | undefined;
  readonly underline?: boolean | undefined;
  readonly strikethrough?: boolean | undefined;
  /** `#rrggbb` */
  readonly color?: string | undefined;
}

/** Why an NS session ended; the core decides from it whether to reconnect. */
export type MsnCloseReason = NotificationCloseReason;

/** Every event carries one payload object (the style of `src/msnp`'s emitters). */
export interface Listenable<Events extends object> {
  on<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): unknown;
  off<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): unknown;
}

export type NotificationPortEvents = {
  presence: { contact: MsnContact; previousStatus: MsnStatus | null };
  reverseListAdd: { email: string; friendlyName: string };
  ring: MsnRing;
  closed: { reason: MsnCloseReason; error?: Error | undefined };
};

export interface NotificationPort extends Listenable<NotificationPortEvents> {
  readonly email: string;
  readonly friendlyName: string;
  readonly protocolVersion: string;
  readonly contacts: ReadonlyMap<string, MsnContact>;
  connect(): Promise<void>;
  close(): Promise<void>;
  setStatus(status: MsnStatus): Promise<void>;
  setFriendlyName(name: string): Promise<void>;
  addContact(email: string): Promise<void>;
  removeContact(email: string): Promise<void>;
  openSwitchboard(): Promise<SwitchboardPort>;
  answerInvitation(ring: MsnRing): Promise<SwitchboardPort>;
}

export type SwitchboardPortEvents = {
  message: { from: string; fromName: string; text: string; format?: MsnTextFormat | undefined };
  typing: { from: string };
  nudge: { from: string };
  join: { email: string; name: string };
  leave: { email: string; idle: boolean };
  unsupported: { from: string; contentType: string; kind: string };
  closed: { reason: string; error?: Error | undefined };
};

export interface SwitchboardPort extends Listenable<SwitchboardPortEvents> {
  /** Other participants, lower-cased e-mail → friendly name. */
  readonly participants: ReadonlyMap<string, string>;
  invite(email: string): Promise<void>;
  waitForJoin(email: string, timeoutMs: number): Promise<void>;
  /**
   * Sends a text message, split into chunks as the protocol needs. With ack `A` it resolves when
   * every chunk was acknowledged and rejects on NAK, ACK timeout or a lost connection; `skipChunks`
   * leaves out chunks an earlier attempt got acknowledged, `onChunkDone` reports each one done.
   */
  sendText(
    text: string,
    opts?: {
      ack?: "U" | "N" | "A";
      ackTimeoutMs?: number;
      skipChunks?: number;
      onChunkDone?: (index: number, total: number) => void;
    },
  ): Promise<unknown>;
  /** Fire and forget: typing is never acknowledged. */
  sendTyping(myEmail: string): unknown;
  close(): Promise<void>;
}

export interface NotificationPortOptions {
  email: string;
  password: string;
}

/** Makes a not-yet-connected NS session for a login; the bridge supplies server and tuning. */
export type NotificationFactory = (opts: NotificationPortOptions) => NotificationPort;
