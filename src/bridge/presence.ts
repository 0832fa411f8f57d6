/** MSN presence codes and their Matrix meaning. */
import type { ContactStatus, OwnStatus } from "../msnp/index.js";

/** Every status a contact or the user can have on MSN. */
export type MsnStatus = ContactStatus | OwnStatus;
export type MatrixPresence = "online" | "unavailable" | "offline";

const MSN_TO_MATRIX: Record<MsnStatus, { presence: MatrixPresence; statusMsg: string | undefined }> = {
  NLN: { presence: "online", statusMsg: undefined },
  BSY: { presence: "unavailable", statusMsg: "Busy" },
  IDL: { presence: "unavailable", statusMsg: "Idle" },
  BRB: { presence: "unavailable", statusMsg: "Be right back" },
  AWY: { presence: "unavailable", statusMsg: "Away" },
  PHN: { presence: "unavailable", statusMsg: "On the phone" },
  LUN: { presence: "unavailable", statusMsg: "Out to lunch" },
  HDN: { presence: "offline", statusMsg: undefined },
  FLN: { presence: "offline", statusMsg: undefined },
};

/** Matrix presence for an MSN status; a personal message joins the status label ("Away: at lunch"). */
export function matrixPresenceFor(
  status: MsnStatus,
  personalMessage?: string,
): { presence: MatrixPresence; statusMsg: string | undefined } {
  const base = MSN_TO_MATRIX[status];
  const psm = personalMessage?.trim();
  if (!psm || base.presence === "offline") return base;
  return { presence: base.presence, statusMsg: base.statusMsg ? `${base.statusMsg}: ${psm}` : psm };
}

/** Words the `presence` command accepts, mapped to the status the bridge sets with CHG. */
export const PRESENCE_WORDS: Readonly<Record<string, MsnStatus>> = {
  online: "NLN",
  busy: "BSY",
  away: "AWY",
  brb: "BRB",
  phone: "PHN",
  lunch: "LUN",
  idle: "IDL",
  hidden: "HDN",
};

export const STATUS_LABEL: Readonly<Record<MsnStatus, string>> = {
  NLN: "online",
  BSY: "busy",
  IDL: "idle",
  BRB: "be right back",
  AWY: "away",
  PHN: "on the phone",
  LUN: "out to lunch",
  HDN: "hidden",
  FLN: "offline",
};

/** The MSN status to forward when the Matrix user's own presence changes. */
export function msnStatusForMatrix(presence: string): MsnStatus | null {
  switch (presence) {
    case "online":
      return "NLN";
    case "unavailable":
      return "AWY";
    case "offline":
      return "HDN";
    default:
      return null;
  }
}
