import { createHash, randomInt } from "node:crypto";

import {
  isValidAddress,
  MAX_GROUP_NAME_LENGTH,
  SETTABLE_STATUSES,
  type Account,
  type ListName,
  type PresenceStatus,
} from "../accounts.js";
import type { ServerCore } from "../core.js";
import { negotiateDialect, type Dialect, type ListSnapshot, type OutLine } from "../dialect/index.js";
import type { MsnpConnection } from "../wire/connection.js";
import type { InboundCommand } from "../wire/framing.js";
import { decodeParam, encodeParam } from "../wire/percent.js";

/** Commands an NS connection answers before it has logged in. */
const PRE_LOGIN = new Set(["VER", "CVR", "INF", "USR", "PNG", "OUT"]);

/** Numeric errors used on the NS (msnp.md §10). */
const ERR = {
  invalidParameter: 201,
  invalidUser: 205,
  alreadyLoggedIn: 207,
  alreadyOnList: 215,
  notOnList: 216,
  alreadyInMode: 218,
  oppositeList: 219,
  invalidGroup: 224,
  notInGroup: 225,
  groupExists: 228,
  groupNameTooLong: 229,
  groupZero: 230,
  internalError: 500,
  challengeFailed: 540,
  authFailed: 911,
  notWhileHidden: 913,
} as const;

/**
 * One Notification Server connection: version negotiation, MD5 login, list sync and changes,
 * presence and switchboard transfers — Escargot's MSNP2–7 behaviour, formatted by the negotiated
 * dialect. Malformed or out-of-sequence commands get no reply at all, exactly like Escargot.
 */
