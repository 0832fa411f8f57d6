import { PHONE_KEYS, type ListName } from "../accounts.js";
import { encodeParam as enc } from "../wire/percent.js";
import { MSN6_CHALLENGE, MSN7_CHALLENGE } from "./challenge.js";
import { line, profileMessage, systemMessage } from "./common.js";
import type { Dialect, ListEntryRef, ListSnapshot, OutLine, PresenceInfo } from "./dialect.js";
import { MSNP7 } from "./msnp7.js";

/** List bits that only MSNP10+ shows: PL, pending (msnp.md §4.1). */
const RL = 8;
const PL = 16;
const AL_OR_BL = 2 | 4;

/** The msnobj as ILN/NLN carry it: fully URL-encoded, `<msnobj/>` when the contact has none. */
function msnObjectToken(msnObject: string | undefined): string {
  return encodeURIComponent(msnObject ?? "<msnobj/>");
}

/**
 * MSNP8–12 as Escargot speaks them (msnp.md §2–7): TWN login, TrID-less list sync (`LST email …`
 * on 8–9, `LST N= F= C=` with GUIDs on 10–12), client ids on presence (8+) plus the msnobj (9+),
 * ADC/REM-by-GUID and `PRP MFN` (10+), `UUX`/`UBX` and `SBS` (11+), client ids in IRO/JOI (12).
 * Switchboard invitations and transfers are MSNP7's.
 */
