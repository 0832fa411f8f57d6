import type { ListName, PhoneKey, PresenceStatus } from "../accounts.js";
import type { Token } from "../wire/connection.js";

/** One outgoing command: tokens (already encoded) and an optional payload. */
export interface OutLine {
  readonly tokens: readonly Token[];
  readonly payload?: Buffer;
}

/** A contact as it appears in the owner's list sync. */
export interface ListedContact {
  readonly email: string;
  /** The contact's current friendly name (plain text). */
  readonly name: string;
  readonly lists: number;
  /** FL group ids (empty = group 0). */
  readonly groups: readonly string[];
  readonly phones: Partial<Record<PhoneKey, string>>;
}

/** Everything a SYN answer is built from. */
export interface ListSnapshot {
  readonly ownerName: string;
  readonly contacts: readonly ListedContact[];
  /** User groups in creation order (group 0 is implicit and always first). */
  readonly groups: readonly { readonly id: string; readonly name: string }[];
  readonly blp: "AL" | "BL";
  readonly gtc: "A" | "N";
}

export interface ProfileContext {
  readonly email: string;
  readonly loginTime: Date;
  readonly clientIp: string;
  readonly clientPort: number;
}

/** Product id/key pair the dialect's challenge answers are keyed with. */
export interface ChallengeScheme {
  readonly productId: string;
  /** The 32-character answer a client must send for `challenge`. */
  answer(challenge: string): string;
}

/**
 * Per-dialect wire formats. Everything that differs between MSNP versions lives behind this
 * interface so the session logic (who is notified, what is an error) stays version-independent;
 * adding MSNP8–12 means adding implementations (plus TWN login), not touching the handlers' rules.
 * All name/group parameters are returned encoded (percent.ts).
 */
export interface Dialect {
  /** The VER token, e.g. "MSNP7". */
  readonly name: string;
  readonly version: number;
  /** Authentication scheme accepted in `USR`. */
  readonly login: "MD5";
  /** Whether `INF` is part of the dialect (MSNP2–7). */
  readonly hasInf: boolean;
  /** Challenge scheme for CHL/QRY, if the dialect has challenges. */
  readonly challenge: ChallengeScheme | undefined;
  /** Number of arguments `CHG` accepts after the TrID (min, max). */
  readonly chgArgs: readonly [number, number];

  usrOk(trid: string, email: string, name: string): OutLine;
  profile(ctx: ProfileContext): OutLine;
  systemMessage(type: number, minutes: number): OutLine;
  syn(trid: string, version: number, snapshot: ListSnapshot): OutLine[];
  iln(trid: string, status: PresenceStatus, email: string, name: string): OutLine;
  nln(status: PresenceStatus, email: string, name: string): OutLine;
  fln(email: string): OutLine;
  chg(trid: string, status: PresenceStatus, extra: readonly string[]): OutLine;
  add(trid: string, list: ListName, version: number, email: string, name?: string, group?: string): OutLine;
  /** Notification that `email` put the receiver on its FL. */
  reverseAdded(version: number, email: string, name: string): OutLine;
  /** Notification that `email` removed the receiver from its FL. */
  reverseRemoved(version: number, email: string): OutLine;
  rem(trid: string, list: ListName, version: number, email: string, group?: string): OutLine;
  adg(trid: string, version: number, name: string, id: string): OutLine;
  rmg(trid: string, version: number, id: string): OutLine;
  reg(trid: string, version: number, id: string, name: string): OutLine;
  gtc(trid: string, version: number, value: "A" | "N"): OutLine;
  blp(trid: string, version: number, value: "AL" | "BL"): OutLine;
  rea(trid: string, version: number, email: string, name: string): OutLine;
  xfrSb(trid: string, address: string, cookie: string): OutLine;
  xfrNs(trid: string, address: string): OutLine;
  rng(sessionId: string, address: string, cookie: string, inviterEmail: string, inviterName: string): OutLine;
  qng(): OutLine;
  sbUsrOk(trid: string, email: string, name: string): OutLine;
  iro(trid: string, index: number, total: number, email: string, name: string): OutLine;
  joi(email: string, name: string): OutLine;
}
