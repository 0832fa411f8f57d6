/**
 * Matrix → MSN: an appservice transaction carrying the user's message is pushed to the bridge;
 * the clock stops when the MSN contact's client emits the message. Warm: the portal has an open
 * switchboard. Cold: the contact left it first, so the bridge must open one (XFR, USR, CAL,
 * RNG → ANS → JOI) before it can send — reported beside the MSN round-trip time to show what the
 * protocol itself costs.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { MATRIX_USER, type BridgeRig, type RigContact } from "./lib/bridge-rig.js";
import { processCpuMs } from "./lib/proc-cpu.js";
import { summarize } from "./lib/stats.js";
import { withTimeout } from "./lib/timeout.js";
import type { Figure } from "./lib/table.js";

let nextTag = 0;

/** Pushes one message and resolves with the ms until the contact received it. */
async function oneMessage(rig: BridgeRig, c: RigContact): Promise<number> {
  const text = `x${nextTag++} from Matrix — ünïcødé ✓`;
  let arrived: (at: number) => void = () => undefined;
  const received = new Promise<number>((resolve) => (arrived = resolve));
  c.contact.onText = (_from, got, at) => {
    if (got === text) arrived(at);
  };
  const start = performance.now();
  await rig.pusher.push([rig.pusher.message(c.roomId, MATRIX_USER, text)]);
  try {
    const at = await withTimeout(received, 15_000, `Matrix→MSN: "${text}" never reached ${c.contact.email}`);
    return at - start;
  } finally {
    c.contact.onText = null;
  }
}

/** One NS request/response (CHG → CHG) through the MSN test server: the protocol's unit of cost. */
async function nsRoundTripMs(c: RigContact): Promise<number> {
  const ns = c.contact.ns;
  if (!ns) throw new Error("contact is not logged in");
  const start = performance.now();
  await ns.setStatus("NLN");
  return performance.now() - start;
}

export interface MatrixToMsnOptions {
  warmMessages: number;
  coldMessages: number;
}

export async function runMatrixToMsn(rig: BridgeRig, opts: MatrixToMsnOptions): Promise<Figure[]> {
  const c = rig.contacts[0];
  if (!c) throw new Error("rig has no contacts");
  const group = "Matrix→MSN";
  const pid = rig.bridgePid;

  const warm: number[] = [];
  for (let i = 0; i < 5; i++) await oneMessage(rig, c); // warm-up, not counted
  let cpuBefore = processCpuMs(pid);
  for (let i = 0; i < opts.warmMessages; i++) warm.push(await oneMessage(rig, c));
  const warmCpu = (processCpuMs(pid) - cpuBefore) / opts.warmMessages;

  const rtts: number[] = [];
  for (let i = 0; i < 20; i++) rtts.push(await nsRoundTripMs(c));

  const cold: number[] = [];
  let coldCpuMs = 0;
  for (let i = 0; i < opts.coldMessages; i++) {
    await c.contact.leaveChatsWith(rig.puppetEmail);
    // Let the bridge see the BYE and drop its side, so the message really finds no switchboard.
    await sleep(150);
    cpuBefore = processCpuMs(pid);
    cold.push(await oneMessage(rig, c));
    coldCpuMs += processCpuMs(pid) - cpuBefore;
  }
  // Later benchmarks expect the contact's chat to the puppet to be open again.
  const reopened = c.contact.chatWithIfOpen(rig.puppetEmail);
  if (reopened) c.toBridge = reopened;

  return [
    { group, name: "latency, warm switchboard", unit: "ms", summary: summarize(warm), target: "" },
    {
      group,
      name: "latency, cold (XFR+USR+CAL+JOI)",
      unit: "ms",
      summary: summarize(cold),
      target: "≤ protocol round trips",
    },
    { group, name: "MSN NS round trip (CHG)", unit: "ms", summary: summarize(rtts), target: "(reference)" },
    {
      group,
      name: "bridge CPU per message, warm",
      unit: "ms",
      summary: summarize([warmCpu]),
      target: "≤ 1 ms",
    },
    {
      group,
      name: "bridge CPU per cold message",
      unit: "ms",
      summary: summarize([coldCpuMs / Math.max(1, opts.coldMessages)]),
      target: "",
    },
  ];
}
