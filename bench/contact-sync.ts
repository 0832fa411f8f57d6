/**
 * Contact sync (issue 7, item 4): a second user logs in an MSN account whose contact list holds
 * `contacts` online contacts. Measured: time from the `login` command until every contact's
 * ghost has its name and presence on the (stub) homeserver, and how many homeserver requests
 * that took; then the same after a `reconnect`, when nothing changed and the bridge should send
 * (almost) nothing.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { NotificationSession } from "../src/msnp/index.js";
import { DOMAIN, type BridgeRig } from "./lib/bridge-rig.js";
import { summarize } from "./lib/stats.js";
import type { Figure } from "./lib/table.js";

const OWNER = { email: "sync@hotmail.test", password: "sync-pw", name: "Sync owner" };
const USER = `@sync:${DOMAIN}`;
const ROOM = `!sync-management:${DOMAIN}`;
/** Ghost ids of the sync contacts start with this (contacts are sc<i>@hotmail.test). */
const GHOST_PREFIX = "@msn_sc";

/** Runs `work(i)` for i < count with at most `limit` at a time. */
async function pool(count: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

function syncedAt(times: ReadonlyMap<string, number>, since: number): number[] {
  return [...times].filter(([user, at]) => user.startsWith(GHOST_PREFIX) && at >= since).map(([, at]) => at);
}

/** Waits until `count` ghosts had both set since `since`, or until the bridge stops sending. */
async function waitForGhosts(
  rig: BridgeRig,
  count: number,
  since: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const names = syncedAt(rig.homeserver.displayNameSetAt, since);
    const presence = syncedAt(rig.homeserver.presenceSetAt, since);
    if (names.length >= count && presence.length >= count) return Math.max(...names, ...presence);
    if (performance.now() > deadline) {
      throw new Error(`contact sync: ${names.length} names and ${presence.length} presences of ${count}`);
    }
    await sleep(10);
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`contact sync: timed out waiting for ${what}`);
    await sleep(5);
  }
}

export async function runContactSync(rig: BridgeRig, opts: { contacts: number }): Promise<Figure[]> {
  const group = "contact sync";
  rig.msn.addAccount(OWNER);
  const contacts = Array.from({ length: opts.contacts }, (_, i) => ({
    email: `sc${i}@hotmail.test`,
    password: `sc${i}-pw`,
    name: `Sync contact ${i} ✓`,
  }));
  for (const c of contacts) {
    rig.msn.addAccount(c);
    rig.msn.befriend(OWNER.email, c.email);
    rig.msn.befriend(c.email, OWNER.email);
  }
  const sessions: NotificationSession[] = [];
  try {
    // Online contacts, so presence is part of the sync (offline ghosts need no request).
    await pool(contacts.length, 25, async (i) => {
      const c = contacts[i]!;
      const ns = new NotificationSession({
        host: rig.msn.host,
        port: rig.msn.nsPort,
        email: c.email,
        password: c.password,
        pingIntervalMs: 600_000,
        requestTimeoutMs: 30_000,
      });
      await ns.connect();
      await ns.setStatus("NLN");
      sessions.push(ns);
    });

    const requestsBefore = rig.homeserver.totalRequests;
    const start = performance.now();
    await rig.logIn(USER, ROOM, OWNER.email, OWNER.password);
    const done = await waitForGhosts(rig, contacts.length, start, 120_000);
    const firstRequests = rig.homeserver.totalRequests - requestsBefore;

    // Nothing changed: a reconnect should cost the homeserver (almost) nothing.
    // The log reaches us through a pipe, possibly after the stub saw the requests: wait for the
    // first sync's line before counting to the second.
    const syncedLines = (): number => rig.bridge.log.match(/contacts synced userId=@sync:/g)?.length ?? 0;
    await waitUntil(() => syncedLines() >= 1, 30_000, "the first sync's log line");
    const again = rig.homeserver.totalRequests;
    const reconnectStart = performance.now();
    await rig.pusher.push([rig.pusher.message(ROOM, USER, "reconnect")]);
    await waitUntil(() => syncedLines() >= 2, 120_000, "the re-sync's log line");
    const reconnectMs = performance.now() - reconnectStart;
    // Any trailing request the sync still makes lands within a moment; count those too.
    await sleep(200);
    const resyncRequests = rig.homeserver.totalRequests - again;

    return [
      {
        group,
        name: `${contacts.length} online contacts: login → all names+presence`,
        unit: "ms",
        summary: summarize([done - start]),
        target: "≤ 10000 ms (1,000)",
      },
      {
        group,
        name: "homeserver requests for that sync",
        unit: "requests",
        summary: summarize([firstRequests]),
        target: "batched/skipped",
      },
      {
        group,
        name: "reconnect, nothing changed: time to synced",
        unit: "ms",
        summary: summarize([reconnectMs]),
        target: "",
      },
      {
        group,
        name: "homeserver requests for the unchanged re-sync",
        unit: "requests",
        summary: summarize([resyncRequests]),
        target: "≈ 0 (only on change)",
      },
    ];
  } finally {
    await Promise.allSettled(sessions.map((ns) => ns.close()));
  }
}
