import type { ConnectionKind } from "./wire/connection.js";

/** One line that crossed the wire, in either direction. */
export interface WireRecord {
  /** Increasing sequence number (server-wide). */
  readonly seq: number;
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly direction: "in" | "out";
  readonly connection: ConnectionKind;
  readonly connectionId: number;
  /**
   * The account of the connection. For lines received before the account was known (VER, CVR and
   * `USR … I` itself on the NS) it is filled in once the connection names its account, so
   * `received(email)` covers the whole conversation.
   */
  readonly email: string | undefined;
  /** The command line without terminator (for payload commands it includes the length). */
  readonly line: string;
  /** The command name (first token). */
  readonly name: string;
  /** Arguments after the name, as on the wire (still percent-encoded; no payload length). */
  readonly args: readonly string[];
  readonly payload?: Buffer;
  /** Outgoing only: a reply rule dropped it ("drop") or delayed it by `delayedMs`. */
  readonly fate?: "sent" | "dropped" | "delayed";
  readonly delayedMs?: number;
}

/** A line received from a client (the "command" event). */
export type CommandRecord = WireRecord & { readonly direction: "in" };

export type RecordPredicate = (record: WireRecord) => boolean;

interface Waiter {
  readonly predicate: RecordPredicate;
  readonly resolve: (record: WireRecord) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The server's wire log: every line in and out, attributable to accounts, with waiting helpers.
 * Bounded (oldest records are dropped beyond `limit`; 0 keeps none but waits still see new lines)
 * so long benchmarks do not grow without end.
 */
export class Transcript {
  private records: WireRecord[] = [];
  private seq = 0;
  private readonly emailByConnection = new Map<number, string>();
  /** Records of connections whose account is not known yet (mutated once it is). */
  private readonly unattributed = new Map<number, { email: string | undefined }[]>();
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly limit: number) {}

  /** Names the account of a connection; earlier records of that connection are attributed too. */
  attribute(connectionId: number, email: string): void {
    this.emailByConnection.set(connectionId, email);
    for (const record of this.unattributed.get(connectionId) ?? []) record.email = email;
    this.unattributed.delete(connectionId);
  }

  /** The connection is gone; stop tracking its unattributed records. */
  forget(connectionId: number): void {
    this.unattributed.delete(connectionId);
  }

  add(record: Omit<WireRecord, "seq" | "at" | "email">): WireRecord {
    const email = this.emailByConnection.get(record.connectionId);
    const full: WireRecord = { ...record, seq: ++this.seq, at: Date.now(), email };
    if (email === undefined) {
      const pending = this.unattributed.get(record.connectionId) ?? [];
      pending.push(full as { email: string | undefined });
      this.unattributed.set(record.connectionId, pending);
    }
    if (this.limit > 0) this.records.push(full);
    // Trim in batches so that a full log costs amortised O(1) per line, not a shift per line.
    if (this.records.length > this.limit + Math.max(1, this.limit >> 2)) {
      this.records.splice(0, this.records.length - this.limit);
    }
    for (const waiter of [...this.waiters]) {
      if (safeMatch(waiter.predicate, full)) this.settle(waiter, full);
    }
    return full;
  }

  list(filter?: RecordPredicate): WireRecord[] {
    return filter ? this.records.filter((r) => safeMatch(filter, r)) : [...this.records];
  }

  clear(): void {
    this.records = [];
  }

  /**
   * Resolves with the first record matching `predicate` — an already recorded one if
   * `includePast`, otherwise only a future one — or rejects after `timeoutMs`.
   */
  waitFor(
    predicate: RecordPredicate,
    timeoutMs: number,
    includePast: boolean,
    what: string,
  ): Promise<WireRecord> {
    if (includePast) {
      const found = this.records.find((r) => safeMatch(predicate, r));
      if (found) return Promise.resolve(found);
    }
    return new Promise<WireRecord>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter = { predicate, resolve, reject, timer };
      this.waiters.add(waiter);
    });
  }

  /** Fails every pending wait (the server is stopping; nothing more will arrive). */
  rejectAll(reason: string): void {
    for (const waiter of [...this.waiters]) {
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.reject(new Error(reason));
    }
  }

  private settle(waiter: Waiter, record: WireRecord): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
    waiter.resolve(record);
  }
}

function safeMatch(predicate: RecordPredicate, record: WireRecord): boolean {
  try {
    return predicate(record);
  } catch {
    return false;
  }
}
