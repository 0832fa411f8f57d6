/**
 * Everything that differs between protocol versions lives here, behind the {@link Dialect}
 * interface: argument layouts, login scheme, list-sync format, presence formats, challenge keys.
 * The sessions ask the dialect and never test version numbers themselves, so supporting a new
 * version range is one new Dialect object, not a fork of the session code.
 *
 * Implemented: MSNP2–7 (MD5 login, `SYN` with per-list `LST` lines) and MSNP8–12 (TWN login,
 * counted `SYN`, `ADC`/GUIDs and `PRP MFN` from MSNP10, `UBX` personal messages from MSNP11).
 */
import {
  answerChallengeMd5,
  answerChallengeMsnp11,
  MSN6_CHALLENGE_PRODUCT,
  MSNP11_CHALLENGE_PRODUCT,
  MSNP7_CHALLENGE_PRODUCT,
} from "./challenge.js";
import { decodeParam } from "./encoding.js";
import { MsnArgumentError } from "./errors.js";
import type { MsnCommand } from "./framing.js";
import {
  isContactStatus,
  type ContactLists,
  type ContactStatus,
  type ListName,
  type OwnStatus,
} from "./types.js";

export interface PresenceUpdate {
  email: string;
  status: ContactStatus;
  /** Decoded name, or null when the command carries none (FLN). */
  friendlyName: string | null;
}

export type ListChangeKind = "add" | "remove";

export interface ListChange {
  kind: ListChangeKind;
  list: ListName;
  /** Null when the command names the contact only by GUID (`REM <trid> FL <guid>`, MSNP10+). */
  email: string | null;
  /** Contact GUID (MSNP10+ `C=` / `REM FL <guid>`), else null. */
  guid: string | null;
  /** Decoded name when the command carries one. */
  friendlyName: string | null;
}

/** A contact as read from the list sync, before presence is known. */
export interface SyncedContact {
  email: string;
  friendlyName: string;
  lists: ContactLists;
  groups: string[];
  /** Contact GUID (MSNP10+). */
  guid?: string;
}

export interface ListSyncResult {
  contacts: Map<string, SyncedContact>;
  groups: Map<string, string>;
  /** `BLP` value, if the server sent one. */
  privacy: string | null;
  /** `GTC` value, if the server sent one. */
  addPrompt: string | null;
  /** Our own friendly name if the sync carried it (`PRP MFN`, MSNP10+). */
  ownFriendlyName: string | null;
}

/** Consumes the commands that make up one `SYN` answer. */
export interface ListSync {
  /** The `SYN` reply itself (args after the TrID). */
  onSynReply(args: readonly string[]): void;
  /** Offers any command received while syncing; returns whether it belonged to the sync. */
  handle(command: MsnCommand): boolean;
  /** True once everything announced has arrived. */
  readonly complete: boolean;
  /** True once the essential part (all lists) arrived, even if optional lines are missing. */
  readonly listsComplete: boolean;
  result(): ListSyncResult;
}

export interface LoginOk {
  email: string;
  friendlyName: string | null;
}

export interface Dialect {
  /** As offered in `VER`, e.g. `MSNP7`. */
  readonly version: string;
  readonly versionNumber: number;
  /** Login scheme of this range: `MD5` (MSNP2–7) or `TWN` with a Passport ticket (MSNP8+). */
  readonly loginScheme: "MD5" | "TWN";
  /** Whether to send `INF` before `USR` (MSNP2–7; MSNP8+ servers close the connection on it). */
  readonly sendsInf: boolean;

  cvrArgs(email: string): string[];
  /** Parses `USR <trid> OK …` (args after the TrID), or null if malformed. */
  parseLoginOk(args: readonly string[]): LoginOk | null;

  synArgs(): string[];
  createListSync(trId: number): ListSync;

  chgArgs(status: OwnStatus): string[];
  /** `ILN` args after the TrID. */
  parseInitialPresence(args: readonly string[]): PresenceUpdate | null;
  /** `NLN` args. */
  parsePresence(args: readonly string[]): PresenceUpdate | null;
  /** `FLN` args → the address. */
  parseOffline(args: readonly string[]): string | null;

