/**
 * MSN → Matrix: MSN contacts send on open switchboards; the clock stops when the stub
 * homeserver has the ghost's PUT …/send/m.room.message. The same traffic goes through the
 * baseline relay in the same run, so the bridge's figures stand beside what the path costs
 * without it (MSN test server, loopback TCP, HTTP) on the same machine at the same moment.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { SwitchboardSession } from "../src/msnp/index.js";
import type { BridgeRig } from "./lib/bridge-rig.js";
import { processCpuMs } from "./lib/proc-cpu.js";
import { summarize } from "./lib/stats.js";
import { withTimeout } from "./lib/timeout.js";
import type { Figure } from "./lib/table.js";

export type RelayTarget = "bridge" | "baseline";

interface Batch {
  latenciesMs: number[];
  /** Messages per second from the first send to the last arrival. */
  throughput: number;
  cpuMsPerMessage: number;
  /** This process's CPU per message: contacts, MSN test server and stub homeserver together. */
  harnessCpuMsPerMessage: number;
}

let nextTag = 0;

/**
 * Sends `perSender` messages on each switchboard, `rate` per second per switchboard (Infinity:
 * as fast as the client can write), and waits until every one has reached the homeserver.
 */
async function sendBatch(
  rig: BridgeRig,
  target: RelayTarget,
  senders: readonly SwitchboardSession[],
  perSender: number,
  rate: number,
): Promise<Batch> {
  const tag = `m${nextTag++}`;
  const total = senders.length * perSender;
  const sentAt = new Float64Array(total);
  const latencies: number[] = [];
  let lastArrival = 0;
  let allArrived: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allArrived = resolve));
  const prefix = `${tag}:`;
  // Message i goes out on switchboard i % senders, so each conversation's sequence numbers must
  // reach the homeserver in increasing order: the relay's ordering guarantee, checked every run.
  const lastSeq = new Map<number, number>();
  let outOfOrder = 0;
  rig.homeserver.onMessage = (m) => {
    const body = m.content.body;
    if (typeof body !== "string" || !body.startsWith(prefix)) return;
    const seq = Number(body.slice(prefix.length, body.indexOf(" ", prefix.length)));
    const conversation = seq % senders.length;
    if (seq <= (lastSeq.get(conversation) ?? -1)) outOfOrder++;
    lastSeq.set(conversation, seq);
    latencies.push(m.at - sentAt[seq]!);
    lastArrival = m.at;
    if (latencies.length === total) allArrived();
  };
  const pid = target === "bridge" ? rig.bridgePid : rig.relayPid;
  const cpuBefore = processCpuMs(pid);
  const harnessBefore = process.cpuUsage();
  const start = performance.now();
  const writes: Promise<unknown>[] = [];
  // The text carries multibyte characters, as real chat does, so UTF-8 handling is in the path.
  const send = (i: number): void => {
    const sb = senders[i % senders.length]!;
    sentAt[i] = performance.now();
    writes.push(sb.sendText(`${tag}:${i} bench message — ünïcødé ✓ 日本語`));
  };
  if (rate === Infinity) {
    for (let i = 0; i < total; i++) send(i);
  } else {
    // Paced by the clock rather than by fixed sleeps, so timer slack does not lower the rate.
    const intervalMs = 1000 / (rate * senders.length);
    for (let i = 0; i < total;) {
      const due = start + i * intervalMs;
      const now = performance.now();
      if (now < due) {
        await sleep(Math.max(0, due - now - 0.5));
        continue;
      }
      send(i++);
    }
  }
  await Promise.all(writes);
  const timeoutMs = 30_000 + total * 5;
  try {
    await withTimeout(
      done,
      timeoutMs,
      `${target}: only some of ${total} messages arrived within ${timeoutMs} ms`,
    );
  } finally {
    rig.homeserver.onMessage = null;
  }
  if (outOfOrder > 0) throw new Error(`${target}: ${outOfOrder} of ${total} messages arrived out of order`);
  const cpuMs = processCpuMs(pid) - cpuBefore;
  const harness = process.cpuUsage(harnessBefore);
  return {
    latenciesMs: latencies,
    throughput: (total * 1000) / (lastArrival - start),
    cpuMsPerMessage: cpuMs / total,
    harnessCpuMsPerMessage: (harness.user + harness.system) / 1000 / total,
  };
}

function sendersFor(rig: BridgeRig, target: RelayTarget, count: number): SwitchboardSession[] {
  return rig.contacts.slice(0, count).map((c) => (target === "bridge" ? c.toBridge : c.toBaseline));
}

export interface MsnToMatrixOptions {
  /** Messages per paced latency run. */
  latencyMessages: number;
  lightRate: number;
  heavyRate: number;
  /** Messages per portal in each burst. */
  burstPerPortal: number;
  /** Portals (contacts) the burst is spread over. */
  burstPortals: number;
  /** Burst repetitions (each gives one throughput sample). */
  burstRuns: number;
}

