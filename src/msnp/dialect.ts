/**
 * Everything that differs between protocol versions lives here, behind the {@link Dialect}
 * interface: argument layouts, login scheme, list-sync format, presence formats, challenge keys.
 * The sessions ask the dialect and never test version numbers themselves, so supporting a new
 * version range is one new Dialect object, not a fork of the session code.
 *
 * Implemented: MSNP2–7 (MD5 login, `SYN` with per-list `LST` lines). MSNP8–12 (TWN) is planned.
 */
import { answerChallengeMd5, MSNP7_CHALLENGE_PRODUCT } from "./challenge.js";
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
  email: string;
  /** Decoded name when the command carries one. */
  friendlyName: string | null;
}

/** A contact as read from the list sync, before presence is known. */
export interface SyncedContact {
  email: string;
  friendlyName: string;
  lists: ContactLists;
  groups: string[];
}

export interface ListSyncResult {
  contacts: Map<string, SyncedContact>;
  groups: Map<string, string>;
  /** `BLP` value, if the server sent one. */
  privacy: string | null;
  /** `GTC` value, if the server sent one. */
  addPrompt: string | null;
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
  /** Login scheme of this range. */
  readonly loginScheme: "MD5";
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

  /** Command (and args after the TrID) that puts `email` on / takes it off `list`. */
  listChangeCommand(kind: ListChangeKind, list: ListName, email: string): { name: string; args: string[] };
  /**
   * Parses a list-change reply or server notification (`ADD`/`REM` here; `ADC` in MSNP10–12).
   * Returns null when `command` is not one, or is malformed.
   */
  parseListChange(command: MsnCommand): ListChange | null;

  /** Command and args that set our own friendly name (already percent-encoded). */
  renameCommand(ownEmail: string, encodedName: string): { name: string; args: string[] };
  /** Parses the rename reply (args after the TrID) → the decoded name now in effect. */
  parseRenameReply(args: readonly string[]): { email: string | null; friendlyName: string } | null;

  /** Product id sent in `QRY`, and the 32-character answer to a `CHL`. */
  readonly challengeProductId: string;
  answerChallenge(challenge: string): string;

  /** Our handle in switchboard `USR`/`ANS` (MSNP16+ would append `;{machine-guid}`). */
  switchboardHandle(email: string): string;
}

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
    if (id !== undefined && name !== undefined) this.groups.set(id, decodeParam(name));
    if (INTEGER.test(index) && INTEGER.test(count) && Number(index) === Number(count)) this.groupsDone = true;
  }

  result(): ListSyncResult {
    return { contacts: this.contacts, groups: this.groups, privacy: this.privacy, addPrompt: this.addPrompt };
  }
}

/** MSNP2–7: MD5 login, TrID-tagged list sync, no client-id in `CHG`. */
class LegacyMd5Dialect implements Dialect {
  readonly version: string;
  readonly versionNumber: number;
  readonly loginScheme = "MD5" as const;
  readonly sendsInf = true;
  readonly challengeProductId = MSNP7_CHALLENGE_PRODUCT.productId;

  constructor(versionNumber: number) {
    this.versionNumber = versionNumber;
    this.version = `MSNP${versionNumber}`;
  }

  cvrArgs(email: string): string[] {
    // Locale, OS, OS version, CPU, client name, client version, client id, account. Escargot
    // requires at least six arguments and answers nothing otherwise.
    return ["0x0409", "winnt", "5.1", "i386", "MSNMSGR", "6.2.0205", "MSMSGS", email];
  }

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

  parseInitialPresence(args: readonly string[]): PresenceUpdate | null {
    return this.parsePresence(args.slice(1));
  }

  parsePresence(args: readonly string[]): PresenceUpdate | null {
    const [status, email, name] = args;
    if (!status || !email || !isContactStatus(status)) return null;
    return { status, email, friendlyName: name === undefined ? null : decodeParam(name) || email };
  }

  parseOffline(args: readonly string[]): string | null {
    return args[0] || null;
  }

  listChangeCommand(kind: ListChangeKind, list: ListName, email: string): { name: string; args: string[] } {
    // The name argument of ADD is the address itself until the server knows better (official
    // client behaviour).
    return kind === "add"
      ? { name: "ADD", args: [list, email, email] }
      : { name: "REM", args: [list, email] };
  }

  parseListChange(command: MsnCommand): ListChange | null {
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
    return { kind, list, email, friendlyName: args[3] === undefined ? null : decodeParam(args[3]) || email };
  }

  renameCommand(ownEmail: string, encodedName: string): { name: string; args: string[] } {
    return { name: "REA", args: [ownEmail, encodedName] };
  }

  parseRenameReply(args: readonly string[]): { email: string | null; friendlyName: string } | null {
    // ver email name
    const name = args[2];
    if (name === undefined) return null;
    return { email: args[1] ?? null, friendlyName: decodeParam(name) };
  }

  answerChallenge(challenge: string): string {
    return answerChallengeMd5(challenge, MSNP7_CHALLENGE_PRODUCT.productKey);
  }

  switchboardHandle(email: string): string {
    return email;
  }
}

const VERSION_PATTERN = /^MSNP(\d{1,2})$/;

/** Whether this client can speak `version` (e.g. `MSNP7`). */
export function isSupportedVersion(version: string): boolean {
  const match = VERSION_PATTERN.exec(version);
  const number = match ? Number(match[1]) : NaN;
  return number >= 2 && number <= 7;
}

/** The dialect object for `version`; throws {@link MsnArgumentError} for unsupported versions. */
export function dialectFor(version: string): Dialect {
  if (!isSupportedVersion(version)) {
    throw new MsnArgumentError(
      `protocol version ${JSON.stringify(version)} is not supported (MSNP2–MSNP7 are)`,
    );
  }
  return new LegacyMd5Dialect(Number(VERSION_PATTERN.exec(version)?.[1]));
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
