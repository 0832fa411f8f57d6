import { createHash, randomBytes } from "node:crypto";

import { LIST_BITS, LIST_NAMES, PHONE_KEYS, type ListName } from "../accounts.js";
import { encodeParam as enc } from "../wire/percent.js";
import type { ChallengeScheme, Dialect, ListSnapshot, OutLine, ProfileContext } from "./dialect.js";

function line(...tokens: (string | number)[]): OutLine {
  return { tokens };
}

function crlf(lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((l) => `${l}\r\n`).join(""), "utf8");
}

/** MSNP6–7 challenge: md5(challenge + product key) with the public msmsgs pair (msnp.md §6). */
const MSMSGS_CHALLENGE: ChallengeScheme = {
  productId: "msmsgs@msnmsgr.com",
  answer: (challenge) =>
    createHash("md5")
      .update(challenge + "Q1P7W2E4J9R8U3S5", "utf8")
      .digest("hex"),
};

/** Stable pseudo member id (MemberIdHigh/Low) derived from the address. */
function memberId(email: string): [number, number] {
  const digest = createHash("md5").update(email, "utf8").digest();
  return [digest.readUInt32BE(0), digest.readUInt32BE(4)];
}

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

  usrOk: (trid, email, name) => line("USR", trid, "OK", email, enc(name), 1),

  profile(ctx: ProfileContext): OutLine {
    const [high, low] = memberId(ctx.email);
    const payload = crlf([
      "MIME-Version: 1.0",
      "Content-Type: text/x-msmsgsprofile; charset=UTF-8",
      `LoginTime: ${Math.floor(ctx.loginTime.getTime() / 1000)}`,
      "EmailEnabled: 1",
      `MemberIdHigh: ${high}`,
      `MemberIdLow: ${low}`,
      "lang_preference: 1033",
      "preferredEmail: ",
      "country: ",
      "PostalCode: ",
      "Gender: ",
      "Kid: 0",
      "Age: ",
      "BDayPre: ",
      "Birthday: ",
      "Wallet: ",
      "Flags: 536872513",
      `MSPAuth: ${randomBytes(24).toString("base64url")}`,
      "",
    ]);
    return { tokens: ["MSG", "Hotmail", "Hotmail"], payload };
  },

  systemMessage(type, minutes) {
    const payload = crlf([
      "MIME-Version: 1.0",
      "Content-Type: application/x-msmsgssystemmessage",
      "",
      `Type: ${type}`,
      `Arg1: ${minutes}`,
    ]);
    return { tokens: ["MSG", "Hotmail", "Hotmail"], payload };
  },

  syn(trid: string, version: number, snapshot: ListSnapshot): OutLine[] {
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

  iln: (trid, status, email, name) => line("ILN", trid, status, email, enc(name)),
  nln: (status, email, name) => line("NLN", status, email, enc(name)),
  fln: (email) => line("FLN", email),
  chg: (trid, status, extra) => line("CHG", trid, status, ...extra.map(enc)),

  add(trid, list: ListName, version, email, name, group) {
    const tokens: (string | number)[] = ["ADD", trid, list, version, email];
    if (name !== undefined) tokens.push(enc(name));
    if (group !== undefined) tokens.push(group);
    return { tokens };
  },
  reverseAdded: (version, email, name) => line("ADD", 0, "RL", version, email, enc(name)),
  reverseRemoved: (version, email) => line("REM", 0, "RL", version, email),
  rem(trid, list, version, email, group) {
    const tokens: (string | number)[] = ["REM", trid, list, version, email];
    if (group !== undefined) tokens.push(group);
    return { tokens };
  },
  adg: (trid, version, name, id) => line("ADG", trid, version, enc(name), id, 0),
  rmg: (trid, version, id) => line("RMG", trid, version, id),
  reg: (trid, version, id, name) => line("REG", trid, version, id, enc(name), 0),
  gtc: (trid, version, value) => line("GTC", trid, version, value),
  blp: (trid, version, value) => line("BLP", trid, version, value),
  rea: (trid, version, email, name) => line("REA", trid, version, email, enc(name)),

  xfrSb: (trid, address, cookie) => line("XFR", trid, "SB", address, "CKI", cookie),
  xfrNs: (trid, address) => line("XFR", trid, "NS", address),
  rng: (sessionId, address, cookie, inviterEmail, inviterName) =>
    line("RNG", sessionId, address, "CKI", cookie, inviterEmail, enc(inviterName)),
  qng: () => line("QNG"),

  sbUsrOk: (trid, email, name) => line("USR", trid, "OK", email, enc(name)),
  iro: (trid, index, total, email, name) => line("IRO", trid, index, total, email, enc(name)),
  joi: (email, name) => line("JOI", email, enc(name)),
};
