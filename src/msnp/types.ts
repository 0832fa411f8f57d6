/** Plain data types shared by the notification and switchboard sessions. */

/** Presence of a contact as the server reports it. */
export type ContactStatus = "NLN" | "BSY" | "IDL" | "BRB" | "AWY" | "PHN" | "LUN" | "FLN";

/** Statuses we may set for ourselves (`HDN` = appear offline; `FLN` cannot be set). */
export type OwnStatus = Exclude<ContactStatus, "FLN"> | "HDN";

export const CONTACT_STATUSES: ReadonlySet<string> = new Set([
  "NLN",
  "BSY",
  "IDL",
  "BRB",
  "AWY",
  "PHN",
  "LUN",
  "FLN",
]);
export const OWN_STATUSES: ReadonlySet<string> = new Set([
  "NLN",
  "BSY",
  "IDL",
  "BRB",
  "AWY",
  "PHN",
  "LUN",
  "HDN",
]);

export function isContactStatus(value: string): value is ContactStatus {
  return CONTACT_STATUSES.has(value);
}

export function isOwnStatus(value: string): value is OwnStatus {
  return OWN_STATUSES.has(value);
}

/** Wire names of the lists we track. (PL, MSNP10+, is not used by the MSNP≤7 dialects.) */
export type ListName = "FL" | "AL" | "BL" | "RL";

/** Which of the user's lists a contact is on. */
export interface ContactLists {
  /** FL: on my contact list. */
  forward: boolean;
  /** AL: allowed to see me and message me. */
  allow: boolean;
  /** BL: blocked. */
  block: boolean;
  /** RL: has me on their list (read-only, maintained by the server). */
  reverse: boolean;
}

export type ListKey = keyof ContactLists;

export const LIST_KEYS: Readonly<Record<ListName, ListKey>> = {
  FL: "forward",
  AL: "allow",
  BL: "block",
  RL: "reverse",
};

export interface Contact {
  /** Address as the server spells it. */
  readonly email: string;
  /** Decoded friendly name (the address when the server knows no name). */
  readonly friendlyName: string;
  readonly lists: Readonly<ContactLists>;
  /** Group ids (MSNP7–9: small integers as strings; MSNP10+: GUIDs). */
  readonly groups: readonly string[];
  readonly status: ContactStatus;
  /** Server-side contact id (MSNP10+ `C=`); FL removals name the contact by it. */
  readonly guid?: string;
  /** Personal message ("PSM", MSNP11+ `UBX`); "" when cleared, undefined when never received. */
  readonly personalMessage?: string;
}

export interface Group {
  readonly id: string;
  readonly name: string;
}

/** `BLP`: what happens to people on neither AL nor BL. */
export type PrivacyMode = "AL" | "BL";
