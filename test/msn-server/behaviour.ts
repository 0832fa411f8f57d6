import type { Dialect } from "./dialect/index.js";
import type { ConnectionKind } from "./wire/connection.js";

/** What a reply rule sees about one outgoing line. */
export interface ReplyContext {
  /** Account of the connection the line goes to (undefined before it is known). */
  readonly email: string | undefined;
  readonly connection: ConnectionKind;
  /** The connection's id, as in the transcript's `connectionId`: lets a rule stall one switchboard. */
  readonly connectionId: number;
  /**
   * The client command this line answers: the command the same connection is being handled for
   * when the line is produced. Undefined for notifications caused by other connections (NLN,
   * RNG, JOI, relayed MSG, …) and for timer-driven lines.
   */
  readonly request:
    { readonly name: string; readonly trid: string | undefined; readonly line: string } | undefined;
  /** The outgoing command line (without terminator). */
  readonly line: string;
  /** Its command name, e.g. "QNG", "217", "NLN". */
  readonly name: string;
}

/**
 * Selects outgoing lines. A string selects the replies to that client command (e.g. "PNG" selects
 * the QNG, "CAL" selects `CAL … RINGING` and CAL errors); a function sees every outgoing line.
 */
export type ReplyMatcher = string | ((ctx: ReplyContext) => boolean);

export type ReplyAction = { readonly kind: "drop" } | { readonly kind: "delay"; readonly ms: number };

export interface ReplyRule {
  readonly id: number;
  readonly match: ReplyMatcher;
  readonly action: ReplyAction;
  /** Restricts the rule to one account's connections. */
  readonly email: string | undefined;
}

export interface NsRedirect {
  readonly host: string;
  readonly port: number;
  /** How many more `USR … I` get redirected (Infinity = all). */
  remaining: number;
}

/** The server's behaviour switches; tests flip them at runtime through MsnTestServer's methods. */
export interface Behaviour {
  /** Dialects accepted in VER, in preference order. */
  dialects: readonly Dialect[];
  /** Lifetime of XFR and RNG cookies. */
  cookieTtlMs: number;
  /** SB connections that have not authenticated within this time are closed. */
  sbAuthTimeoutMs: number;
  /** When set, a switchboard with no MSG for this long is ended with `BYE email 1` to everyone. */
  sbIdleTimeoutMs: number | null;
  /** Largest SB MSG payload; one byte more drops the sender's SB connection. */
  maxMessageBytes: number;
  /** Send every NLN notification twice, like Escargot sometimes does. */
  duplicateNln: boolean;
  /** Send `CHL` at login and require a correct `QRY`. */
  challenges: boolean;
  /** A login challenge not answered within this time drops the connection. */
  challengeTimeoutMs: number;
  /** Answer `USR … I` with `XFR NS` to this address. */
  redirect: NsRedirect | null;
  /** Maintenance mode: `USR … I` gets 500 and the connection is closed. */
  maintenance: boolean;
  readonly replyRules: ReplyRule[];
}

export function matchesRule(rule: ReplyRule, ctx: ReplyContext): boolean {
  if (rule.email !== undefined && rule.email !== ctx.email) return false;
  if (typeof rule.match === "string") return ctx.request?.name === rule.match;
  return rule.match(ctx);
}
