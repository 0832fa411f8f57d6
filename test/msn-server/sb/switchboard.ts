import { randomBytes } from "node:crypto";

import type { ServerCore } from "../core.js";
import type { SbSession } from "./sb-session.js";

/**
 * One switchboard (chat session): its id, who is in it, and its optional idle timeout. Escargot
 * keeps a session alive as long as anyone is in it and destroys it when the last one leaves.
 */
export class Switchboard {
  readonly id: string;
  /** Participants in join order (one entry per SB connection). */
  private readonly members: SbSession[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private ending = false;

  constructor(private readonly core: ServerCore) {
    let id: string;
    do id = randomBytes(16).toString("hex").slice(0, 31);
    while (core.switchboards.has(id));
    this.id = id;
    core.switchboards.set(id, this);
  }

  get participants(): readonly SbSession[] {
    return this.members;
  }

  /** Addresses of everyone in the session, in join order, without repeats. */
  get emails(): string[] {
    return [...new Set(this.members.map((m) => m.email).filter((e): e is string => e !== undefined))];
  }

  has(email: string): boolean {
    return this.members.some((m) => m.email === email);
  }

  /** Adds a participant; everyone already present hears `JOI` unless `silent` (the creator). */
  join(session: SbSession, silent: boolean): void {
    if (!silent) for (const other of this.members) other.announceJoin(session);
    this.members.push(session);
    this.touch();
  }

  /** Removes a participant; the others hear `BYE email` (with ` 1` for an idle timeout). */
  leave(session: SbSession): void {
    const index = this.members.indexOf(session);
    if (index < 0) return;
    this.members.splice(index, 1);
    if (!this.ending && session.email !== undefined) {
      for (const other of this.members) other.announceLeave(session.email, false);
    }
    if (this.members.length === 0) this.destroy();
  }

  /** Records activity for the idle timeout (a relayed MSG or a join). */
  touch(): void {
    const timeout = this.core.behaviour.sbIdleTimeoutMs;
    this.core.timers.clear(this.idleTimer);
    this.idleTimer = timeout === null ? undefined : this.core.timers.set(() => this.expire(), timeout);
  }

  /**
   * Idle timeout (historic servers; Escargot has none): every participant is told that each of
   * the others left with `BYE email 1`, then all connections are closed.
   */
  private expire(): void {
    this.idleTimer = undefined;
    this.ending = true;
    const members = [...this.members];
    for (const member of members) {
      for (const other of members) {
        if (other !== member && other.email !== undefined && other.email !== member.email) {
          member.announceLeave(other.email, true);
        }
      }
    }
    for (const member of members) member.conn.close();
    this.destroy();
  }

  private destroy(): void {
    this.core.timers.clear(this.idleTimer);
    this.idleTimer = undefined;
    this.core.switchboards.delete(this.id);
  }
}
