/**
 * The MSN test server of the scale benchmark, as its own process: the bridge's memory and CPU
 * figures must not include the server holding the other end of every connection.
 *
 *   node bench/scale-msn-server.js '{"puppets":10000,"pool":100,"contactsEach":3,"probes":[0,9999]}'
 *
 * Accounts: `puppet<i>@scale.test` (password `pw<i>`, name `Puppet <i>`), each with
 * `contactsEach` contacts from a pool of `pool` accounts that never log in (a small contact
 * list costs a list sync, not presence traffic), and `sender@scale.test`, a contact of the probe
 * puppets only, which the benchmark logs in to send the message that is timed.
 *
 * Prints `ready <nsPort>` once listening. Reads commands on stdin, one per line, and answers each
 * with one JSON line: `stats` (login counts and the highest number of logins in progress at once
 * since the last `reset`), `reset`.
 *
 * A login is "in progress" on the server from its connection's `VER` until its first `CHG`: the
 * bridge's login limiter holds a slot from before the TCP connect until after the `CHG` reply, so
 * a bridge that respects its limit can never show more here than the limit.
 */
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { MsnTestServer } from "../test/msn-server/index.js";
import type { AccountSpec } from "../test/msn-server/index.js";

export const SCALE_DOMAIN = "scale.test";
export const SENDER = { email: `sender@${SCALE_DOMAIN}`, password: "sender-pw", name: "Sender" };

export interface ScaleServerSpec {
  puppets: number;
  pool: number;
  contactsEach: number;
  /** Puppets that have the sender as a contact. */
  probes: number[];
}

export function puppetAccount(i: number): { email: string; password: string; name: string } {
  return { email: `puppet${i}@${SCALE_DOMAIN}`, password: `pw${i}`, name: `Puppet ${i}` };
}

export interface ScaleServerStats {
  /** Connections that sent VER / CHG since the last reset. */
  loginsStarted: number;
  loginsCompleted: number;
  /** Logins between VER and CHG (a connection that closed in between stays counted: conservative). */
  inProgress: number;
  maxConcurrentLogins: number;
  /** Accounts with a logged-in NS session. */
  loggedIn: number;
}

function accounts(spec: ScaleServerSpec): AccountSpec[] {
  const pool = Array.from({ length: spec.pool }, (_, i) => ({
    email: `pool${i}@${SCALE_DOMAIN}`,
    password: `pool${i}-pw`,
    name: `Pool ${i}`,
  }));
  const probes = new Set(spec.probes);
  const puppets = Array.from({ length: spec.puppets }, (_, i): AccountSpec => {
    const contacts = Array.from(
      { length: Math.min(spec.contactsEach, spec.pool) },
      (_, k) => pool[(i + k) % spec.pool]!.email,
    );
    if (probes.has(i)) contacts.push(SENDER.email);
    return { ...puppetAccount(i), contacts };
  });
  return [...pool, SENDER, ...puppets];
}

async function main(spec: ScaleServerSpec): Promise<void> {
  // maxRecords 0: a transcript of every login line would be the biggest thing in this process.
  const server = new MsnTestServer({ accounts: accounts(spec), maxRecords: 0 });
  let started = 0;
  let completed = 0;
  let max = 0;
  let loggedIn = 0;
  /** NS connection ids between VER and CHG. */
  const inProgress = new Set<number>();
  server.on("command", (record) => {
    if (record.connection !== "ns") return;
    if (record.name === "VER") {
      started++;
      inProgress.add(record.connectionId);
      if (inProgress.size > max) max = inProgress.size;
    } else if (record.name === "CHG" && inProgress.delete(record.connectionId)) {
      completed++;
    }
  });
  server.on("login", () => loggedIn++);
  server.on("logout", () => loggedIn--);
  await server.start();
  process.stdout.write(`ready ${server.nsPort}\n`);

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const command = line.trim();
    if (command === "stats") {
      const stats: ScaleServerStats = {
        loginsStarted: started,
        loginsCompleted: completed,
        inProgress: inProgress.size,
        maxConcurrentLogins: max,
        loggedIn,
      };
      process.stdout.write(`${JSON.stringify(stats)}\n`);
    } else if (command === "reset") {
      started = completed = max = 0;
      inProgress.clear();
      process.stdout.write(`{}\n`);
    } else {
      process.stdout.write(`${JSON.stringify({ error: `unknown command ${command}` })}\n`);
    }
  }
  // stdin closed: the benchmark is done (or died).
  await server.stop();
}

// Run as a script (the benchmark spawns it); imported, it only lends its account naming.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(JSON.parse(process.argv[2] ?? "{}") as ScaleServerSpec).catch((e: unknown) => {
    process.stderr.write(`scale msn server: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