  /**
   * Command (and args after the TrID) that puts `email` on / takes it off `list`. `guid` is the
   * contact's GUID when known; MSNP10+ removes FL entries by GUID and throws
   * {@link MsnArgumentError} without one.
   */
  listChangeCommand(
    kind: ListChangeKind,
    list: ListName,
    email: string,
    guid?: string,
  ): { name: string; args: string[] };
  /**
   * Parses a list-change reply or server notification (`ADD`/`REM`; `ADC` in MSNP10–12).
   * Returns null when `command` is not one, or is malformed.
   */
  parseListChange(command: MsnCommand): ListChange | null;

  /** Command and args that set our own friendly name (already percent-encoded): `REA` or `PRP MFN`. */
  renameCommand(ownEmail: string, encodedName: string): { name: string; args: string[] };
  /** Name of the rename command and of its replies/notifications (`REA` or `PRP`). */
  readonly renameCommandName: string;
  /**
   * Parses a rename reply or notification of that command (args after the TrID) → the decoded
   * name now in effect; `email` is null when the command does not name the account (`PRP`).
   */
  parseRenameReply(args: readonly string[]): { email: string | null; friendlyName: string } | null;

  /**
   * Parses a `UBX` (MSNP11+ personal message) → the contact and its decoded personal message
   * ("" when cleared). Null when this range has none or the command is malformed.
   */
  parsePersonalMessage(command: MsnCommand): { email: string; personalMessage: string } | null;
  /** `UUX` payload that sets our personal message (MSNP11+), or null when this range has none. */
  personalMessagePayload(text: string): string | null;

  /** Product id sent in `QRY`, and the 32-character answer to a `CHL`. */
  readonly challengeProductId: string;
  answerChallenge(challenge: string): string;

  /** Our handle in switchboard `USR`/`ANS` (MSNP16+ would append `;{machine-guid}`). */
  switchboardHandle(email: string): string;
}

/**
 * Most contacts (and groups) one account's session keeps. Far above what MSN allowed on a list
 * (FL/AL/BL 1,000 at most), but a server flooding distinct addresses (`LST`, `NLN`, `ADD 0 RL`)
 * must not grow the session's memory without bound; entries beyond it are ignored.
 */
export const MAX_CONTACTS = 10_000;

const LIST_NAMES: ReadonlySet<string> = new Set(["FL", "AL", "BL", "RL"]);
const INTEGER = /^\d+$/;

function isListName(value: string | undefined): value is ListName {
  return value !== undefined && LIST_NAMES.has(value);
}

function emptyLists(): ContactLists {
  return { forward: false, allow: false, block: false, reverse: false };
}

const LIST_FIELD: Readonly<Record<ListName, keyof ContactLists>> = {
  FL: "forward",
  AL: "allow",
  BL: "block",
  RL: "reverse",
};

/**
 * MSNP2–7 list sync: `SYN <trid> <ver>`, then `LST <trid> <list> <ver> <a> <b> [email name [groups]]`
 * per contact per list, `LSG` group lines (MSNP7), `GTC`, `BLP`, and `BPR` phone lines. The two
 * counters are (index, count) historically but (count, index) in Escargot's MSNP2–5 code; a list is
 * complete at the line where they are equal, which is true in either order.
 */
class LegacyListSync implements ListSync {
  private readonly trId: string;
  private readonly expectGroups: boolean;
  private readonly contacts = new Map<string, SyncedContact>();
  private readonly groups = new Map<string, string>();
  private readonly listsDone = new Set<ListName>();
  private groupsDone = false;
  private synReplied = false;
  private unchanged = false;
  private privacy: string | null = null;
  private addPrompt: string | null = null;

  constructor(trId: number, expectGroups: boolean) {
    this.trId = String(trId);
    this.expectGroups = expectGroups;
  }

  onSynReply(args: readonly string[]): void {
    this.synReplied = true;
    // Same version as requested (we always send 0): the server has nothing newer; no list follows.
    if (args[0] === "0") this.unchanged = true;
  }

  get listsComplete(): boolean {
    return this.synReplied && (this.unchanged || this.listsDone.size === 4);
  }