export async function runMsnToMatrix(rig: BridgeRig, opts: MsnToMatrixOptions): Promise<Figure[]> {
  if (rig.contacts.length < opts.burstPortals) throw new Error("rig has too few contacts for the burst");
  const figures: Figure[] = [];
  const group = "MSN→Matrix";
  // One short warm-up each, so neither side is measured while its JIT is still compiling.
  for (const target of ["bridge", "baseline"] as const) {
    await sendBatch(rig, target, sendersFor(rig, target, 1), Math.min(200, opts.latencyMessages), 1000);
  }

  const cpuSamples: number[] = [];
  const baselineCpuSamples: number[] = [];
  for (const [label, rate] of [
    ["light", opts.lightRate],
    ["heavy", opts.heavyRate],
  ] as const) {
    const bridge = await sendBatch(rig, "bridge", sendersFor(rig, "bridge", 1), opts.latencyMessages, rate);
    const baseline = await sendBatch(
      rig,
      "baseline",
      sendersFor(rig, "baseline", 1),
      opts.latencyMessages,
      rate,
    );
    cpuSamples.push(bridge.cpuMsPerMessage);
    baselineCpuSamples.push(baseline.cpuMsPerMessage);
    const b = summarize(bridge.latenciesMs);
    const base = summarize(baseline.latenciesMs);
    figures.push(
      {
        group,
        name: `bridge latency, ${label} ${rate} msg/s, 1 portal`,
        unit: "ms",
        summary: b,
        target: label === "heavy" ? "overhead p50 ≤ 1, p99 ≤ 5" : "",
      },
      {
        group,
        name: `baseline latency, ${label} ${rate} msg/s`,
        unit: "ms",
        summary: base,
        target: "",
      },
      {
        group,
        // Not a distribution: the difference of the two runs' percentiles, min/max left out.
        name: `bridge overhead over baseline, ${label}`,
        unit: "ms",
        summary: { n: b.n, p50: b.p50 - base.p50, p99: b.p99 - base.p99, min: Number.NaN, max: Number.NaN },
        target: label === "heavy" ? "p50 ≤ 1, p99 ≤ 5" : "",
      },
    );
  }

  const bridgeRates: number[] = [];
  const baselineRates: number[] = [];
  const ratios: number[] = [];
  const harnessCpu: number[] = [];
  for (let run = 0; run < opts.burstRuns; run++) {
    const bridge = await sendBatch(
      rig,
      "bridge",
      sendersFor(rig, "bridge", opts.burstPortals),
      opts.burstPerPortal,
      Infinity,
    );
    const baseline = await sendBatch(
      rig,
      "baseline",
      sendersFor(rig, "baseline", opts.burstPortals),
      opts.burstPerPortal,
      Infinity,
    );
    bridgeRates.push(bridge.throughput);
    harnessCpu.push(bridge.harnessCpuMsPerMessage);
    baselineRates.push(baseline.throughput);
    ratios.push(bridge.throughput / baseline.throughput);
    cpuSamples.push(bridge.cpuMsPerMessage);
    baselineCpuSamples.push(baseline.cpuMsPerMessage);
  }
  // One portal alone: the bridge keeps each room's order by waiting for every send's answer, so
  // a single busy conversation is capped by homeserver round trips, not by CPU.
  const single: Record<RelayTarget, number> = { bridge: 0, baseline: 0 };
  for (const target of ["bridge", "baseline"] as const) {
    const one = await sendBatch(rig, target, sendersFor(rig, target, 1), opts.burstPerPortal, Infinity);
    single[target] = one.throughput;
  }
  figures.push(
    {
      group,
      name: `bridge throughput, 1 portal, burst ${opts.burstPerPortal}`,
      unit: "msg/s",
      summary: summarize([single.bridge]),
      target: "no latency plateau",
    },
    {
      group,
      name: `baseline throughput, 1 chat, burst ${opts.burstPerPortal}`,
      unit: "msg/s",
      summary: summarize([single.baseline]),
      target: "",
    },
  );
  const burst = `${opts.burstPortals}×${opts.burstPerPortal} msgs`;
  figures.push(
    {
      group,
      name: `bridge throughput, burst ${burst}`,
      unit: "msg/s",
      summary: summarize(bridgeRates),
      target: "≥ 3000 msg/s",
    },
    {
      group,
      name: `baseline throughput, burst ${burst}`,
      unit: "msg/s",
      summary: summarize(baselineRates),
      target: "",
    },
    { group, name: "bridge/baseline throughput", unit: "ratio", summary: summarize(ratios), target: "≥ 0.5" },
    {
      group,
      name: "bridge CPU per message (per phase)",
      unit: "ms",
      summary: summarize(cpuSamples),
      target: "≤ 1 ms",
    },
    {
      group,
      name: "baseline CPU per message (per phase)",
      unit: "ms",
      summary: summarize(baselineCpuSamples),
      target: "",
    },
    {
      // When this approaches 1000 / throughput, the harness, not the bridge, is the limit.
      group,
      name: "harness CPU per message in the bridge bursts",
      unit: "ms",
      summary: summarize(harnessCpu),
      target: "(reference)",
    },
  );
  return figures;
}