export class NsSession {
  dialect: Dialect | undefined;
  /** Set once `USR … OK` has been sent. */
  account: Account | undefined;
  /** The address given in `USR … I` (login in progress). */
  private loginEmail: string | undefined;
  /** The salt sent in `USR … S` for the login in progress. */
  private loginSalt: string | undefined;
  /** Whether the first CHG has been handled: presence flows only after it (msnp.md §5.2). */
  presenceActive = false;
  /** Escargot's per-connection list "serial": set from SYN, bumped by every list-changing reply. */
  private listVersion = 0;
  private challenge: string | undefined;
  private challengeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly conn: MsnpConnection,
    private readonly core: ServerCore,
  ) {
    conn.handler = (cmd) => this.handle(cmd);
    conn.onClose(() => this.onClosed());
  }

  get email(): string | undefined {
    return this.account?.email;
  }

  // ---- output helpers --------------------------------------------------------------------

  private out(line: OutLine): void {
    this.conn.send(line.tokens, line.payload);
  }

  private error(code: number, trid: string): void {
    this.conn.send([code, trid]);
  }

  private nextVersion(): number {
    return ++this.listVersion;
  }

  /** Sends `target`'s presence as this session's account sees it (after the first CHG only). */
  sendPresenceOf(target: Account): void {
    if (!this.presenceActive || !this.account || !this.dialect) return;
    const seen = target.statusSeenBy(this.account.email);
    if (seen === "FLN") {
      this.out(this.dialect.fln(target.email));
      return;
    }
    const nln = this.dialect.nln(seen, target.email, target.name);
    this.out(nln);
    if (this.core.behaviour.duplicateNln) this.out(nln);
  }

  /** `ADD 0 RL …`: `adder` put this session's account on its FL. */
  notifyReverseAdded(adder: Account): void {
    if (!this.dialect) return;
    this.out(this.dialect.reverseAdded(this.nextVersion(), adder.email, adder.name));
  }

  /** `REM 0 RL …`: `remover` took this session's account off its FL. */
  notifyReverseRemoved(remover: Account): void {
    if (!this.dialect) return;
    this.out(this.dialect.reverseRemoved(this.nextVersion(), remover.email));
  }

  /** `RNG`: an invitation into switchboard `sessionId`. */
  ring(sessionId: string, cookie: string, inviter: Account): void {
    if (!this.dialect) return;
    this.out(this.dialect.rng(sessionId, this.core.sbAddress, cookie, inviter.email, inviter.name));
  }

  /** Sends `OUT <reason>` (or a bare OUT) and closes the connection. */
  kick(reason: string | undefined): void {
    this.conn.send(reason === undefined ? ["OUT"] : ["OUT", reason]);
    this.conn.close();
  }

  /** Sends a `CHL 0 <digits>` challenge now; a wrong or missing answer drops the connection. */
  sendChallenge(): void {
    if (!this.dialect?.challenge || !this.account) return;
    let digits = "";
    for (let i = 0; i < 20; i++) digits += String(randomInt(i === 0 ? 1 : 0, 10));
    this.challenge = digits;
    this.core.timers.clear(this.challengeTimer);
    this.challengeTimer = this.core.timers.set(() => {
      this.core.log(`ns#${this.conn.id} (${this.email}) did not answer CHL in time; dropping`);
      this.conn.close();
    }, this.core.behaviour.challengeTimeoutMs);
    this.conn.send(["CHL", 0, digits]);
  }

  systemMessage(type: number, minutes: number): void {
    if (!this.dialect || !this.account) return;
    this.out(this.dialect.systemMessage(type, minutes));
  }

  // ---- dispatch -------------------------------------------------------------------------

  private handle(cmd: InboundCommand): void {
    const args = cmd.args;
    if (!this.account && !PRE_LOGIN.has(cmd.name)) return;
    switch (cmd.name) {
      case "VER":
        return this.onVer(args);
      case "CVR":
        return this.onCvr(args);
      case "INF":
        return this.onInf(args);
      case "USR":
        return this.onUsr(args);
      case "PNG":
        if (args.length === 0 && this.dialect) this.out(this.dialect.qng());
        return;
      case "OUT":
        if (args.length === 0) this.conn.close();
        return;
      case "SYN":
        return this.onSyn(args);
      case "CHG":
        return this.onChg(args);
      case "ADD":
        return this.onAdd(args);
      case "REM":
        return this.onRem(args);
      case "ADG":
        return this.onAdg(args);
      case "RMG":
        return this.onRmg(args);
      case "REG":
        return this.onReg(args);
      case "BLP":
        return this.onBlp(args);
      case "GTC":
        return this.onGtc(args);
      case "REA":
        return this.onRea(args);
      case "XFR":
        return this.onXfr(args);
      case "QRY":
        return this.onQry(args, cmd.payload);
      case "SND":
        if (args.length === 2) this.conn.send(["SND", trid(args), encodeParam(decodeParam(args[1] ?? ""))]);
        return;
      case "URL":
        if (args.length >= 2) this.conn.send(["URL", trid(args), "/unused1", "/unused2", 1]);
        return;
      default:
        // Unknown commands (and other dialects' commands such as UUX or ADC) get no reply.
        return;
    }
  }

  // ---- login ----------------------------------------------------------------------------

  private onVer(args: readonly string[]): void {
    const id = args[0];
    if (id === undefined || !/^\d+$/.test(decodeParam(id))) {
      this.conn.close();
      return;
    }
    const chosen = negotiateDialect(args.slice(1).map(decodeParam), this.core.behaviour.dialects);
    if (!chosen) {
      this.conn.send(["VER", trid(args), 0]);
      this.conn.close();
      return;
    }
    this.dialect = chosen;
    this.conn.send(["VER", trid(args), chosen.name]);
  }

  private onCvr(args: readonly string[]): void {
    // Escargot reads the client version from the sixth argument and answers nothing without it.
    if (args.length < 7) return;
    const version = encodeParam(decodeParam(args[6] ?? ""));
    const url = "http://127.0.0.1/msn-test-server";
    this.conn.send(["CVR", trid(args), version, version, version, url, url]);
  }

  private onInf(args: readonly string[]): void {
    if (args.length !== 1 || !this.dialect) return;
    if (!this.dialect.hasInf) {
      this.conn.close();
      return;
    }
    this.conn.send(["INF", trid(args), this.dialect.login]);
  }

  private onUsr(args: readonly string[]): void {
    if (args.length < 4 || !this.dialect) return;
    const t = trid(args);
    if (this.account) {
      this.error(ERR.alreadyLoggedIn, t);
      return;
    }
    const scheme = decodeParam(args[1] ?? "");
    const stage = decodeParam(args[2] ?? "");
    const value = decodeParam(args[3] ?? "");
    if (scheme !== this.dialect.login) {
      this.error(ERR.authFailed, t);
      this.conn.close();
      return;
    }
    if (stage === "I") return this.onUsrInitial(t, value);
    if (stage === "S") return this.onUsrSubsequent(t, value);
    this.error(ERR.authFailed, t);
    this.conn.close();
  }

  private onUsrInitial(t: string, email: string): void {
    const behaviour = this.core.behaviour;
    if (behaviour.maintenance) {
      this.error(ERR.internalError, t);
      this.conn.close();
      return;
    }
    if (behaviour.redirect && behaviour.redirect.remaining > 0) {
      behaviour.redirect.remaining -= 1;
      const target = `${behaviour.redirect.host}:${behaviour.redirect.port}`;
      if (behaviour.redirect.remaining <= 0) behaviour.redirect = null;
      this.out(this.dialect!.xfrNs(t, target));
      return;
    }
    this.loginEmail = email;
    this.core.transcript.attribute(this.conn.id, email);
    this.conn.email = email;
    // Escargot's "challenge" is the account's stored salt, identical on every login. A mis-cased
    // address still finds the account here (the case check comes later); an unknown address gets
    // the current Unix time so USR I never reveals whether an account exists.
    const account = this.core.accountIgnoringCase(email);
    this.loginSalt = account ? account.salt : String(Math.floor(Date.now() / 1000));
    this.conn.send(["USR", t, this.dialect!.login, "S", this.loginSalt]);
  }

  private onUsrSubsequent(t: string, hash: string): void {
    const email = this.loginEmail;
    const salt = this.loginSalt;
    if (email === undefined || salt === undefined) return; // S before I: no reply, like Escargot
    const candidate = this.core.accountIgnoringCase(email);
    const hashOk =
      candidate !== undefined && hash === md5hex(salt + candidate.password) && salt === candidate.salt;
    if (!candidate || !hashOk) {
      this.error(ERR.authFailed, t);
      this.conn.close();
      return;
    }
    if (candidate.email !== email) {
      // Escargot registers the new session before its exact-case check fails, which boots the
      // account's live session: reproduce that (msnp.md §3.3).
      for (const other of this.core.sessionsOf(candidate.email)) other.kick("OTH");
      this.error(ERR.authFailed, t);
      this.conn.close();
      return;
    }
    this.completeLogin(t, candidate);
  }

  private completeLogin(t: string, account: Account): void {
    const dialect = this.dialect!;
    this.account = account;
    this.conn.email = account.email;
    this.core.transcript.attribute(this.conn.id, account.email);
    this.core.registerLogin(this, account.email);
    // The new session is registered before the old ones are booted, so the account never looks
    // offline to its contacts during the hand-over (Escargot's order).
    const older = this.core.sessionsOf(account.email).filter((s) => s !== this);
    for (const other of older) other.kick("OTH");
    this.out(dialect.usrOk(t, account.email, account.name));
    this.out(
      dialect.profile({
        email: account.email,
        loginTime: new Date(),
        clientIp: this.conn.remoteAddress,
        clientPort: this.conn.remotePort,
      }),
    );
    if (this.core.behaviour.challenges) this.sendChallenge();
    this.core.notifyLogin(account.email);
  }

  private onQry(args: readonly string[], payload: Buffer | undefined): void {
    if (!this.core.behaviour.challenges || !this.dialect?.challenge) return; // Escargot ignores QRY
    if (args.length !== 2 || payload === undefined) return;
    const t = trid(args);
    const expected = this.challenge === undefined ? undefined : this.dialect.challenge.answer(this.challenge);
    const productOk = decodeParam(args[1] ?? "") === this.dialect.challenge.productId;
    this.challenge = undefined;
    this.core.timers.clear(this.challengeTimer);
    this.challengeTimer = undefined;
    if (expected === undefined || !productOk || payload.toString("latin1") !== expected) {
      this.error(ERR.challengeFailed, t);
      this.conn.close();
      return;
    }
    this.conn.send(["QRY", t]);
  }

  // ---- lists ----------------------------------------------------------------------------

  private onSyn(args: readonly string[]): void {
    if (args.length !== 2) return;
    const clientVersion = decodeParam(args[1] ?? "");
    if (!/^\d+$/.test(clientVersion)) return;
    const account = this.account!;
    // Escargot (MSNP2–7) always answers with the client's version + 1 and the full list.
    this.listVersion = Number(clientVersion) + 1;
    for (const line of this.dialect!.syn(trid(args), this.listVersion, this.snapshot(account)))
      this.out(line);
  }

  private snapshot(account: Account): ListSnapshot {
    const contacts = [...account.contacts].map(([email, entry]) => {
      const other = this.core.account(email);
      return {
        email,
        name: other?.name ?? email,
        lists: entry.lists,
        groups: [...entry.groups],
        phones: other?.phones ?? {},
      };
    });
    return {
      ownerName: account.name,
      contacts,
      groups: [...account.groups].map(([id, name]) => ({ id, name })),
      blp: account.blp,
      gtc: account.gtc,
    };
  }

  private onAdd(args: readonly string[]): void {
    if (args.length < 3 || args.length > 5) return;
    const t = trid(args);
    const list = decodeParam(args[1] ?? "");
    if (list === "RL") {
      this.conn.close(); // Escargot closes on ADD RL (msnp.md §4.3)
      return;
    }
    if (list !== "FL" && list !== "AL" && list !== "BL") return;
    const email = decodeParam(args[2] ?? "");
    const name = args[3] === undefined ? undefined : decodeParam(args[3]);
    const group = args[4] === undefined ? undefined : decodeParam(args[4]);
    if (!isValidAddress(email)) return this.error(ERR.invalidParameter, t);
    const contact = this.core.account(email);
    if (!contact) return this.error(ERR.invalidUser, t);
    const me = this.account!;
    if ((list === "AL" && me.isOn("BL", email)) || (list === "BL" && me.isOn("AL", email))) {
      return this.error(ERR.oppositeList, t);
    }
    const intoGroup = list === "FL" && group !== undefined && group !== "0" ? group : undefined;
    if (intoGroup !== undefined) {
      if (!me.groups.has(intoGroup)) return this.error(ERR.invalidGroup, t);
      if (me.entry(email)?.groups.has(intoGroup)) return this.error(ERR.alreadyOnList, t);
    }

    // Adding someone who is already on the list succeeds (Escargot; historic servers said 215).
    me.addToList(list, email);
    if (intoGroup !== undefined) me.entry(email)!.groups.add(intoGroup);
    this.out(this.dialect!.add(t, list, this.nextVersion(), email, name, group));

    if (list === "FL") {
      // Every FL add (re)puts us on the contact's RL and tells the contact, as Escargot does.
      contact.addToList("RL", me.email);
      for (const session of this.core.sessionsOf(contact.email)) session.notifyReverseAdded(me);
      if (group === undefined) {
        const seen = contact.statusSeenBy(me.email);
        if (seen !== "FLN") this.out(this.dialect!.iln(t, seen, contact.email, contact.name));
      }
    } else if (me.isOn("RL", email)) {
      // Allowing or blocking someone who watches us changes what they see: tell them now.
      this.core.sendPresenceTo(contact, me);
    }
  }

  private onRem(args: readonly string[]): void {
    if (args.length < 3 || args.length > 4) return;
    const t = trid(args);
    const list = decodeParam(args[1] ?? "");
    if (list === "RL") {
      // Escargot tears the whole session down on REM RL (msnp.md §4.3).
      this.conn.close();
      return;
    }
    if (list !== "FL" && list !== "AL" && list !== "BL") return;
    const email = decodeParam(args[2] ?? "");
    const group = args[3] === undefined ? undefined : decodeParam(args[3]);
    const contact = this.core.account(email);
    if (!contact) return this.error(ERR.invalidUser, t);
    const me = this.account!;
    if (!me.isOn(list, email)) return this.error(ERR.notOnList, t);

    if (list === "FL" && group !== undefined) {
      if (group === "0") return this.error(ERR.notOnList, t);
      if (!me.groups.has(group)) return this.error(ERR.invalidGroup, t);
      const entry = me.entry(email)!;
      if (!entry.groups.has(group)) return this.error(ERR.notInGroup, t);
      entry.groups.delete(group);
      this.out(this.dialect!.rem(t, "FL", this.nextVersion(), email, group));
      return;
    }

    me.removeFromList(list as ListName, email);
    this.out(this.dialect!.rem(t, list, this.nextVersion(), email));
    if (list === "FL") {
      contact.removeFromList("RL", me.email);
      for (const session of this.core.sessionsOf(contact.email)) session.notifyReverseRemoved(me);
    } else if (list === "BL" && me.isOn("RL", email)) {
      this.core.sendPresenceTo(contact, me);
    }
  }

  private onAdg(args: readonly string[]): void {
    if (args.length < 2 || args.length > 3) return;
    const t = trid(args);
    const name = decodeParam(args[1] ?? "");
    const me = this.account!;
    if ([...name].length > MAX_GROUP_NAME_LENGTH) return this.error(ERR.groupNameTooLong, t);
    if ([...me.groups.values()].includes(name) || name === "Other Contacts")
      return this.error(ERR.groupExists, t);
    const id = me.addGroup(name);
    this.out(this.dialect!.adg(t, this.nextVersion(), name, id));
  }

  private onRmg(args: readonly string[]): void {
    if (args.length !== 2) return;
    const t = trid(args);
    const id = decodeParam(args[1] ?? "");
    const me = this.account!;
    if (id === "0") return this.error(ERR.groupZero, t);
    if (!me.groups.has(id)) return this.error(ERR.invalidGroup, t);
    me.removeGroup(id);
    this.out(this.dialect!.rmg(t, this.nextVersion(), id));
  }

  private onReg(args: readonly string[]): void {
    if (args.length < 3 || args.length > 4) return;
    const t = trid(args);
    const id = decodeParam(args[1] ?? "");
    const name = decodeParam(args[2] ?? "");
    const me = this.account!;
    if (!me.groups.has(id)) return this.error(ERR.invalidGroup, t);
    if ([...name].length > MAX_GROUP_NAME_LENGTH) return this.error(ERR.groupNameTooLong, t);
    me.groups.set(id, name);
    this.out(this.dialect!.reg(t, this.nextVersion(), id, name));
  }

  private onBlp(args: readonly string[]): void {
    if (args.length !== 2) return;
    const t = trid(args);
    const value = decodeParam(args[1] ?? "");
    if (value !== "AL" && value !== "BL") {
      this.conn.close();
      return;
    }
    const me = this.account!;
    if (me.blpExplicit && me.blp === value) return this.error(ERR.alreadyInMode, t);
    me.blp = value;
    me.blpExplicit = true;
    this.out(this.dialect!.blp(t, this.nextVersion(), value));
    // Escargot re-announces the account to all its watchers after a BLP change.
    this.core.broadcastPresence(me);
  }

  private onGtc(args: readonly string[]): void {
    if (args.length !== 2) return;
    const t = trid(args);
    const value = decodeParam(args[1] ?? "");
    if (value !== "A" && value !== "N") {
      this.conn.close();
      return;
    }
    const me = this.account!;
    if (me.gtcExplicit && me.gtc === value) return this.error(ERR.alreadyInMode, t);
    me.gtc = value;
    me.gtcExplicit = true;
    this.out(this.dialect!.gtc(t, this.nextVersion(), value));
  }

  private onRea(args: readonly string[]): void {
    if (args.length !== 3) return;
    const t = trid(args);
    const email = decodeParam(args[1] ?? "");
    const name = decodeParam(args[2] ?? "");
    const me = this.account!;
    // Renaming a contact is accepted and ignored by Escargot; only the own name changes.
    if (email === me.email) me.name = name;
    this.out(this.dialect!.rea(t, this.nextVersion(), email, name));
    if (email === me.email) this.core.broadcastPresence(me);
  }

  // ---- presence -------------------------------------------------------------------------

  private onChg(args: readonly string[]): void {
    const [min, max] = this.dialect!.chgArgs;
    if (args.length < 1 + min || args.length > 1 + max) return;
    const t = trid(args);
    const status = decodeParam(args[1] ?? "");
    if (status === "FLN") return this.error(ERR.invalidParameter, t);
    if (!SETTABLE_STATUSES.has(status)) {
      this.conn.close(); // Escargot closes the connection on an unknown status
      return;
    }
    const me = this.account!;
    me.status = status as PresenceStatus;
    this.out(this.dialect!.chg(t, me.status, args.slice(2).map(decodeParam)));
    if (!this.presenceActive) {
      this.presenceActive = true;
      // The initial-presence burst: one ILN (with the CHG's TrID) per visible FL contact.
      for (const email of me.membersOf("FL")) {
        const contact = this.core.account(email);
        if (!contact) continue;
        const seen = contact.statusSeenBy(me.email);
        if (seen !== "FLN") this.out(this.dialect!.iln(t, seen, contact.email, contact.name));
      }
    }
    this.core.broadcastPresence(me);
  }

  private onXfr(args: readonly string[]): void {
    if (args.length !== 2) return;
    const t = trid(args);
    if (decodeParam(args[1] ?? "") !== "SB") return this.error(ERR.invalidParameter, t);
    const me = this.account!;
    if (!this.presenceActive || me.status === "HDN") return this.error(ERR.notWhileHidden, t);
    const cookie = this.core.xfrCookies.issue(
      { email: me.email, dialect: this.dialect! },
      this.core.behaviour.cookieTtlMs,
    );
    this.out(this.dialect!.xfrSb(t, this.core.sbAddress, cookie));
  }

  // ---- teardown -------------------------------------------------------------------------

  private onClosed(): void {
    this.core.timers.clear(this.challengeTimer);
    this.challengeTimer = undefined;
    this.core.nsSessions.delete(this);
    this.core.transcript.forget(this.conn.id);
    const account = this.account;
    if (!account) return;
    if (this.core.unregisterLogin(this, account.email)) this.core.accountWentOffline(account);
  }
}

/** The TrID as the server echoes it (decoded like every Escargot argument, re-encoded for output). */
function trid(args: readonly string[]): string {
  return encodeParam(decodeParam(args[0] ?? ""));
}

function md5hex(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}