  get complete(): boolean {
    if (!this.listsComplete) return false;
    if (this.unchanged) return true;
    return this.privacy !== null && this.addPrompt !== null && (!this.expectGroups || this.groupsDone);
  }

  handle(command: MsnCommand): boolean {
    const { name, args } = command;
    if (name === "BPR") return true; // phone numbers: not needed by the bridge
    if (args[0] !== this.trId) return false;
    switch (name) {
      case "LST":
        this.onList(args);
        return true;
      case "LSG":
        this.onGroup(args);
        return true;
      case "GTC":
        this.addPrompt = args[2] ?? args[1] ?? "";
        return true;
      case "BLP":
        this.privacy = args[2] ?? args[1] ?? "";
        return true;
      default:
        return false;
    }
  }

  private onList(args: readonly string[]): void {
    // trid list ver a b [email name [groups]]
    const list = args[1];
    if (!isListName(list)) return;
    const a = args[3] ?? "";
    const b = args[4] ?? "";
    if (INTEGER.test(a) && INTEGER.test(b) && Number(a) === Number(b)) this.listsDone.add(list);
    const email = args[5];
    if (!email) return;
    const key = email.toLowerCase();
    const existing = this.contacts.get(key);
    if (!existing && this.contacts.size >= MAX_CONTACTS) return;
    const contact: SyncedContact = existing ?? {
      email,
      friendlyName: decodeParam(args[6] ?? email) || email,
      lists: emptyLists(),
      groups: [],
    };
    contact.lists[LIST_FIELD[list]] = true;
    if (list === "FL") {
      // The FL line carries the authoritative name and the group ids.
      if (args[6]) contact.friendlyName = decodeParam(args[6]) || email;
      const groups = args[7];
      if (groups) contact.groups = groups.split(",").filter((id) => id.length > 0);
    }
    this.contacts.set(key, contact);
  }

  private onGroup(args: readonly string[]): void {
    // trid ver index count id name 0
    const index = args[2] ?? "";
    const count = args[3] ?? "";
    const id = args[4];
    const name = args[5];
    if (id !== undefined && name !== undefined && (this.groups.has(id) || this.groups.size < MAX_CONTACTS)) {
      this.groups.set(id, decodeParam(name));
    }
    if (INTEGER.test(index) && INTEGER.test(count) && Number(index) === Number(count)) this.groupsDone = true;
  }

  result(): ListSyncResult {
    return {
      contacts: this.contacts,
      groups: this.groups,
      privacy: this.privacy,
      addPrompt: this.addPrompt,
      ownFriendlyName: null,
    };
  }
}

/** MSNP2–7: MD5 login, TrID-tagged list sync, no client-id in `CHG`. */
/**
 * What every dialect shares: naming, CVR, the presence line layout (later versions only append
 * tokens the bridge ignores: client-id, msnobj) and switchboard handles.
 */
abstract class DialectBase {
  readonly version: string;

  constructor(readonly versionNumber: number) {
    this.version = `MSNP${versionNumber}`;
  }

  cvrArgs(email: string): string[] {
    // Locale, OS, OS version, CPU, client name, client version, client id, account. Escargot
    // requires at least six arguments and answers nothing otherwise.
    return ["0x0409", "winnt", "5.1", "i386", "MSNMSGR", "6.2.0205", "MSMSGS", email];
  }

  parseInitialPresence(args: readonly string[]): PresenceUpdate | null {
    return this.parsePresence(args.slice(1));
  }

  parsePresence(args: readonly string[]): PresenceUpdate | null {
    // status email name [client-id [msnobj]]
    const [status, email, name] = args;
    if (!status || !email || !isContactStatus(status)) return null;
    return { status, email, friendlyName: name === undefined ? null : decodeParam(name) || email };
  }

  parseOffline(args: readonly string[]): string | null {
    return args[0] || null;
  }

  switchboardHandle(email: string): string {
    return email;
  }
}

class LegacyMd5Dialect extends DialectBase implements Dialect {
  readonly loginScheme = "MD5" as const;
  readonly sendsInf = true;
  readonly challengeProductId = MSNP7_CHALLENGE_PRODUCT.productId;

