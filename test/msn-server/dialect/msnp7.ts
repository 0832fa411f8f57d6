import { LIST_BITS, LIST_NAMES, PHONE_KEYS } from "../accounts.js";
import { encodeParam as enc } from "../wire/percent.js";
import { MSMSGS_CHALLENGE } from "./challenge.js";
import { line, profileMessage, systemMessage } from "./common.js";
import type { Dialect, ListSnapshot, OutLine } from "./dialect.js";

/**
 * MSNP7 as Escargot speaks it: MD5 login, `SYN` with TrID-carrying `LSG`/`LST`/`GTC`/`BLP`,
 * group ids on FL lines, presence as `status email name`.
 */
export const MSNP7: Dialect = {
  name: "MSNP7",
  version: 7,
  login: "MD5",
  hasInf: true,
  challenge: MSMSGS_CHALLENGE,
  // MSNP7 clients send just the status; Escargot tolerates (and echoes) a client id and msnobj.
  chgArgs: [1, 3],
  synArgs: 1,
  listCommands: "ADD",
  groupGuids: false,
  unknownAccountError: 205,
  ownName: "REA",
  hasPsm: false,

  usrOk: (trid, email, name) => line("USR", trid, "OK", email, enc(name), 1),
  afterLogin: () => [],
  profile: (ctx) => profileMessage(ctx, false),
  systemMessage,

  syn(trid: string, _synArgs, version: number, snapshot: ListSnapshot): OutLine[] {
    // Escargot's MSNP5–7 order: SYN, groups, the four lists, then GTC and BLP; one version for all.
    const out: OutLine[] = [line("SYN", trid, version)];
    const groups = [{ id: "0", name: "Other Contacts" }, ...snapshot.groups];
    groups.forEach((g, i) =>
      out.push(line("LSG", trid, version, i + 1, groups.length, g.id, enc(g.name), 0)),
    );
    for (const list of LIST_NAMES) {
      const members = snapshot.contacts.filter((c) => c.lists & LIST_BITS[list]);
      if (members.length === 0) {
        out.push(line("LST", trid, list, version, 0, 0));
        continue;
      }
      members.forEach((c, i) => {
        const tokens: (string | number)[] = [
          "LST",
          trid,
          list,
          version,
          i + 1,
          members.length,
          c.email,
          enc(c.name),
        ];
        if (list === "FL") tokens.push(c.groups.length > 0 ? c.groups.join(",") : "0");
        out.push({ tokens });
        for (const key of PHONE_KEYS) {
          const number = c.phones[key];
          if (number !== undefined) out.push(line("BPR", version, key, enc(number)));
        }
      });
    }
    out.push(line("GTC", trid, version, snapshot.gtc));
    out.push(line("BLP", trid, version, snapshot.blp));
    return out;
  },

  iln: (trid, status, who) => line("ILN", trid, status, who.email, enc(who.name)),
  nln: (status, who) => line("NLN", status, who.email, enc(who.name)),
  fln: (email) => line("FLN", email),
  ubx: (email, payload) => ({ tokens: ["UBX", email], payload }),
  chg: (trid, status, extra) => line("CHG", trid, status, ...extra.map(enc)),

  listAdded(trid, list, version, entry) {
    const tokens: (string | number)[] = ["ADD", trid, list, version, entry.email];
    if (entry.givenName !== undefined) tokens.push(enc(entry.givenName));
    if (entry.group !== undefined) tokens.push(entry.group);
    return { tokens };
  },
  listRemoved(trid, list, version, entry) {
    const tokens: (string | number)[] = ["REM", trid, list, version, entry.email];
    if (entry.group !== undefined) tokens.push(entry.group);
    return { tokens };
  },
  reverseAdded: (version, email, name) => line("ADD", 0, "RL", version, email, enc(name)),
  reverseRemoved: (version, email) => line("REM", 0, "RL", version, email),
  adg: (trid, version, name, id) => line("ADG", trid, version, enc(name), id, 0),
  rmg: (trid, version, id) => line("RMG", trid, version, id),
  reg: (trid, version, id, name) => line("REG", trid, version, id, enc(name), 0),
  gtc: (trid, version, value) => line("GTC", trid, version, value),
  blp: (trid, version, value) => line("BLP", trid, version, value),
  rea: (trid, version, email, name) => line("REA", trid, version, email, enc(name)),
  prp: (trid, name) => line("PRP", trid, "MFN", enc(name)),

  xfrSb: (trid, address, cookie) => line("XFR", trid, "SB", address, "CKI", cookie),
  xfrNs: (trid, address) => line("XFR", trid, "NS", address),
  rng: (sessionId, address, cookie, inviterEmail, inviterName) =>
    line("RNG", sessionId, address, "CKI", cookie, inviterEmail, enc(inviterName)),
  qng: () => line("QNG"),

  sbUsrOk: (trid, email, name) => line("USR", trid, "OK", email, enc(name)),
  iro: (trid, index, total, who) => line("IRO", trid, index, total, who.email, enc(who.name)),
  joi: (who) => line("JOI", who.email, enc(who.name)),
};
