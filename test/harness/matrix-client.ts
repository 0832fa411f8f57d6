/**
 * A Matrix user as Element would be one, for end-to-end tests: matrix-js-sdk (what Element is built
 * on) syncing against the test homeserver. Waits look at what the client already holds before
 * listening, so an event that arrives before the test starts waiting is not missed.
 */
import * as sdk from "matrix-js-sdk";
import type { MatrixClient, MatrixEvent, Room, RoomMember, User } from "matrix-js-sdk";
import { logger as sdkGlobalLogger, type Logger } from "matrix-js-sdk/lib/logger.js";

export interface MatrixUserCredentials {
  baseUrl: string;
  userId: string;
  accessToken: string;
  deviceId: string;
}

export type TimelinePredicate = (event: MatrixEvent, room: Room | undefined) => boolean;

/** A wait that ran out; says what was awaited so the failing test explains itself. */
export class WaitTimeoutError extends Error {
  constructor(what: string, timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`);
    this.name = "WaitTimeoutError";
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;

// Synapse's push rules lag behind the SDK's built-in list, so every client start warns about each
// missing default rule. Expected against any real server; not worth a line in test output.
const BENIGN_WARNINGS = [/^(Adding|Missing) default global \w+ push rule /];

/** Warnings and errors only, prefixed with whose client said it; the SDK is very chatty at debug. */
function quietLogger(prefix: string): Logger {
  return {
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (...msg: unknown[]) => {
      const first = msg[0];
      if (typeof first === "string" && BENIGN_WARNINGS.some((re) => re.test(first))) return;
      console.warn(prefix, ...msg);
    },
    error: (...msg: unknown[]) => console.error(prefix, ...msg),
    getChild: (namespace: string) => quietLogger(`${prefix} ${namespace}`),
  };
}

let processWideTweaksApplied = false;

/**
 * Two process-wide adjustments every test using the SDK needs, applied once:
 *
 * - Parts of the SDK log through its global loglevel logger rather than the client's, and its
 *   children (e.g. MatrixRTCSession's) are created at debug level: quiet the root, and hand out
 *   quiet children.
 * - The SDK's AbortSignal.timeout ponyfill (http-api/utils.js `timeoutSignal`) arms a ref'd timer
 *   of up to 110 s per request and never clears it, and its capability poller re-arms a 6 h timer
 *   when a fetch outlives stopClient(). Each keeps a finished test file's process alive for
 *   minutes (matrix-org/matrix-js-sdk#2031, #2472). Long SDK timers are watchdogs and pollers, so
 *   unref them as Node's own AbortSignal.timeout does; short ones (retries) stay as they are.
 */
function applyProcessWideTweaks(): void {
  if (processWideTweaksApplied) return;
  processWideTweaksApplied = true;

  const root = sdkGlobalLogger as unknown as { setLevel?: (level: string, persist?: boolean) => void };
  root.setLevel?.("warn", false);
  sdkGlobalLogger.getChild = (namespace: string) => quietLogger(`[matrix-js-sdk] ${namespace}`);

  const original = globalThis.setTimeout;
  const patched = function (this: unknown, ...args: Parameters<typeof setTimeout>): NodeJS.Timeout {
    const timer = original.apply(this, args);
    const delay = args[1];
    if (typeof delay === "number" && delay >= SDK_WATCHDOG_MIN_MS && SDK_FRAME.test(callerFrame())) {
      timer.unref();
    }
    return timer;
  };
  globalThis.setTimeout = Object.assign(patched, original) as unknown as typeof setTimeout;
}

const SDK_WATCHDOG_MIN_MS = 30_000;
const SDK_FRAME = /[\\/]node_modules[\\/]matrix-js-sdk[\\/]/;

/** The stack frame that called our setTimeout wrapper (0: "Error", 1: this, 2: wrapper, 3: caller). */
function callerFrame(): string {
  return (new Error().stack ?? "").split("\n", 4)[3] ?? "";
}

/**
 * Resolves when `check` returns a value other than undefined, either right away or after one of the
 * events `subscribe` hooks up; rejects after `timeoutMs`. Always unsubscribes.
 */
function waitUntil<T>(
  what: string,
  timeoutMs: number,
  check: () => T | undefined,
  subscribe: (recheck: () => void) => () => void,
): Promise<T> {
  const now = check();
  if (now !== undefined) return Promise.resolve(now);
  return new Promise<T>((resolve, reject) => {
    let unsubscribeEvents = (): void => undefined;
    // Events are the fast path; the poll catches state the SDK stores without the event we
    // listen to (a brand-new invited room arrives through ClientEvent.Room, not MyMembership).
    const poll = setInterval(() => recheck(), 100);
    const unsubscribe = (): void => {
      clearInterval(poll);
      unsubscribeEvents();
    };
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new WaitTimeoutError(what, timeoutMs));
    }, timeoutMs);
    const recheck = (): void => {
      let value: T | undefined;
      try {
        value = check();
      } catch (err) {
        clearTimeout(timer);
        unsubscribe();
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (value === undefined) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(value);
    };
    unsubscribeEvents = subscribe(recheck);
  });
}

/** A syncing matrix-js-sdk client with the waits tests need. */
export class TestMatrixUser {
  private constructor(
    /** The underlying client, for anything the helpers below do not cover. */
    readonly client: MatrixClient,
    readonly userId: string,
  ) {}

  /** Creates the client, starts syncing and resolves once the first sync is in (PREPARED). */
  static async start(creds: MatrixUserCredentials, timeoutMs = 15_000): Promise<TestMatrixUser> {
    applyProcessWideTweaks();
    const client = sdk.createClient({
      baseUrl: creds.baseUrl,
      userId: creds.userId,
      accessToken: creds.accessToken,
      deviceId: creds.deviceId,
      logger: quietLogger(`[matrix-js-sdk ${creds.userId}]`),
    });
    const user = new TestMatrixUser(client, creds.userId);
    const prepared = waitUntil(
      `${creds.userId}'s first sync`,
      timeoutMs,
      () => {
        const state = client.getSyncState();
        if (state === sdk.SyncState.Error) throw new Error(`${creds.userId}: sync failed`);
        return state === sdk.SyncState.Prepared || state === sdk.SyncState.Syncing ? true : undefined;
      },
      (recheck) => {
        client.on(sdk.ClientEvent.Sync, recheck);
        return () => client.off(sdk.ClientEvent.Sync, recheck);
      },
    );
    try {
      await client.startClient({ initialSyncLimit: 20 });
      await prepared;
    } catch (err) {
      client.stopClient();
      throw err;
    }
    return user;
  }

  /**
   * The first timeline event (in any room, live or already received) for which `predicate` holds.
   * Predicates see decrypted-as-received events; this harness runs without encryption.
   */
  waitForEvent(
    predicate: TimelinePredicate,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    what = "a matching event",
  ): Promise<MatrixEvent> {
    let latest: { event: MatrixEvent; room: Room | undefined } | undefined;
    return waitUntil(
      `${what} in ${this.userId}'s timeline`,
      timeoutMs,
      () => {
        if (latest) {
          const hit = latest;
          latest = undefined;
          return predicate(hit.event, hit.room) ? hit.event : undefined;
        }
        for (const room of this.client.getRooms()) {
          for (const event of room.getLiveTimeline().getEvents()) {
            if (predicate(event, room)) return event;
          }
        }
        return undefined;
      },
      (recheck) => {
        const onTimeline = (
          event: MatrixEvent,
          room: Room | undefined,
          toStart: boolean | undefined,
        ): void => {
          if (toStart) return;
          latest = { event, room };
          recheck();
        };
        this.client.on(sdk.RoomEvent.Timeline, onTimeline);
        return () => this.client.off(sdk.RoomEvent.Timeline, onTimeline);
      },
    );
  }

  /** A message (m.room.message) in `roomId` whose body satisfies `body` (string = exact match). */
  waitForMessage(
    roomId: string,
    body: string | ((body: string, event: MatrixEvent) => boolean),
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<MatrixEvent> {
    const matches = typeof body === "string" ? (b: string) => b === body : body;
    return this.waitForEvent(
      (event) => {
        if (event.getRoomId() !== roomId || event.getType() !== sdk.EventType.RoomMessage) return false;
        const text: unknown = event.getContent()["body"];
        return typeof text === "string" && matches(text, event);
      },
      timeoutMs,
      `a message ${typeof body === "string" ? JSON.stringify(body) : "matching a predicate"} in ${roomId}`,
    );
  }

  /**
   * Sends `text` to `roomId` (a management room) and resolves with the body of the first answer
   * after it that matches — from `from` if given, else from anyone but this user.
   */
  async ask(
    roomId: string,
    text: string,
    answer: RegExp,
    from?: string,
    timeoutMs = 20_000,
  ): Promise<string> {
    const since = Date.now();
    await this.sendText(roomId, text);
    const ev = await this.waitForMessage(
      roomId,
      (body, e) =>
        (from === undefined ? e.getSender() !== this.userId : e.getSender() === from) &&
        e.getTs() >= since - 1000 &&
        answer.test(body),
      timeoutMs,
    );
    return ev.getContent().body as string;
  }

  /** The first room this user is invited to (optionally: by `inviterId`); resolves to its room ID. */
  waitForInvite(inviterId?: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    return waitUntil(
      `an invite for ${this.userId}${inviterId ? ` from ${inviterId}` : ""}`,
      timeoutMs,
      () => {
        for (const room of this.client.getRooms()) {
          if (room.getMyMembership() !== sdk.KnownMembership.Invite) continue;
          if (inviterId === undefined || this.inviterOf(room) === inviterId) {
            return room.roomId;
          }
        }
        return undefined;
      },
      (recheck) => {
        this.client.on(sdk.RoomEvent.MyMembership, recheck);
        return () => this.client.off(sdk.RoomEvent.MyMembership, recheck);
      },
    );
  }

  private inviterOf(room: Room): string | undefined {
    return room.currentState.getMember(this.userId)?.events.member?.getSender();
  }

  /** Joins and resolves once the join came back through sync (the room is usable then). */
  async joinRoom(roomId: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    await this.client.joinRoom(roomId);
    await waitUntil(
      `${this.userId}'s join of ${roomId} to sync`,
      timeoutMs,
      () => (this.client.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Join ? true : undefined),
      (recheck) => {
        this.client.on(sdk.RoomEvent.MyMembership, recheck);
        return () => this.client.off(sdk.RoomEvent.MyMembership, recheck);
      },
    );
  }

  /** A private chat flagged as a DM (what Element's "Start chat" creates); resolves to the room ID. */
  async createDirectRoom(inviteUserIds: string[], name?: string): Promise<string> {
    const { room_id: roomId } = await this.client.createRoom({
      preset: sdk.Preset.TrustedPrivateChat,
      is_direct: true,
      invite: inviteUserIds,
      ...(name === undefined ? {} : { name }),
    });
    return roomId;
  }

  /** Sends an m.text message; resolves to its event ID. */
  async sendText(roomId: string, body: string): Promise<string> {
    const { event_id: eventId } = await this.client.sendTextMessage(roomId, body);
    return eventId;
  }

  async setTyping(roomId: string, typing: boolean, timeoutMs = 30_000): Promise<void> {
    await this.client.sendTyping(roomId, typing, timeoutMs);
  }

  async setPresence(presence: "online" | "unavailable" | "offline", statusMsg?: string): Promise<void> {
    await this.client.setPresence({
      presence,
      ...(statusMsg === undefined ? {} : { status_msg: statusMsg }),
    });
  }

  /** Until this client sees `userId` typing (or not) in `roomId`. */
  waitForTyping(
    roomId: string,
    userId: string,
    typing: boolean,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<void> {
    return waitUntil(
      `${userId} ${typing ? "typing" : "not typing"} in ${roomId} (seen by ${this.userId})`,
      timeoutMs,
      () => {
        const member = this.client.getRoom(roomId)?.getMember(userId);
        return member !== null && member !== undefined && member.typing === typing ? true : undefined;
      },
      (recheck) => {
        const onTyping = (_event: MatrixEvent, member: RoomMember): void => {
          if (member.roomId === roomId && member.userId === userId) recheck();
        };
        this.client.on(sdk.RoomMemberEvent.Typing, onTyping);
        return () => this.client.off(sdk.RoomMemberEvent.Typing, onTyping);
      },
    ).then(() => undefined);
  }

  /**
   * Until this client has received a presence event putting `userId` in state `presence`. A user
   * the client has no presence event for does not count as "offline": the SDK's default is not news.
   */
  waitForPresence(
    userId: string,
    presence: "online" | "unavailable" | "offline",
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<User> {
    return waitUntil(
      `${userId} presence ${presence} (seen by ${this.userId})`,
      timeoutMs,
      () => {
        const user = this.client.getUser(userId);
        return user?.events.presence !== undefined && user.presence === presence ? user : undefined;
      },
      (recheck) => {
        this.client.on(sdk.UserEvent.Presence, recheck);
        return () => this.client.off(sdk.UserEvent.Presence, recheck);
      },
    );
  }

  /** Stops syncing. Idempotent. */
  stop(): void {
    this.client.stopClient();
    this.client.removeAllListeners();
  }
}