  parseLoginOk(args: readonly string[]): LoginOk | null {
    // OK email [name [verified]]
    if (args[0] !== "OK" || !args[1]) return null;
    return { email: args[1], friendlyName: args[2] === undefined ? null : decodeParam(args[2]) };
  }

  synArgs(): string[] {
    return ["0"];
  }

  createListSync(trId: number): ListSync {
    return new LegacyListSync(trId, this.versionNumber >= 7);
  }

  chgArgs(status: OwnStatus): string[] {
    return [status];
  }

  listChangeCommand(kind: ListChangeKind, list: ListName, email: string): { name: string; args: string[] } {
    // The name argument of ADD is the address itself until the server knows better (official
    // client behaviour).
    return kind === "add"
      ? { name: "ADD", args: [list, email, email] }
      : { name: "REM", args: [list, email] };
  }

  parseListChange(command: MsnCommand): ListChange | null {
    return parseAddRemove(command);
  }

  readonly renameCommandName = "REA";

  renameCommand(ownEmail: string, encodedName: string): { name: string; args: string[] } {
    return { name: "REA", args: [ownEmail, encodedName] };
  }

  parseRenameReply(args: readonly string[]): { email: string | null; friendlyName: string } | null {
    return parseReaReply(args);
  }

  parsePersonalMessage(): null {
    return null;
  }

  personalMessagePayload(): null {
    return null;
  }

  answerChallenge(challenge: string): string {
    return answerChallengeMd5(challenge, MSNP7_CHALLENGE_PRODUCT.productKey);
  }
}

/** `ADD`/`REM` replies and notifications (MSNP2–9). */
function parseAddRemove(command: MsnCommand): ListChange | null {
  if (command.name !== "ADD" && command.name !== "REM") return null;
  const kind: ListChangeKind = command.name === "ADD" ? "add" : "remove";
  // After the TrID, documented: list ver email [name [group]]. Escargot's ADD 0 RL puts the
  // version first: ver list email name.
  const args = command.args.slice(1);
  let list: string | undefined;
  if (isListName(args[0])) list = args[0];
  else if (isListName(args[1])) list = args[1];
  const email = args[2];
  if (!isListName(list) || !email) return null;
  return {
    kind,
    list,
    email,
    guid: null,
    friendlyName: args[3] === undefined ? null : decodeParam(args[3]) || email,
  };
}

/** `REA` reply (args after the TrID): ver email name. */
function parseReaReply(args: readonly string[]): { email: string | null; friendlyName: string } | null {
  const name = args[2];
  if (name === undefined) return null;
  return { email: args[1] ?? null, friendlyName: decodeParam(name) };
}

/** List bits of MSNP8+ `LST` lines (msnp.md §4.1); PL (MSNP10+) means "added me, unanswered". */
const BIT_FL = 1;
const BIT_AL = 2;
const BIT_BL = 4;
const BIT_RL = 8;
const BIT_PL = 16;

function listsFromBits(bits: number): ContactLists {
  return {
    forward: (bits & BIT_FL) !== 0,
    allow: (bits & BIT_AL) !== 0,
    block: (bits & BIT_BL) !== 0,
    // Escargot swaps RL for PL on pending contacts; both mean "this person has me on their list".
    reverse: (bits & (BIT_RL | BIT_PL)) !== 0,
  };
}

/** Splits `N=`/`F=`/`C=` tokens from the positional ones, dropping empty fields (`… 19 `). */
function splitKeyed(tokens: readonly string[]): { keyed: Map<string, string>; rest: string[] } {
  const keyed = new Map<string, string>();
  const rest: string[] = [];
  for (const token of tokens) {
    if (token.length === 0) continue;
    const match = /^([NFC])=(.*)$/.exec(token);
    if (match?.[1] !== undefined) keyed.set(match[1], match[2] ?? "");
    else rest.push(token);
  }
  return { keyed, rest };
}

