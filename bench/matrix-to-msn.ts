/**
 * Matrix → MSN: an appservice transaction carrying the user's message is pushed to the bridge;
 * the clock stops when the MSN contact's client emits the message. Warm: the portal has an open
 * switchboard. Cold: the contact left it first, so the bridge must open one (XFR, USR, CAL,
 * RNG → ANS → JOI) before it can send — reported beside the MSN round-trip time to show what the
 * protocol itself costs.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { CommandRecord } from "../test/msn-server/index.js";
import { MATRIX_USER, type BridgeRig, type RigContact } from "./lib/bridge-rig.js";
import { processCpuMs } from "./lib/proc-cpu.js";
import { summarize } from "./lib/stats.js";
import { withTimeout } from "./lib/timeout.js";
import type { Figure } from "./lib/table.js";

let nextTag = 0;
/** The pause before each cold send, long enough for the bridge to have dropped its SB. */
const IDLE_MS = 150;

/** The steps of a cold send, each ending when the MSN test server sees `until` (or on receipt). */
const COLD_STEPS = [
  { name: "push → bridge's XFR SB", until: "XFR" },
  { name: "XFR → USR on the SB", until: "USR" },
  { name: "USR → CAL", until: "CAL" },
  { name: "CAL → contact's ANS", until: "ANS" },
  { name: "ANS → bridge's MSG (after JOI)", until: "MSG" },
  { name: "MSG → contact has it", until: "" },
] as const;

/** Pushes one message; resolves with when it was pushed and when the contact received it. */
async function oneMessage(rig: BridgeRig, c: RigContact): Promise<{ start: number; end: number }> {
  const text = `x${nextTag++} from Matrix — ünïcødé ✓`;
  let arrived: (at: number) => void = () => undefined;
  const received = new Promise<number>((resolve) => (arrived = resolve));
  c.contact.onText = (_from, got, at) => {
    if (got === text) arrived(at);
  };
  const start = performance.now();
  await rig.pusher.push([rig.pusher.message(c.roomId, MATRIX_USER, text)]);
  try {
    const end = await withTimeout(received, 15_000, `Matrix→MSN: "${text}" never reached ${c.contact.email}`);
    return { start, end };
  } finally {
    c.contact.onText = null;
  }
}

/**
 * The user starts typing in the portal (an m.typing EDU); resolves with the ms until the contact
 * sees TypingUser. Typing is stopped again afterwards, outside the measurement.
 */
