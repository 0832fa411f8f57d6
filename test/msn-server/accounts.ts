import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";

import { parse as parseYaml } from "yaml";

/** List bits as MSNP uses them (msnp.md §4.1). */
export const LIST_BITS = { FL: 1, AL: 2, BL: 4, RL: 8 } as const;
export type ListName = keyof typeof LIST_BITS;
export const LIST_NAMES: readonly ListName[] = ["FL", "AL", "BL", "RL"];

/** Phone entries an account may publish (sent as BPR lines in SYN). */
export type PhoneKey = "PHH" | "PHW" | "PHM" | "MOB";
export const PHONE_KEYS: readonly PhoneKey[] = ["PHH", "PHW", "PHM", "MOB"];

/** How an account is described to the server (constructor option, addAccount, YAML file). */
export interface AccountSpec {
  email: string;
  password: string;
  /** Friendly name (plain text, not encoded). Defaults to the e-mail address. */
  name?: string;
  /** MD5 salt sent in `USR … MD5 S`; stable across logins. Random per server instance if omitted. */
  salt?: string;
  /**
   * Contacts this account already has on its FL and AL (the server also puts this account on their
   * RL). Lets tests and demos start with a populated contact list.
   */
  contacts?: string[];
  /** Phone numbers published to contacts as BPR lines. */
  phones?: Partial<Record<PhoneKey, string>>;
}

/** Addresses Escargot accepts in ADD and CAL (anything else is 201 / 208). */
const ADDRESS_PATTERN = /^[a-zA-Z0-9._-]+@([a-zA-Z0-9-]+\.)+[a-zA-Z]+$/;

export function isValidAddress(address: string): boolean {
  return ADDRESS_PATTERN.test(address);
}

export class AccountSpecError extends Error {
  override readonly name = "AccountSpecError";
}

export interface ContactEntry {
  /** Bit set of LIST_BITS. */
  lists: number;
  /** Group ids this contact is in (FL only). Empty means group 0, "Other Contacts". */
  groups: Set<string>;
}

export type PresenceStatus = "NLN" | "BSY" | "IDL" | "BRB" | "AWY" | "PHN" | "LUN" | "HDN" | "FLN";
export const SETTABLE_STATUSES: ReadonlySet<string> = new Set([
  "NLN",
  "BSY",
  "IDL",
  "BRB",
  "AWY",
  "PHN",
  "LUN",
  "HDN",
]);

export const MAX_GROUP_NAME_LENGTH = 61;

/** One account's persistent state (for the lifetime of the server instance). */
export class Account {
  readonly email: string;
  password: string;
  name: string;
  readonly salt: string;
  phones: Partial<Record<PhoneKey, string>>;
  /** Current status; shared by all of the account's NS sessions like Escargot's per-user status. */
  status: PresenceStatus = "FLN";
  /** Capability bit field from the last CHG that carried one (MSNP8+ presence lines). */
  clientId = "0";
  /** Decoded MSN object from the last CHG (MSNP9+ presence lines); undefined = none. */
  msnObject: string | undefined;
  /** The last `UUX` payload (personal message, MSNP11+), relayed as UBX. */
  personalMessage: Buffer | undefined;
  /** Contact entries keyed by exact e-mail address. */
  readonly contacts = new Map<string, ContactEntry>();
  /** User-created groups (id → name); group 0 is implicit. */
  readonly groups = new Map<string, string>();
  private nextGroupId = 1;
  blp: "AL" | "BL" = "AL";
  gtc: "A" | "N" = "A";
  /**
   * Escargot stores BLP/GTC only once a client sets them, so setting the default value succeeds the
   * first time and only a repeat gets 218 (msnp.md §4.3).
   */
  blpExplicit = false;
  gtcExplicit = false;

  constructor(spec: AccountSpec) {
    this.email = spec.email;
    this.password = spec.password;
    this.name = spec.name ?? spec.email;
    this.salt = spec.salt ?? randomBytes(8).toString("hex").slice(0, 15);
    this.phones = { ...(spec.phones ?? {}) };
  }

  entry(email: string): ContactEntry | undefined {
    return this.contacts.get(email);
  }

  isOn(list: ListName, email: string): boolean {
    return ((this.contacts.get(email)?.lists ?? 0) & LIST_BITS[list]) !== 0;
  }

  addToList(list: ListName, email: string): void {
    const entry = this.contacts.get(email) ?? { lists: 0, groups: new Set<string>() };
    entry.lists |= LIST_BITS[list];
    this.contacts.set(email, entry);
  }

  removeFromList(list: ListName, email: string): void {
    const entry = this.contacts.get(email);
    if (!entry) return;
    entry.lists &= ~LIST_BITS[list];
    if (list === "FL") entry.groups.clear();
    if (entry.lists === 0) this.contacts.delete(email);
  }

  membersOf(list: ListName): string[] {
    const out: string[] = [];
    for (const [email, entry] of this.contacts) if (entry.lists & LIST_BITS[list]) out.push(email);
    return out;
  }

  addGroup(name: string): string {
    const id = String(this.nextGroupId++);
    this.groups.set(id, name);
    return id;
  }

  removeGroup(id: string): void {
    this.groups.delete(id);
    for (const entry of this.contacts.values()) entry.groups.delete(id);
  }