/**
 * MSNP8–12 list sync: the `SYN` reply announces how many contacts and groups follow; `LST` (one
 * per contact, all lists as bits) and `LSG` lines carry no TrID, so completion is counting.
 * MSNP8–9: `SYN trid ver [contacts groups]`, `LST email name bits [groups]`, `LSG id name 0`.
 * MSNP10–12: `SYN trid ts ts [contacts groups]`, `LST N= F= C= bits [groups]`, `LSG name guid`,
 * and our own name as `PRP MFN`.
 */
class CountedListSync implements ListSync {
  private readonly countsAt: number;
  private readonly guidGroups: boolean;
  private readonly contacts = new Map<string, SyncedContact>();
  private readonly groups = new Map<string, string>();
  private contactsSeen = 0;
  private groupsSeen = 0;
  private expected: { contacts: number; groups: number } | null = null;
  private synReplied = false;
  private privacy: string | null = null;
  private addPrompt: string | null = null;
  private ownFriendlyName: string | null = null;

  constructor(timestampVersions: boolean) {
    this.countsAt = timestampVersions ? 2 : 1;
    this.guidGroups = timestampVersions;
  }

  onSynReply(args: readonly string[]): void {
    this.synReplied = true;
    const contacts = args[this.countsAt] ?? "";
    const groups = args[this.countsAt + 1] ?? "";
    // Without counts the server has nothing newer than what we asked for: no list follows.
    if (INTEGER.test(contacts) && INTEGER.test(groups)) {
      this.expected = { contacts: Number(contacts), groups: Number(groups) };
    }
  }

  get listsComplete(): boolean {
    return this.synReplied && (this.expected === null || this.contactsSeen >= this.expected.contacts);
  }

  get complete(): boolean {
    return this.listsComplete && (this.expected === null || this.groupsSeen >= this.expected.groups);
  }

  handle(command: MsnCommand): boolean {
    const { name, args } = command;
    switch (name) {
      case "LST":
        this.onContact(args);
        return true;
      case "LSG":
        this.onGroup(args);
        return true;
      case "GTC":
        this.addPrompt = args.at(-1) ?? "";
        return true;
      case "BLP":
        this.privacy = args.at(-1) ?? "";
        return true;
      case "BPR":
        return true; // phone numbers: not needed by the bridge
      case "PRP": {
        // MSNP8–9: our phone numbers; MSNP10+: also `PRP MFN <name>`.
        const mfn = args.indexOf("MFN");
        const value = mfn >= 0 ? args[mfn + 1] : undefined;
        if (value !== undefined) this.ownFriendlyName = decodeParam(value);
        return true;
      }
      default:
        return false;
    }
  }

  private onContact(args: readonly string[]): void {
    this.contactsSeen += 1;
    const { keyed, rest } = splitKeyed(args);
    let email: string | undefined;
    let name: string | undefined;
    let positional: string[];
    if (keyed.has("N")) {
      email = keyed.get("N");
      name = keyed.get("F");
      positional = rest;
    } else {
      [email, name] = rest;
      positional = rest.slice(2);
    }
    const bitsText = positional[0] ?? "";
    if (!email || !INTEGER.test(bitsText)) return;
    if (this.contacts.size >= MAX_CONTACTS && !this.contacts.has(email.toLowerCase())) return;
    const contact: SyncedContact = {
      email,
      friendlyName: (name === undefined ? "" : decodeParam(name)) || email,
      lists: listsFromBits(Number(bitsText)),
      groups: (positional[1] ?? "").split(",").filter((id) => id.length > 0),
    };
    const guid = keyed.get("C");
    if (guid) contact.guid = guid;
    this.contacts.set(email.toLowerCase(), contact);
  }

  private onGroup(args: readonly string[]): void {
    this.groupsSeen += 1;
    const tokens = args.filter((token) => token.length > 0);
    const [first, second] = tokens;
    if (first === undefined || second === undefined) return;
    const id = this.guidGroups ? second : first;
    if (this.groups.size >= MAX_CONTACTS && !this.groups.has(id)) return;
    if (this.guidGroups) this.groups.set(second, decodeParam(first));
    else this.groups.set(first, decodeParam(second));
  }

  result(): ListSyncResult {
    return {
      contacts: this.contacts,
      groups: this.groups,
      privacy: this.privacy,
      addPrompt: this.addPrompt,
      ownFriendlyName: this.ownFriendlyName,
    };
  }
}

