import { createHash, randomInt } from "node:crypto";

import {
  contactGuid,
  groupGuid,
  isValidAddress,
  MAX_GROUP_NAME_LENGTH,
  SETTABLE_STATUSES,
  type Account,
  type PresenceStatus,
} from "../accounts.js";
import type { ServerCore } from "../core.js";
import { negotiateDialect, type Dialect, type ListSnapshot, type OutLine } from "../dialect/index.js";
import type { MsnpConnection } from "../wire/connection.js";
import type { InboundCommand } from "../wire/framing.js";
import { decodeParam, encodeParam } from "../wire/percent.js";

/** Commands an NS connection answers before it has logged in. */
const PRE_LOGIN = new Set(["VER", "CVR", "INF", "USR", "PNG", "OUT"]);

/** MSNP8–14 `USR TWN S` policy string as Escargot sends it (msnp.md §3.4). */
const TWN_POLICY = "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1";

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
  commandDisabled: 502,
  challengeFailed: 540,
  authFailed: 911,
  notWhileHidden: 913,
} as const;

/**
 * One Notification Server connection: version negotiation, MD5 (MSNP≤7) or TWN (8–12) login,
 * list sync and changes, presence and switchboard transfers — Escargot's behaviour, formatted by
 * the negotiated dialect. Malformed or out-of-sequence commands get no reply at all, exactly like
 * Escargot.
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
    const nln = this.dialect.nln(seen, this.core.presenceOf(target));
    this.out(nln);
    if (this.core.behaviour.duplicateNln) this.out(nln);
  }

  /** `UBX` with `target`'s personal message, if this session's dialect has them and may see it. */
  sendPersonalMessageOf(target: Account): void {
    if (!this.presenceActive || !this.account || !this.dialect?.hasPsm) return;
    if (target.personalMessage === undefined || target.statusSeenBy(this.account.email) === "FLN") return;
    this.out(this.dialect.ubx(target.email, target.personalMessage));
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
      case "ADC":
        return this.onAdc(args);
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
      case "PRP":
        return this.onPrp(args);
      case "UUX":
        return this.onUux(args, cmd.payload);
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
        // Unknown commands get no reply.
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
      // Escargot: MD5 on MSNP8+ just closes; an unknown scheme on ≤7 is an auth failure.
      if (this.dialect.login === "MD5") this.error(ERR.authFailed, t);
      this.conn.close();
      return;
    }
    if (stage === "I") return this.onUsrInitial(t, value);
    if (stage === "S") {
      if (this.dialect.login === "TWN") return this.onTwnTicket(t, value);
      return this.onUsrSubsequent(t, value);
    }
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
    if (this.dialect!.login === "TWN") {
      this.conn.send(["USR", t, "TWN", "S", TWN_POLICY]);
      return;
    }
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

  /** `USR TWN S <ticket>`: the ticket must come from the Passport service for this very address. */
  private onTwnTicket(t: string, ticket: string): void {
    const email = this.loginEmail;
    if (email === undefined) return; // S before I: no reply, like Escargot
    const owner = this.core.passport.verify(ticket);
    const account = owner === undefined ? undefined : this.core.account(owner);
    if (!account || account.email !== email) {
      this.error(ERR.authFailed, t);
      this.conn.close();
      return;
    }
    this.completeLogin(t, account);
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
    for (const extra of dialect.afterLogin()) this.out(extra);
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
    const dialect = this.dialect!;
    if (args.length !== 1 + dialect.synArgs) return;
    const synArgs = args.slice(1).map((a) => encodeParam(decodeParam(a)));
    if (dialect.synArgs === 1) {
      const clientVersion = decodeParam(args[1] ?? "");
      if (!/^\d+$/.test(clientVersion)) return;
      // Escargot (MSNP2–9) always answers with the client's version + 1 and the full list.
      this.listVersion = Number(clientVersion) + 1;
    }
    // MSNP10+ has no list version; the client's two timestamps are echoed and the full list sent.
    for (const line of dialect.syn(trid(args), synArgs, this.listVersion, this.snapshot(this.account!)))
      this.out(line);
  }

  private snapshot(account: Account): ListSnapshot {
    const contacts = [...account.contacts].map(([email, entry]) => {
      const other = this.core.account(email);
      return {
        email,
        name: other?.name ?? email,
        guid: contactGuid(account.email, email),
        lists: entry.lists,
        groups: [...entry.groups],
        phones: other?.phones ?? {},
      };
    });
    return {
      ownerName: account.name,
      contacts,
      groups: [...account.groups].map(([id, name]) => ({ id, guid: groupGuid(account.email, id), name })),
      blp: account.blp,
      gtc: account.gtc,
    };
  }

  /** `ADD trid list email [name [group]]` (MSNP≤9). */
  private onAdd(args: readonly string[]): void {
    if (this.dialect!.listCommands !== "ADD") return;
    if (args.length < 3 || args.length > 5) return;
    const list = decodeParam(args[1] ?? "");
    if (list === "RL") {
      this.conn.close(); // Escargot closes on ADD RL (msnp.md §4.3)
      return;
    }
    if (list !== "FL" && list !== "AL" && list !== "BL") return;
    const email = decodeParam(args[2] ?? "");
    const name = args[3] === undefined ? undefined : decodeParam(args[3]);
    const group = args[4] === undefined ? undefined : decodeParam(args[4]);
    this.addToList(trid(args), list, email, name, group);
  }

  /**
   * `ADC trid FL N=email F=name`, `ADC trid AL|BL N=email`, `ADC trid FL C=guid group-guid`
   * (MSNP10+).
   */
  private onAdc(args: readonly string[]): void {
    if (this.dialect!.listCommands !== "ADC") return;
    if (args.length < 3 || args.length > 4) return;
    const t = trid(args);
    const list = decodeParam(args[1] ?? "");
    if (list === "RL") {
      this.conn.close(); // Escargot closes on ADC RL (msnp.md §4.3)
      return;
    }
    if (list !== "FL" && list !== "AL" && list !== "BL") return;
    const fields = new Map<string, string>();
    for (const arg of args.slice(2)) {
      const decoded = decodeParam(arg);
      const eq = decoded.indexOf("=");
      if (eq === 1) fields.set(decoded.slice(0, 1), decoded.slice(2));
      else fields.set("", decoded);
    }
    const me = this.account!;
    const byGuid = fields.get("C");
    if (byGuid !== undefined) {
      // Adding a listed contact to a group.
      const email = this.contactByGuid(byGuid);
      const group = fields.get("");
      if (list !== "FL" || group === undefined) return;
      if (email === undefined || !me.isOn("FL", email)) return this.error(ERR.notOnList, t);
      this.addToList(t, "FL", email, undefined, this.groupIdOf(group) ?? "");
      return;
    }
    const email = fields.get("N");
    if (email === undefined) return;
    this.addToList(t, list, email, fields.get("F"), undefined);
  }

  /** The rules of ADD/ADC, whatever the syntax (msnp.md §4.3, Escargot's answers). */
  private addToList(
    t: string,
    list: "FL" | "AL" | "BL",
    email: string,
    name: string | undefined,
    group: string | undefined,
  ): void {
    const dialect = this.dialect!;
    if (!isValidAddress(email)) return this.error(ERR.invalidParameter, t);
    const contact = this.core.account(email);
    if (!contact) return this.error(dialect.unknownAccountError, t);
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
    this.out(
      dialect.listAdded(t, list, this.nextVersion(), {
        email,
        givenName: name,
        contactName: contact.name,
        guid: contactGuid(me.email, email),
        group: !dialect.groupGuids
          ? group
          : intoGroup === undefined
            ? undefined
            : groupGuid(me.email, intoGroup),
      }),
    );

    // MSNP10+ puts a listed contact into a group with a separate ADC (C=guid group): no RL news.
    const groupOnly = dialect.groupGuids && group !== undefined;
    if (list === "FL" && !groupOnly) {
      // Every FL add (re)puts us on the contact's RL and tells the contact, as Escargot does.
      contact.addToList("RL", me.email);
      for (const session of this.core.sessionsOf(contact.email)) session.notifyReverseAdded(me);
      if (group === undefined) {
        const seen = contact.statusSeenBy(me.email);
        if (seen !== "FLN") this.out(dialect.iln(t, seen, this.core.presenceOf(contact)));
      }
    } else if (list !== "FL" && me.isOn("RL", email)) {
      // Allowing or blocking someone who watches us changes what they see: tell them now.
      this.core.sendPresenceTo(contact, me);
    }
  }

  /** `REM trid list email [group]` (≤9); on MSNP10+ FL entries are named by GUID. */
  private onRem(args: readonly string[]): void {
    if (args.length < 3 || args.length > 4) return;
    const dialect = this.dialect!;
    const t = trid(args);
    const list = decodeParam(args[1] ?? "");
    if (list === "RL") {
      // Escargot tears the whole session down on REM RL (msnp.md §4.3).
      this.conn.close();
      return;
    }
    if (list !== "FL" && list !== "AL" && list !== "BL") return;
    const me = this.account!;
    const target = decodeParam(args[2] ?? "");
    let email = target;
    let group = args[3] === undefined ? undefined : decodeParam(args[3]);
    if (list === "FL" && dialect.groupGuids) {
      const found = this.contactByGuid(target);
      if (found === undefined) return this.error(ERR.notOnList, t);
      email = found;
      if (group !== undefined) group = this.groupIdOf(group) ?? "";
    }
    const contact = this.core.account(email);
    if (!contact) return this.error(dialect.unknownAccountError, t);
    if (!me.isOn(list, email)) return this.error(ERR.notOnList, t);
    const ref = (g?: string) => ({
      email,
      guid: contactGuid(me.email, email),
      group: g === undefined ? undefined : dialect.groupGuids ? groupGuid(me.email, g) : g,
    });

    if (list === "FL" && group !== undefined) {
      if (group === "0") return this.error(ERR.notOnList, t);
      if (!me.groups.has(group)) return this.error(ERR.invalidGroup, t);
      const entry = me.entry(email)!;
      if (!entry.groups.has(group)) return this.error(ERR.notInGroup, t);
      entry.groups.delete(group);
      this.out(dialect.listRemoved(t, "FL", this.nextVersion(), ref(group)));
      return;
    }

    me.removeFromList(list, email);
    this.out(dialect.listRemoved(t, list, this.nextVersion(), ref()));
    if (list === "FL") {
      contact.removeFromList("RL", me.email);
      for (const session of this.core.sessionsOf(contact.email)) session.notifyReverseRemoved(me);
    } else if (list === "BL" && me.isOn("RL", email)) {
      this.core.sendPresenceTo(contact, me);
    }
  }

  /** The contact of this account whose MSNP10+ GUID is `guid`. */
  private contactByGuid(guid: string): string | undefined {
    const me = this.account!;
    for (const email of me.contacts.keys()) if (contactGuid(me.email, email) === guid) return email;
    return undefined;
  }

  /** The internal group id for a group as the dialect names it (GUID on MSNP10+). */
  private groupIdOf(ref: string): string | undefined {
    const me = this.account!;
    if (!this.dialect!.groupGuids) return ref;
    for (const id of me.groups.keys()) if (groupGuid(me.email, id) === ref) return id;
    return undefined;
  }

  /** A group id as this dialect writes it. */
  private groupRef(id: string): string {
    return this.dialect!.groupGuids ? groupGuid(this.account!.email, id) : id;
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
    this.out(this.dialect!.adg(t, this.nextVersion(), name, this.groupRef(id)));
  }

  private onRmg(args: readonly string[]): void {
    if (args.length !== 2) return;
    const t = trid(args);
    const ref = decodeParam(args[1] ?? "");
    const me = this.account!;
    if (ref === "0") return this.error(ERR.groupZero, t);
    const id = this.groupIdOf(ref);
    if (id === undefined || !me.groups.has(id)) return this.error(ERR.invalidGroup, t);
    me.removeGroup(id);
    this.out(this.dialect!.rmg(t, this.nextVersion(), ref));
  }

  private onReg(args: readonly string[]): void {
    if (args.length < 3 || args.length > 4) return;
    const t = trid(args);
    const ref = decodeParam(args[1] ?? "");
    const name = decodeParam(args[2] ?? "");
    const me = this.account!;
    const id = this.groupIdOf(ref);
    if (id === undefined || !me.groups.has(id)) return this.error(ERR.invalidGroup, t);
    if ([...name].length > MAX_GROUP_NAME_LENGTH) return this.error(ERR.groupNameTooLong, t);
    me.groups.set(id, name);
    this.out(this.dialect!.reg(t, this.nextVersion(), ref, name));
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
    if (this.dialect!.ownName !== "REA") return this.error(ERR.commandDisabled, t); // MSNP10+ (Escargot)
    const email = decodeParam(args[1] ?? "");
    const name = decodeParam(args[2] ?? "");
    const me = this.account!;
    // Renaming a contact is accepted and ignored by Escargot; only the own name changes.
    if (email === me.email) me.name = name;
    this.out(this.dialect!.rea(t, this.nextVersion(), email, name));
    if (email === me.email) this.core.broadcastPresence(me);
  }

  /** `PRP trid MFN name` (MSNP10+): the own friendly name; watchers see an NLN with it. */
  private onPrp(args: readonly string[]): void {
    if (args.length !== 3 || this.dialect!.ownName !== "PRP") return;
    const t = trid(args);
    const key = decodeParam(args[1] ?? "");
    const name = decodeParam(args[2] ?? "");
    if (key !== "MFN") return; // phone numbers (PHH, …) are not modelled
    const me = this.account!;
    me.name = name;
    this.out(this.dialect!.prp(t, name));
    this.core.broadcastPresence(me);
  }

  /** `UUX trid len` + `<Data><PSM>…</PSM>…</Data>` (MSNP11+): the personal message, relayed as UBX. */
  private onUux(args: readonly string[], payload: Buffer | undefined): void {
    if (!this.dialect!.hasPsm || args.length !== 1 || payload === undefined) return;
    const me = this.account!;
    me.personalMessage = payload;
    this.conn.send(["UUX", trid(args), 0]);
    this.core.broadcastPersonalMessage(me);
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
    const extra = args.slice(2).map(decodeParam);
    if (extra[0] !== undefined) {
      me.clientId = extra[0];
      me.msnObject = extra[1];
    }
    this.out(this.dialect!.chg(t, me.status, extra));
    const firstChg = !this.presenceActive;
    if (firstChg) {
      this.presenceActive = true;
      // The initial-presence burst: one ILN (with the CHG's TrID) per visible FL contact.
      for (const email of me.membersOf("FL")) {
        const contact = this.core.account(email);
        if (!contact) continue;
        const seen = contact.statusSeenBy(me.email);
        if (seen === "FLN") continue;
        this.out(this.dialect!.iln(t, seen, this.core.presenceOf(contact)));
        this.sendPersonalMessageOf(contact);
      }
    }
    this.core.broadcastPresence(me);
    // A personal message kept from an earlier session reaches MSNP11+ watchers with the first NLN.
    if (firstChg) this.core.broadcastPersonalMessage(me);
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
