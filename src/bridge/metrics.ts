/**
 * What the core reports for operators. The core calls this interface and never sees prom-client:
 * the Prometheus implementation lives in src/matrix/prometheus.ts, and `noMetrics` keeps the core
 * usable (and its tests simple) when metrics are off.
 */

export type MessageDirection = "msn_to_matrix" | "matrix_to_msn";

/**
 * Why a Matrix message got a "not bridged" notice. A closed set, so a Prometheus label never
 * grows with user input (the notice text itself names contacts).
 */
export type NotBridgedReason =
  /** Content MSN cannot carry: reactions, edits, redactions, stickers, encrypted events… */
  | "unsupported"
  /** The room's owner has no MSN login on this bridge (any more). */
  | "not_logged_in"
  /** The login exists but its MSN connection is down. */
  | "not_connected"
  /** Every contact of the conversation is offline. */
  | "contact_offline"
  /** The switchboard could not be set up or the send failed (twice). */
  | "delivery_failed";

export interface BridgeMetrics {
  /** A message reached the other side (the homeserver accepted it, or MSN took the MSG). */
  messageBridged(direction: MessageDirection): void;
  /** MSN→Matrix: seconds from the contact's MSG arriving to the homeserver accepting the send. */
  msnToMatrixLatency(seconds: number): void;
  notBridged(reason: NotBridgedReason): void;
  /** An automatic reconnection attempt to the Notification Server (after a drop or failed attempt). */
  reconnectAttempt(): void;
  /** Seconds to open a switchboard and get a contact into it (XFR → USR → CAL → JOI). */
  switchboardSetup(seconds: number): void;
  /**
   * An MSN message that never reached Matrix: the portal's buffer for an unreachable homeserver
   * was full, or the homeserver stayed unreachable for the whole retry window.
   */
  msnMessageLost?(reason: MsnMessageLostReason): void;
}

export type MsnMessageLostReason = "buffer_full" | "homeserver_unreachable";

export const noMetrics: BridgeMetrics = {
  messageBridged: () => undefined,
  msnToMatrixLatency: () => undefined,
  notBridged: () => undefined,
  reconnectAttempt: () => undefined,
  switchboardSetup: () => undefined,
};

/** Seconds elapsed since a `performance.now()` reading. */
export function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}