/** Capabilities we announce in `CHG` (mandatory from MSNP8): none, so peers attempt no P2P. */
const CLIENT_ID = "0";
/** "Send me everything": MSNP10+ `SYN` takes two timestamps instead of a list version. */
const SYNC_EPOCH = "2000-01-01T00:00:00.0-00:00";

function decodeXmlText(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (entity: string, body: string) => {
    const lower = body.toLowerCase();
    if (lower.startsWith("#x")) return safeCodePoint(Number.parseInt(lower.slice(2), 16), entity);
    if (lower.startsWith("#")) return safeCodePoint(Number.parseInt(lower.slice(1), 10), entity);
    const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
    return named[lower] ?? entity;
  });
}

function encodeXmlText(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function safeCodePoint(code: number, fallback: string): string {
  return Number.isInteger(code) && code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
    ? String.fromCodePoint(code)
    : fallback;
}

/**
 * MSNP8–12: TWN (Passport) login, client-id in `CHG`, counted list sync. From MSNP10: timestamps
 * in `SYN`, `ADC` and contact GUIDs, `PRP MFN` for our name, no name in `USR OK`. From MSNP11:
 * `UBX` personal messages and the new `CHL` algorithm.
 */
class PassportDialect extends DialectBase implements Dialect {
  readonly loginScheme = "TWN" as const;
  readonly sendsInf = false;
  readonly challengeProductId: string;
  readonly renameCommandName: string;
  /** MSNP10+ list model: `ADC`, GUIDs, `N=`/`F=`/`C=` fields, `PRP MFN`. */
  private readonly addressBook: boolean;

  constructor(versionNumber: number) {
    super(versionNumber);
    this.addressBook = versionNumber >= 10;
    this.renameCommandName = this.addressBook ? "PRP" : "REA";
    this.challengeProductId =
      versionNumber >= 11 ? MSNP11_CHALLENGE_PRODUCT.productId : MSN6_CHALLENGE_PRODUCT.productId;
  }

  parseLoginOk(args: readonly string[]): LoginOk | null {
    // MSNP8–9: OK email name verified 0; MSNP10+: OK email verified 0 (name comes as PRP MFN).
    if (args[0] !== "OK" || !args[1]) return null;
    const name = this.addressBook ? undefined : args[2];
    return { email: args[1], friendlyName: name === undefined ? null : decodeParam(name) };
  }

  synArgs(): string[] {
    return this.addressBook ? [SYNC_EPOCH, SYNC_EPOCH] : ["0"];
  }

  createListSync(): ListSync {
    return new CountedListSync(this.addressBook);
  }

  chgArgs(status: OwnStatus): string[] {
    // Without the client-id Escargot silently ignores CHG on MSNP8+ (msnp.md §5.2).
    return [status, CLIENT_ID];
  }

  listChangeCommand(
    kind: ListChangeKind,
    list: ListName,
    email: string,
    guid?: string,
  ): { name: string; args: string[] } {
    if (!this.addressBook) {
      return kind === "add"
        ? { name: "ADD", args: [list, email, email] }
        : { name: "REM", args: [list, email] };
    }
    if (kind === "add") {
      return { name: "ADC", args: list === "FL" ? [list, `N=${email}`, `F=${email}`] : [list, `N=${email}`] };
    }
    if (list !== "FL") return { name: "REM", args: [list, email] };
    if (!guid) throw new MsnArgumentError(`no contact GUID known for ${email}; cannot remove it from FL`);
    return { name: "REM", args: [list, guid] };
  }

  parseListChange(command: MsnCommand): ListChange | null {
    if (command.name === "ADD" || (command.name === "REM" && !this.addressBook)) {
      return parseAddRemove(command);
    }
    if (command.name === "ADC") {
      // trid list N=email [F=name] [C=guid] [group]; group-only adds (`C=guid group`) are not ours.
      const [list, ...fields] = command.args.slice(1);
      const { keyed } = splitKeyed(fields);
      const email = keyed.get("N");
      if (!isListName(list) || !email) return null;
      const name = keyed.get("F");
      return {
        kind: "add",
        list,
        email,
        guid: keyed.get("C") || null,
        friendlyName: name === undefined ? null : decodeParam(name) || email,
      };
    }
    if (command.name === "REM") {
      // trid list <guid|email|N=email> [group]; with a group it only leaves that group.
      const [list, id, group] = command.args.slice(1).filter((token) => token.length > 0);
      if (!isListName(list) || !id || group !== undefined) return null;
      const address = id.replace(/^N=/, "");
      return address.includes("@")
        ? { kind: "remove", list, email: address, guid: null, friendlyName: null }
        : { kind: "remove", list, email: null, guid: address, friendlyName: null };
    }
    return null;
  }

  renameCommand(ownEmail: string, encodedName: string): { name: string; args: string[] } {
    return this.addressBook
      ? { name: "PRP", args: ["MFN", encodedName] }
      : { name: "REA", args: [ownEmail, encodedName] };
  }

  parseRenameReply(args: readonly string[]): { email: string | null; friendlyName: string } | null {
    if (!this.addressBook) return parseReaReply(args);
    // [ver] MFN name
    const mfn = args.indexOf("MFN");
    const name = mfn >= 0 ? args[mfn + 1] : undefined;
    return name === undefined ? null : { email: null, friendlyName: decodeParam(name) };
  }

  parsePersonalMessage(command: MsnCommand): { email: string; personalMessage: string } | null {
    if (this.versionNumber < 11 || command.name !== "UBX") return null;
    const email = command.args[0];
    if (!email?.includes("@")) return null;
    const xml = command.payload?.toString("utf8") ?? "";
    // indexOf, not a lazy regex: `/<PSM>([\s\S]*?)<\/PSM>/` rescans the rest of the payload from
    // every `<PSM>`, so a 1 MiB payload of unclosed `<PSM>` took ~30 s of CPU.
    const open = xml.indexOf("<PSM>");
    const close = open === -1 ? -1 : xml.indexOf("</PSM>", open + 5);
    const psm = close === -1 ? "" : xml.slice(open + 5, close);
    return { email, personalMessage: decodeXmlText(psm).trim() };
  }

  personalMessagePayload(text: string): string | null {
    if (this.versionNumber < 11) return null;
    return `<Data><PSM>${encodeXmlText(text)}</PSM><CurrentMedia></CurrentMedia></Data>`;
  }

  answerChallenge(challenge: string): string {
    return this.versionNumber >= 11
      ? answerChallengeMsnp11(challenge, MSNP11_CHALLENGE_PRODUCT)
      : answerChallengeMd5(challenge, MSN6_CHALLENGE_PRODUCT.productKey);
  }
}

const VERSION_PATTERN = /^MSNP(\d{1,2})$/;

/** Whether this client can speak `version` (e.g. `MSNP7`). */
export function isSupportedVersion(version: string): boolean {
  const match = VERSION_PATTERN.exec(version);
  const number = match ? Number(match[1]) : NaN;
  return number >= 2 && number <= 12;
}

/** The dialect object for `version`; throws {@link MsnArgumentError} for unsupported versions. */
export function dialectFor(version: string): Dialect {
  if (!isSupportedVersion(version)) {
    throw new MsnArgumentError(
      `protocol version ${JSON.stringify(version)} is not supported (MSNP2–MSNP12 are)`,
    );
  }
  const number = Number(VERSION_PATTERN.exec(version)?.[1]);
  return number >= 8 ? new PassportDialect(number) : new LegacyMd5Dialect(number);
}

/**
 * Server commands that never carry a TrID (msnp.md §1), so a numeric first argument (`QNG 60`,
 * `RNG 11752013 …`) is not mistaken for a reply. Numeric error replies always carry one.
 */
const NO_TRID_COMMANDS: ReadonlySet<string> = new Set([
  "QNG",
  "NLN",
  "FLN",
  "UBX",
  "UBN",
  "RNG",
  "JOI",
  "BYE",
  "OUT",
  "NOT",
  "MSG",
  "IPG",
  "NFY",
  "BPR",
]);

export function commandCarriesTrId(name: string): boolean {
  return !NO_TRID_COMMANDS.has(name);
}
