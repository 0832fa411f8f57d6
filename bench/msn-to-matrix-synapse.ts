/**
 * MSN→Matrix against the real Synapse of the e2e tier (issue 7, target b): one busy portal, paced
 * at rising rates and then a burst. Latency is from the contact's send to the event's
 * `origin_server_ts` (Synapse's clock, the same machine's, millisecond resolution); order is read
 * back from the room's timeline as the Matrix user sees it; CPU is read from /proc for the bridge
 * and for Synapse around each phase. The Matrix user's client keeps syncing throughout, as
 * Element would.
 *
 * `node dist/bench/msn-to-matrix-synapse.js [--messages N] [--rates 5,10,25] [--burst N]`
 * (needs the Synapse chroot: `scripts/synapse-chroot.sh ensure`).
 */
import { parseArgs } from "node:util";
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { MsnTestServer } from "../test/msn-server/index.js";
import { BridgeProcess } from "../test/harness/bridge-process.js";
import { startSynapse, type SynapseHandle } from "../test/harness/synapse.js";
import { TestMatrixUser } from "../test/harness/matrix-client.js";
import { MsnContact } from "../test/harness/msn-contact.js";
import { freePort } from "../test/harness/ports.js";
import type { SwitchboardSession } from "../src/msnp/index.js";
import { findChildPid, processCpuMs } from "./lib/proc-cpu.js";
import { summarize } from "./lib/stats.js";
import { renderTable, type Figure } from "./lib/table.js";

const DOMAIN = "msn.test";
const PUPPET = { email: "alice@hotmail.test", password: "alice-pw", name: "Alice" };
const CONTACT = { email: "bob@hotmail.test", password: "bob-pw", name: "Bob" };

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "100" },
    rates: { type: "string", default: "5,10,25" },
    burst: { type: "string", default: "100" },
  },
});
const MESSAGES = Number(values.messages);
const RATES = values.rates.split(",").map(Number);
const BURST = Number(values.burst);

interface Timeline {
  bodies: string[];
  ts: number[];
}

/** The room's m.room.message events from the newest back to the first that starts with `prefix`. */
async function readTimeline(
  synapse: SynapseHandle,
  token: string,
  roomId: string,
  prefix: string,
  want: number,
): Promise<Timeline> {
  const bodies: string[] = [];
  const ts: number[] = [];
  let from: string | undefined;
  for (;;) {
    const url = new URL(`${synapse.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`);
    url.searchParams.set("dir", "b");
    url.searchParams.set("limit", "1000");
    if (from) url.searchParams.set("from", from);
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const page = (await res.json()) as {
      chunk?: { type: string; origin_server_ts: number; content: { body?: unknown } }[];
      end?: string;
    };
    for (const e of page.chunk ?? []) {
      if (e.type !== "m.room.message" || typeof e.content.body !== "string") continue;
      if (!e.content.body.startsWith(prefix)) continue;
      bodies.push(e.content.body);
      ts.push(e.origin_server_ts);
    }
    if (bodies.length >= want || !page.end || (page.chunk ?? []).length === 0) break;
    from = page.end;
  }
  return { bodies: bodies.reverse(), ts: ts.reverse() };
}

