/**
 * Plays the homeserver's side of the appservice API: pushes transactions to the bridge the way
 * Synapse does (PUT /_matrix/app/v1/transactions/<txnId>, authenticated with the hs_token).
 */
export interface PushedEvent {
  type: string;
  room_id: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
}

export class AppservicePusher {
  private txn = 0;
  private event = 0;
  /** Makes transaction and event ids unique across bridge restarts within one run. */
  private readonly run = Date.now().toString(36);

  constructor(
    private readonly appserviceUrl: string,
    private readonly hsToken: string,
  ) {}

  /**
   * Resolves once the bridge has accepted (200) the transaction. `ephemeral` events (typing,
   * presence) travel under the MSC2409 key, as Synapse sends them.
   */
  async push(
    events: readonly PushedEvent[],
    ephemeral: readonly Record<string, unknown>[] = [],
  ): Promise<string[]> {
    const ids: string[] = [];
    const body = events.map((e) => {
      const eventId = `$bench-${this.run}-${this.event++}`;
      ids.push(eventId);
      return { ...e, event_id: eventId, origin_server_ts: Date.now(), unsigned: {} };
    });
    const res = await fetch(`${this.appserviceUrl}/_matrix/app/v1/transactions/${this.run}-${this.txn++}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${this.hsToken}`, "content-type": "application/json" },
      body: JSON.stringify({ events: body, "de.sorunome.msc2409.ephemeral": ephemeral }),
    });
    if (!res.ok) throw new Error(`appservice transaction refused: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    return ids;
  }

  /** The m.typing EDU of a room: who is typing there now. */
  typing(roomId: string, userIds: readonly string[]): Record<string, unknown> {
    return { type: "m.typing", room_id: roomId, content: { user_ids: userIds } };
  }

  message(roomId: string, sender: string, body: string): PushedEvent {
    return { type: "m.room.message", room_id: roomId, sender, content: { msgtype: "m.text", body } };
  }
}