  /** Whether this account hides itself from `viewer` (msnp.md §4.1: BL → blocked, AL → allowed, else BLP). */
  blocks(viewer: string): boolean {
    const lists = this.contacts.get(viewer)?.lists ?? 0;
    if (lists & LIST_BITS.BL) return true;
    if (lists & LIST_BITS.AL) return false;
    return this.blp === "BL";
  }

  /** The status `viewer` sees for this account: FLN when offline, hidden or blocking. */
  statusSeenBy(viewer: string): PresenceStatus {
    if (this.status === "FLN" || this.status === "HDN") return "FLN";
    return this.blocks(viewer) ? "FLN" : this.status;
  }
}

/** Formats 16 hash bytes as a lower-case GUID (8-4-4-4-12). */
function guidFrom(text: string): string {
  const hex = createHash("md5").update(text, "utf8").digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The MSNP10+ contact GUID (`C=`) of `contact` in `owner`'s list. Derived, not stored: stable for
 * the pair across logins and server restarts, and different per owner like Escargot's.
 */
export function contactGuid(owner: string, contact: string): string {
  return guidFrom(`contact\n${owner}\n${contact}`);
}

/** The MSNP10+ GUID of `owner`'s group `id` (same derivation as contactGuid). */
export function groupGuid(owner: string, id: string): string {
  return guidFrom(`group\n${owner}\n${id}`);
}

/** Validates one spec (throws AccountSpecError with a message naming the offending field). */
export function validateAccountSpec(value: unknown, where = "account"): AccountSpec {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AccountSpecError(`${where}: expected a mapping with email, password and name`);
  }
  const record = value as Record<string, unknown>;
  const known = new Set(["email", "password", "name", "salt", "contacts", "phones"]);
  for (const key of Object.keys(record)) {
    if (!known.has(key)) throw new AccountSpecError(`${where}: unknown field "${key}"`);
  }
  const { email, password, name, salt, contacts, phones } = record;
  if (typeof email !== "string" || !isValidAddress(email)) {
    throw new AccountSpecError(`${where}: "email" must be an address like alice@example.com`);
  }
  if (typeof password !== "string" || password.length === 0) {
    throw new AccountSpecError(`${where} (${email}): "password" must be a non-empty string`);
  }
  if (name !== undefined && (typeof name !== "string" || name.length === 0)) {
    throw new AccountSpecError(`${where} (${email}): "name" must be a non-empty string`);
  }
  if (salt !== undefined && (typeof salt !== "string" || !/^[\x21-\x7e]+$/.test(salt))) {
    throw new AccountSpecError(`${where} (${email}): "salt" must be printable ASCII without spaces`);
  }
  let contactList: string[] | undefined;
  if (contacts !== undefined) {
    if (
      !Array.isArray(contacts) ||
      !contacts.every((c): c is string => typeof c === "string" && isValidAddress(c))
    ) {
      throw new AccountSpecError(`${where} (${email}): "contacts" must be a list of e-mail addresses`);
    }
    contactList = contacts;
  }
  let phoneMap: Partial<Record<PhoneKey, string>> | undefined;
  if (phones !== undefined) {
    if (typeof phones !== "object" || phones === null || Array.isArray(phones)) {
      throw new AccountSpecError(`${where} (${email}): "phones" must be a mapping of PHH/PHW/PHM/MOB`);
    }
    phoneMap = {};
    for (const [key, number] of Object.entries(phones)) {
      if (!(PHONE_KEYS as readonly string[]).includes(key) || typeof number !== "string") {
        throw new AccountSpecError(
          `${where} (${email}): "phones" must be a mapping of PHH/PHW/PHM/MOB to strings`,
        );
      }
      phoneMap[key as PhoneKey] = number;
    }
  }
  const spec: AccountSpec = { email, password };
  if (typeof name === "string") spec.name = name;
  if (typeof salt === "string") spec.salt = salt;
  if (contactList) spec.contacts = contactList;
  if (phoneMap) spec.phones = phoneMap;
  return spec;
}

/** Validates a whole list: every entry, unique addresses, contacts referring to listed accounts. */
export function validateAccountList(value: unknown, where = "accounts"): AccountSpec[] {
  if (!Array.isArray(value)) {
    throw new AccountSpecError(`${where}: expected a list of {email, password, name}`);
  }
  const specs = value.map((item, i) => validateAccountSpec(item, `${where}[${i}]`));
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.email)) throw new AccountSpecError(`${where}: duplicate account ${spec.email}`);
    seen.add(spec.email);
  }
  for (const spec of specs) {
    for (const contact of spec.contacts ?? []) {
      if (!seen.has(contact)) {
        throw new AccountSpecError(`${where}: ${spec.email} lists unknown contact ${contact}`);
      }
    }
  }
  return specs;
}

/** Reads a YAML accounts file (a list of {email, password, name}). Errors name the file. */
export async function loadAccountsFile(path: string): Promise<AccountSpec[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new AccountSpecError(`cannot read accounts file ${path}: ${reason}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new AccountSpecError(`accounts file ${path} is not valid YAML: ${reason}`);
  }
  return validateAccountList(data, path);
}