async function oneTyping(rig: BridgeRig, c: RigContact): Promise<number> {
  let seen: (at: number) => void = () => undefined;
  const typed = new Promise<number>((resolve) => (seen = resolve));
  c.contact.onTyping = (from, at) => {
    if (from.toLowerCase() === rig.puppetEmail) seen(at);
  };
  const start = performance.now();
  try {
    await rig.pusher.push([], [rig.pusher.typing(c.roomId, [MATRIX_USER])]);
    return (await withTimeout(typed, 15_000, `Matrix→MSN: typing never reached ${c.contact.email}`)) - start;
  } finally {
    c.contact.onTyping = null;
    await rig.pusher.push([], [rig.pusher.typing(c.roomId, [])]);
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

/** Warm messages are measured in this many rounds. */
const CPU_ROUNDS = 5;

export interface MatrixToMsnOptions {
  /** Sent first and not measured. */
  warmupMessages: number;
  warmMessages: number;
  coldMessages: number;
}

export async function runMatrixToMsn(rig: BridgeRig, opts: MatrixToMsnOptions): Promise<Figure[]> {
  const c = rig.contacts[0];
  if (!c) throw new Error("rig has no contacts");
  const group = "Matrix→MSN";
  const pid = rig.bridgePid;

  const warm: number[] = [];
  // Not counted: until V8 has optimised the path (a few hundred messages) a message costs the
  // bridge twice as much, which says nothing about a bridge that has been running for a while.
  for (let i = 0; i < opts.warmupMessages; i++) await oneMessage(rig, c);
  // CPU is read per round of messages (clock-tick resolution), giving runs to take a median of.
  const warmCpu: number[] = [];
  const perRound = Math.max(1, Math.floor(opts.warmMessages / CPU_ROUNDS));
  for (let round = 0; round < CPU_ROUNDS; round++) {
    const cpuBefore = processCpuMs(pid);
    for (let i = 0; i < perRound; i++) {
      const { start, end } = await oneMessage(rig, c);
      warm.push(end - start);
    }
    warmCpu.push((processCpuMs(pid) - cpuBefore) / perRound);
  }

  const typing: number[] = [];
  for (let i = 0; i < Math.min(opts.warmMessages, 200); i++) typing.push(await oneTyping(rig, c));

  // The control for the cold case: a warm send after the same idle pause, so what the pause alone
  // costs (a sleeping process waking on a busy machine) is not blamed on opening a switchboard.
  const warmAfterIdle: number[] = [];
  for (let i = 0; i < opts.coldMessages; i++) {
    await sleep(IDLE_MS);
    const { start, end } = await oneMessage(rig, c);
    warmAfterIdle.push(end - start);
  }

  const rtts: number[] = [];
  for (let i = 0; i < 20; i++) rtts.push(await nsRoundTripMs(c));

  const cold: number[] = [];
  let coldCpuMs = 0;
  // Where a cold message's time goes, from the MSN test server's view of the commands.
  const steps = COLD_STEPS.map(() => [] as number[]);
  let marks = new Map<string, number>();
  const puppet = rig.puppetEmail;
  const onCommand = (record: CommandRecord): void => {
    // The server learns who an SB connection is from its USR/ANS, after recording that line, so
    // those two are recognised by the address they carry.
    const who = record.name === "USR" || record.name === "ANS" ? record.args[1] : record.email;
    let key: string | null = null;
    if (who === puppet && record.connection === "ns" && record.name === "XFR") key = "XFR";
    else if (who === puppet && record.connection === "sb" && ["USR", "CAL", "MSG"].includes(record.name))
      key = record.name;
    else if (who === c.contact.email && record.connection === "sb" && record.name === "ANS") key = "ANS";
    if (key !== null && !marks.has(key)) marks.set(key, performance.now());
  };
  rig.msn.on("command", onCommand);
  try {
    for (let i = 0; i < opts.coldMessages; i++) {
      await c.contact.leaveChatsWith(puppet);
      // Let the bridge see the BYE and drop its side, so the message really finds no switchboard.
      await sleep(IDLE_MS);
      marks = new Map();
      const cpuBefore = processCpuMs(pid);
      const { start, end } = await oneMessage(rig, c);
      coldCpuMs += processCpuMs(pid) - cpuBefore;
      cold.push(end - start);
      const times = [start, ...COLD_STEPS.slice(0, -1).map((s) => marks.get(s.until) ?? Number.NaN), end];
      COLD_STEPS.forEach((_, k) => steps[k]!.push(times[k + 1]! - times[k]!));
    }
  } finally {
    rig.msn.off("command", onCommand);
  }
  // The same cold send without the bridge: the baseline relay opens the switchboard with the
  // protocol client alone, after the same idle pause. What the bridge adds is the difference.
  const baselineCold: number[] = [];
  for (let i = 0; i < opts.coldMessages; i++) {
    await sleep(IDLE_MS);
    const text = `b${nextTag++} cold baseline — ünïcødé ✓`;
    let arrived: (at: number) => void = () => undefined;
    const received = new Promise<number>((resolve) => (arrived = resolve));
    c.contact.onText = (from, got, at) => {
      if (from.toLowerCase() === rig.relayEmail && got === text) arrived(at);
    };
    try {
      const start = performance.now();
      await rig.baselineCold(c.contact.email, text);
      baselineCold.push((await withTimeout(received, 15_000, "baseline cold message never arrived")) - start);
    } finally {
      c.contact.onText = null;
    }
  }

  // Later benchmarks expect the contact's chat to the puppet to be open again.
  const reopened = c.contact.switchboardWith(rig.puppetEmail);
  if (reopened) c.toBridge = reopened;

  return [
    { group, name: "latency, warm switchboard", unit: "ms", summary: summarize(warm), target: "" },
    { group, name: "typing, warm switchboard", unit: "ms", summary: summarize(typing), target: "" },
    {
      group,
      name: `latency, warm after ${IDLE_MS} ms idle`,
      unit: "ms",
      summary: summarize(warmAfterIdle),
      target: "",
    },
    {
      group,
      name: "latency, cold (XFR+USR+CAL+JOI)",
      unit: "ms",
      summary: summarize(cold),
      target: "≤ baseline + small",
    },
    {
      group,
      name: "latency, cold, baseline (protocol client alone)",
      unit: "ms",
      summary: summarize(baselineCold),
      target: "(reference)",
    },
    ...COLD_STEPS.map((step, k) => ({
      group,
      name: `  cold step: ${step.name}`,
      unit: "ms",
      summary: summarize(steps[k]!.filter(Number.isFinite)),
      target: "",
    })),
    { group, name: "MSN NS round trip (CHG)", unit: "ms", summary: summarize(rtts), target: "(reference)" },
    {
      group,
      name: "bridge CPU per message, warm",
      unit: "ms",
      summary: summarize(warmCpu),
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
