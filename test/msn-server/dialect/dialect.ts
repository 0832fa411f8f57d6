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
  /** Stable contact GUID of this (owner, contact) pair (MSNP10+ `C=`). */
  readonly guid: string;
  readonly lists: number;
  /** FL group ids (empty = group 0). */
  readonly groups: readonly string[];
  readonly phones: Partial<Record<PhoneKey, string>>;
}

/** A user group; `guid` is how MSNP10+ names it on the wire. */
export interface ListedGroup {
  readonly id: string;
  readonly guid: string;
  readonly name: string;
}

/** Everything a SYN answer is built from. */
export interface ListSnapshot {
  readonly ownerName: string;
  readonly contacts: readonly ListedContact[];
  /** User groups in creation order (group 0 is implicit and always first). */
  readonly groups: readonly ListedGroup[];
  readonly blp: "AL" | "BL";
  readonly gtc: "A" | "N";
}

export interface ProfileContext {
  readonly email: string;
  readonly loginTime: Date;
  readonly clientIp: string;
  readonly clientPort: number;
}

/** How a contact is shown in presence lines (ILN/NLN, IRO/JOI). */
export interface PresenceInfo {
  readonly email: string;
  /** Plain-text friendly name. */
  readonly name: string;
  /** Capability bit field from the contact's last CHG ("0" if it never sent one). */
  readonly clientId: string;
  /** Decoded MSN object (display picture descriptor) from the last CHG, if any. */
  readonly msnObject: string | undefined;
}

/** A list entry as named in a list-change reply or notification. */
export interface ListEntryRef {
  readonly email: string;
  /** The name the client gave (MSNP≤9 echoes it). */
  readonly givenName?: string | undefined;
  /** The contact's current friendly name (MSNP10+ `F=` in FL replies). */
  readonly contactName?: string | undefined;
  readonly guid: string;
  /** Group as named on the wire by this dialect (id ≤9, GUID 10+), when the change is about a group. */
  readonly group?: string | undefined;
}

/** Product id/key pair the dialect's challenge answers are keyed with. */
export interface ChallengeScheme {
  readonly productId: string;
  /** The 32-character answer a client must send for `challenge`. */
  answer(challenge: string): string;
}

/**
 * Per-dialect wire formats. Everything that differs between MSNP versions lives behind this
 * interface so the session logic (who is notified, what is an error) stays version-independent.
 * All name/group parameters are returned encoded (percent.ts).
 */
export interface Dialect {
  /** The VER token, e.g. "MSNP7". */
  readonly name: string;
  readonly version: number;
  /** Authentication scheme accepted in `USR`: MD5 (MSNP2–7) or TWN/Passport (MSNP8–14). */
  readonly login: "MD5" | "TWN";
  /** Whether `INF` is part of the dialect (MSNP2–7); on later dialects INF closes the connection. */
  readonly hasInf: boolean;
  /** Challenge scheme for CHL/QRY, if the dialect has challenges. */
  readonly challenge: ChallengeScheme | undefined;
  /** Number of arguments `CHG` accepts after the TrID (min, max); outside it CHG is ignored. */
  readonly chgArgs: readonly [number, number];
  /** Arguments `SYN` takes after the TrID: 1 (list version, ≤9) or 2 (two timestamps, 10+). */
  readonly synArgs: 1 | 2;
  /** List changes: `ADD`/`REM email` (≤9) or `ADC`/`REM <guid>` (10+). */
  readonly listCommands: "ADD" | "ADC";
  /** Groups are named by GUID on the wire (MSNP10+) rather than by small numeric id. */
  readonly groupGuids: boolean;
  /** Error for list commands naming a nonexistent account: 205 (≤9) or 208 (10+). */
  readonly unknownAccountError: number;
  /** Own friendly name: `REA` (≤9) or `PRP MFN` (10+; REA is then 502). */
  readonly ownName: "REA" | "PRP";
  /** Personal messages via `UUX`/`UBX` (MSNP11+). */
  readonly hasPsm: boolean;

  usrOk(trid: string, email: string, name: string): OutLine;
  /** Lines right after the profile message (MSNP11+: `SBS 0 null`). */
  afterLogin(): OutLine[];
  profile(ctx: ProfileContext): OutLine;
  systemMessage(type: number, minutes: number): OutLine;
  /** `synArgs` are the client's SYN arguments after the TrID; `version` the list version to answer. */
  syn(trid: string, synArgs: readonly string[], version: number, snapshot: ListSnapshot): OutLine[];
  iln(trid: string, status: PresenceStatus, who: PresenceInfo): OutLine;
  nln(status: PresenceStatus, who: PresenceInfo): OutLine;
  fln(email: string): OutLine;
  /** `UBX email len` + PSM payload (only used when `hasPsm`). */
  ubx(email: string, payload: Buffer): OutLine;
  chg(trid: string, status: PresenceStatus, extra: readonly string[]): OutLine;
  /** Reply to a successful ADD/ADC. */
  listAdded(trid: string, list: ListName, version: number, entry: ListEntryRef): OutLine;
  /** Reply to a successful REM. */
  listRemoved(trid: string, list: ListName, version: number, entry: ListEntryRef): OutLine;
  /** Notification that `email` put the receiver on its FL. */
  reverseAdded(version: number, email: string, name: string): OutLine;
  /** Notification that `email` removed the receiver from its FL. */
  reverseRemoved(version: number, email: string): OutLine;
  /** `group` is the wire form (id ≤9, GUID 10+) for all group commands. */
  adg(trid: string, version: number, name: string, group: string): OutLine;
  rmg(trid: string, version: number, group: string): OutLine;
  reg(trid: string, version: number, group: string, name: string): OutLine;
  gtc(trid: string, version: number, value: "A" | "N"): OutLine;
  blp(trid: string, version: number, value: "AL" | "BL"): OutLine;
  rea(trid: string, version: number, email: string, name: string): OutLine;
  prp(trid: string, name: string): OutLine;
  xfrSb(trid: string, address: string, cookie: string): OutLine;
  xfrNs(trid: string, address: string): OutLine;
  rng(sessionId: string, address: string, cookie: string, inviterEmail: string, inviterName: string): OutLine;
  qng(): OutLine;
  sbUsrOk(trid: string, email: string, name: string): OutLine;
  iro(trid: string, index: number, total: number, who: PresenceInfo): OutLine;
  joi(who: PresenceInfo): OutLine;
}