function twnDialect(version: 8 | 9 | 10 | 11 | 12): Dialect {
  const modern = version >= 10;
  // Escargot's MSNP10/11 LST lines end with an empty field when the contact is in no group.
  const emptyGroupField = version === 10 || version === 11;

  const presenceTail = (who: PresenceInfo): string[] =>
    version >= 9 ? [enc(who.clientId), msnObjectToken(who.msnObject)] : [enc(who.clientId)];

  const syn89 = (trid: string, listVersion: number, snapshot: ListSnapshot): OutLine[] => {
    const groups = [{ id: "0", name: "Other Contacts" }, ...snapshot.groups];
    const out: OutLine[] = [
      line("SYN", trid, listVersion, snapshot.contacts.length, groups.length),
      line("GTC", snapshot.gtc),
      line("BLP", snapshot.blp),
    ];
    for (const g of groups) out.push(line("LSG", g.id, enc(g.name), 0));
    for (const c of snapshot.contacts) {
      const tokens: (string | number)[] = ["LST", c.email, enc(c.name), c.lists];
      if (c.lists & 1) tokens.push(c.groups.length > 0 ? c.groups.join(",") : "0");
      out.push({ tokens });
      out.push(...phones(c.phones));
    }
    return out;
  };

  const syn10 = (trid: string, synArgs: readonly string[], snapshot: ListSnapshot): OutLine[] => {
    const guidOf = new Map(snapshot.groups.map((g) => [g.id, g.guid]));
    const out: OutLine[] = [
      line("SYN", trid, synArgs[0] ?? "", synArgs[1] ?? "", snapshot.contacts.length, snapshot.groups.length),
      line("GTC", snapshot.gtc),
      line("BLP", snapshot.blp),
      line("PRP", "MFN", enc(snapshot.ownerName)),
    ];
    for (const g of snapshot.groups) out.push(line("LSG", enc(g.name), g.guid));
    for (const c of snapshot.contacts) {
      let bits = c.lists;
      // Escargot shows people who added you and got no answer yet as PL instead of RL.
      if (bits & RL && !(bits & AL_OR_BL)) bits = (bits & ~RL) | PL;
      const tokens: (string | number)[] = ["LST", `N=${c.email}`, `F=${enc(c.name)}`, `C=${c.guid}`, bits];
      const groupGuids = c.groups.map((id) => guidOf.get(id)).filter((g): g is string => g !== undefined);
      if (groupGuids.length > 0) tokens.push(groupGuids.join(","));
      else if (emptyGroupField) tokens.push("");
      out.push({ tokens });
      out.push(...phones(c.phones));
    }
    return out;
  };

  const adc = (trid: string | number, list: ListName, entry: ListEntryRef): OutLine => {
    if (list !== "FL") return line("ADC", trid, list, `N=${entry.email}`);
    if (entry.group !== undefined) return line("ADC", trid, "FL", `C=${entry.guid}`, entry.group);
    return line(
      "ADC",
      trid,
      "FL",
      `N=${entry.email}`,
      `F=${enc(entry.contactName ?? entry.email)}`,
      `C=${entry.guid}`,
    );
  };

  return {
    name: `MSNP${version}`,
    version,
    login: "TWN",
    hasInf: false,
    challenge: version >= 11 ? MSN7_CHALLENGE : MSN6_CHALLENGE,
    // MSNP8+: a CHG without the client id is silently ignored (msnp.md §5.2).
    chgArgs: [2, 3],
    synArgs: modern ? 2 : 1,
    listCommands: modern ? "ADC" : "ADD",
    groupGuids: modern,
    unknownAccountError: modern ? 208 : 205,
    ownName: modern ? "PRP" : "REA",
    hasPsm: version >= 11,

    usrOk: (trid, email, name) =>
      modern ? line("USR", trid, "OK", email, 1, 0) : line("USR", trid, "OK", email, enc(name), 1, 0),
    afterLogin: () => (version >= 11 ? [line("SBS", 0, "null")] : []),
    profile: (ctx) => profileMessage(ctx, true),
    systemMessage,

    syn: (trid, synArgs, listVersion, snapshot) =>
      modern ? syn10(trid, synArgs, snapshot) : syn89(trid, listVersion, snapshot),

    iln: (trid, status, who) => line("ILN", trid, status, who.email, enc(who.name), ...presenceTail(who)),
    nln: (status, who) => line("NLN", status, who.email, enc(who.name), ...presenceTail(who)),
    fln: (email) => line("FLN", email),
    ubx: (email, payload) => ({ tokens: ["UBX", email], payload }),
    chg(trid, status, extra) {
      const [clientId, msnObject] = extra;
      const tokens: (string | number)[] = ["CHG", trid, status, enc(clientId ?? "0")];
      if (version >= 9 && msnObject !== undefined) tokens.push(encodeURIComponent(msnObject));
      return { tokens };
    },

    listAdded: (trid, list, listVersion, entry) =>
      modern ? adc(trid, list, entry) : MSNP7.listAdded(trid, list, listVersion, entry),
    listRemoved(trid, list, listVersion, entry) {
      if (!modern) return MSNP7.listRemoved(trid, list, listVersion, entry);
      if (list !== "FL") return line("REM", trid, list, entry.email);
      return entry.group !== undefined
        ? line("REM", trid, "FL", entry.guid, entry.group)
        : line("REM", trid, "FL", entry.guid);
    },
    reverseAdded: (listVersion, email, name) =>
      modern
        ? line("ADC", 0, "RL", `N=${email}`, `F=${enc(name)}`)
        : MSNP7.reverseAdded(listVersion, email, name),
    reverseRemoved: (listVersion, email) =>
      modern ? line("REM", 0, "RL", email) : MSNP7.reverseRemoved(listVersion, email),
    adg: (trid, listVersion, name, group) =>
      modern ? line("ADG", trid, enc(name), group) : MSNP7.adg(trid, listVersion, name, group),
    rmg: (trid, listVersion, group) =>
      modern ? line("RMG", trid, group) : MSNP7.rmg(trid, listVersion, group),
    reg: (trid, listVersion, group, name) =>
      modern ? line("REG", trid, group, enc(name)) : MSNP7.reg(trid, listVersion, group, name),
    gtc: (trid, listVersion, value) =>
      modern ? line("GTC", trid, value) : MSNP7.gtc(trid, listVersion, value),
    blp: (trid, listVersion, value) =>
      modern ? line("BLP", trid, value) : MSNP7.blp(trid, listVersion, value),
    rea: MSNP7.rea,
    prp: MSNP7.prp,

    xfrSb: MSNP7.xfrSb,
    xfrNs: (trid, address) => line("XFR", trid, "NS", address, 0, address),
    rng: MSNP7.rng,
    qng: () => (version >= 9 ? line("QNG", 60) : line("QNG")),

    sbUsrOk: MSNP7.sbUsrOk,
    // Escargot appends the client id to IRO/JOI for MSNP12 sessions.
    iro: (trid, index, total, who) =>
      version >= 12
        ? line("IRO", trid, index, total, who.email, enc(who.name), enc(who.clientId))
        : MSNP7.iro(trid, index, total, who),
    joi: (who) => (version >= 12 ? line("JOI", who.email, enc(who.name), enc(who.clientId)) : MSNP7.joi(who)),
  };
}

function phones(numbers: ListSnapshot["contacts"][number]["phones"]): OutLine[] {
  const out: OutLine[] = [];
  for (const key of PHONE_KEYS) {
    const number = numbers[key];
    if (number !== undefined) out.push(line("BPR", key, enc(number)));
  }
  return out;
}

export const MSNP8 = twnDialect(8);
export const MSNP9 = twnDialect(9);
export const MSNP10 = twnDialect(10);
export const MSNP11 = twnDialect(11);
export const MSNP12 = twnDialect(12);