async function main(): Promise<void> {
  const msn = new MsnTestServer({ accounts: [PUPPET, CONTACT], maxRecords: 0 });
  await msn.start();
  msn.befriend(PUPPET.email, CONTACT.email);
  msn.befriend(CONTACT.email, PUPPET.email);
  const hsPort = await freePort();
  const bridge = new BridgeProcess({
    homeserverUrl: `http://127.0.0.1:${hsPort}`,
    domain: DOMAIN,
    appservicePort: await freePort(),
    msnHost: msn.host,
    msnPort: msn.nsPort,
    bridge: { permissions: { [`@user:${DOMAIN}`]: "user" } },
    msn: { protocol_versions: ["MSNP7"] },
  });
  bridge.generateRegistration();
  let synapse: SynapseHandle | null = null;
  let user: TestMatrixUser | null = null;
  const contact = new MsnContact(CONTACT.email, CONTACT.password, { host: msn.host, port: msn.nsPort });
  const figures: Figure[] = [];
  try {
    synapse = await startSynapse({
      serverName: DOMAIN,
      port: hsPort,
      appserviceRegistrationFiles: [bridge.registrationPath],
    });
    await bridge.start();
    await synapse.pingAppservice(bridge.registration.id, bridge.registration.as_token);
    const creds = await synapse.registerUser("user", "user-password");
    user = await TestMatrixUser.start({ baseUrl: synapse.baseUrl, ...creds });
    const mgmt = await user.createDirectRoom([`@msnbot:${DOMAIN}`]);
    await user.waitForMessage(mgmt, (b) => b.startsWith("Hello!"), 20_000);
    await user.sendText(mgmt, `login ${PUPPET.email} ${PUPPET.password}`);
    await user.waitForMessage(mgmt, (b) => b.startsWith("✅ Logged in"), 30_000);
    await contact.login();
    const sb: SwitchboardSession = await contact.chatWith(PUPPET.email);
    await sb.sendText("hello");
    const roomId = await user.waitForInvite(undefined, 30_000);
    await user.joinRoom(roomId);
    await user.waitForMessage(roomId, "hello", 20_000);

    const bridgePid = findChildPid(bridge.configPath);
    const synapsePid = synapse.pid;
    const group = "MSN→Matrix, Synapse";
    // What both processes burn with no message in flight (the user's client syncing, keep-alives,
    // timers): at a few messages per second it would otherwise be charged to the messages.
    const idleMs = 5000;
    const idleBridge0 = processCpuMs(bridgePid);
    const idleSynapse0 = processCpuMs(synapsePid);
    await sleep(idleMs);
    const idleBridgePerMs = (processCpuMs(bridgePid) - idleBridge0) / idleMs;
    const idleSynapsePerMs = (processCpuMs(synapsePid) - idleSynapse0) / idleMs;
    let phase = 0;
    const run = async (label: string, count: number, rate: number): Promise<void> => {
      const prefix = `s${phase++}:`;
      const sentAt = new Float64Array(count);
      const cpuBridge0 = processCpuMs(bridgePid);
      const cpuSynapse0 = processCpuMs(synapsePid);
      const start = Date.now();
      for (let i = 0; i < count;) {
        if (rate !== Infinity) {
          const due = start + (i * 1000) / rate;
          const wait = due - Date.now();
          if (wait > 0) {
            await sleep(Math.max(0, wait - 0.5));
            continue;
          }
        }
        sentAt[i] = Date.now();
        void sb.sendText(`${prefix}${i}`);
        i++;
      }
      let timeline: Timeline = { bodies: [], ts: [] };
      const deadline = Date.now() + 60_000 + count * 100;
      for (;;) {
        timeline = await readTimeline(synapse!, creds.accessToken, roomId, prefix, count);
        if (timeline.bodies.length >= count || Date.now() > deadline) break;
        await sleep(250);
      }
      const elapsed = Date.now() - start;
      const cpuBridge = processCpuMs(bridgePid) - cpuBridge0 - idleBridgePerMs * elapsed;
      const cpuSynapse = processCpuMs(synapsePid) - cpuSynapse0 - idleSynapsePerMs * elapsed;
      const seqs = timeline.bodies.map((b) => Number(b.slice(prefix.length)));
      const inOrder = seqs.every((s, i) => s === i);
      if (timeline.bodies.length !== count || !inOrder) {
        const seen = new Set(seqs);
        const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
        process.stderr.write(
          `missing: ${missing.slice(0, 20).join(",")}\nbridge log (warnings and errors):\n` +
            bridge.log
              .split("\n")
              .filter((l) => /warn|error/i.test(l))
              .slice(-20)
              .join("\n") +
            "\n",
        );
        throw new Error(
          `${label}: ${timeline.bodies.length} of ${count} arrived, ${inOrder ? "in order" : "OUT OF ORDER"}`,
        );
      }
      const latencies = timeline.ts.map((t, i) => t - sentAt[i]!);
      const fifth = Math.max(1, Math.floor(count / 5));
      const first = summarize(latencies.slice(0, fifth));
      const last = summarize(latencies.slice(-fifth));
      const throughput = (count * 1000) / (Math.max(...timeline.ts) - start);
      figures.push(
        {
          group,
          name: `${label}: latency (in order: yes)`,
          unit: "ms",
          summary: summarize(latencies),
          target: rate === Infinity ? "" : "no plateau",
        },
        {
          group,
          name: `${label}: latency p50, first → last fifth`,
          unit: "ms",
          summary: { n: count, p50: first.p50, p99: last.p50, min: Number.NaN, max: Number.NaN },
          target: "(p50 column: first, p99 column: last)",
        },
        { group, name: `${label}: throughput`, unit: "msg/s", summary: summarize([throughput]), target: "" },
        {
          group,
          name: `${label}: CPU per message over idle, bridge | Synapse`,
          unit: "ms",
          summary: {
            n: count,
            p50: cpuBridge / count,
            p99: cpuSynapse / count,
            min: Number.NaN,
            max: Number.NaN,
          },
          target: "(p50: bridge, p99: Synapse)",
        },
      );
      process.stderr.write(`# ${label} done\n`);
    };
    await run("warm-up 50 msg/s", 100, 50);
    figures.length = 0;
    figures.push({
      group,
      name: "idle CPU, bridge | Synapse",
      unit: "ms/s",
      summary: {
        n: 1,
        p50: idleBridgePerMs * 1000,
        p99: idleSynapsePerMs * 1000,
        min: Number.NaN,
        max: Number.NaN,
      },
      target: "(p50: bridge, p99: Synapse)",
    });
    for (const rate of RATES) await run(`paced ${rate} msg/s`, Math.min(MESSAGES, rate * 10), rate);
    await run(`burst ${BURST}`, BURST, Infinity);
  } finally {
    user?.stop();
    await contact.logout().catch(() => undefined);
    await bridge.stop();
    await synapse?.stop();
    await msn.stop();
    bridge.cleanup();
  }
  process.stdout.write(
    `\nMSN→Matrix against real Synapse (e2e chroot), one portal\n` +
      `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}\n\n${renderTable(figures)}\n`,
  );
}

await main();
