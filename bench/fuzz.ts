/**
 * `npm run fuzz [-- --inputs N --seed S --budget-ms B]`: feeds N (default one million) generated
 * hostile server streams (bench/lib/msn-fuzz.ts) through the MSNP framing decoder, the MIME
 * classifier and the dialect parsers, and prints inputs/s, crashes, hangs and memory. Exits 1 on
 * any crash (an exception other than a typed MsnError, or a broken invariant: decoder buffer over
 * its limits, a failed decoder accepting more input, a chunking-dependent result), any hang (an
 * input over the time budget) or unbounded memory.
 *
 * The inputs run in a worker thread so the main thread can watch it: a parser stuck in a loop
 * never returns to report itself, but it stops advancing the shared progress counter.
 */
import { parseArgs } from "node:util";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { fileURLToPath } from "node:url";
import {
  STRATEGIES,
  describeInput,
  fuzzSink,
  generateInput,
  reframingMismatch,
  runInput,
  type Strategy,
} from "./lib/msn-fuzz.js";

interface WorkerInput {
  seed: number;
  inputs: number;
  budgetMs: number;
  /** Every n-th input is also decoded in one read and compared (the chunking oracle). */
  reframeEvery: number;
  progress: SharedArrayBuffer;
}

interface WorkerReport {
  inputs: number;
  seconds: number;
  ok: number;
  rejected: number;
  rejectedKinds: Record<string, number>;
  byStrategy: Record<string, number>;
  crashes: number;
  crashSamples: string[];
  slow: number;
  slowSamples: string[];
  slowestMs: number;
  slowestInput: string;
  reframed: number;
  inputBytes: number;
  maxBufferedRatio: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  heapPeakBytes: number;
  gcAvailable: boolean;
  sink: number;
}

const MB = 1024 * 1024;
/** Heap growth over the run (after a full GC) beyond which memory counts as unbounded. */
const HEAP_GROWTH_LIMIT_BYTES = 32 * MB;
/** The worker is killed by V8 beyond this, which the main thread reports as unbounded memory. */
const WORKER_HEAP_LIMIT_MB = 512;
/** The first inputs warm up the JIT and caches; the heap baseline is taken after them. */
const WARMUP_INPUTS = 5_000;

function collectGarbage(): (() => void) | null {
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? () => void (gc as () => void)() : null;
  } catch {
    return null;
  }
}

function fuzzWorker(data: WorkerInput): WorkerReport {
  const progress = new Int32Array(data.progress);
  const gc = collectGarbage();
  const heapNow = (): number => {
    gc?.();
    return getHeapStatistics().used_heap_size;
  };
  const report: WorkerReport = {
    inputs: 0,
    seconds: 0,
    ok: 0,
    rejected: 0,
    rejectedKinds: {},
    byStrategy: Object.fromEntries(STRATEGIES.map((s: Strategy) => [s, 0])),
    crashes: 0,
    crashSamples: [],
    slow: 0,
    slowSamples: [],
    slowestMs: 0,
    slowestInput: "",
    reframed: 0,
    inputBytes: 0,
    maxBufferedRatio: 0,
    heapBeforeBytes: 0,
    heapAfterBytes: 0,
    heapPeakBytes: 0,
    gcAvailable: gc !== null,
    sink: 0,
  };
  let started = performance.now();
  for (let index = 0; index < data.inputs; index++) {
    if (index === WARMUP_INPUTS || (index === 0 && data.inputs <= WARMUP_INPUTS)) {
      report.heapBeforeBytes = heapNow();
      started = performance.now();
    }
    Atomics.store(progress, 0, index);
    const input = generateInput(data.seed, index);
    const result = runInput(input);
    report.inputs++;
    report.inputBytes += input.bytes.length;
    report.byStrategy[input.strategy] = (report.byStrategy[input.strategy] ?? 0) + 1;
    report.maxBufferedRatio = Math.max(report.maxBufferedRatio, result.maxBuffered / result.bufferBound);
    if (result.durationMs > report.slowestMs) {
      report.slowestMs = result.durationMs;
      report.slowestInput = describeInput(data.seed, input);
    }
    if (result.durationMs > data.budgetMs) {
      report.slow++;
      if (report.slowSamples.length < 10) {
        report.slowSamples.push(`${result.durationMs.toFixed(0)} ms: ${describeInput(data.seed, input)}`);
      }
    }
    const verdict = result.verdict;
    if (verdict.kind === "ok") report.ok++;
    else if (verdict.kind === "rejected") {
      report.rejected++;
      const kind = "kind" in verdict.error ? String(verdict.error.kind) : verdict.error.name;
      report.rejectedKinds[kind] = (report.rejectedKinds[kind] ?? 0) + 1;
    } else {
      report.crashes++;
      if (report.crashSamples.length < 10) {
        const error =
          verdict.error instanceof Error
            ? (verdict.error.stack ?? verdict.error.message)
            : String(verdict.error);
        report.crashSamples.push(`${verdict.where}: ${error}\n    ${describeInput(data.seed, input)}`);
      }
    }
    if (data.reframeEvery > 0 && index % data.reframeEvery === 0) {
      report.reframed++;
      const mismatch = reframingMismatch(input);
      if (mismatch !== null) {
        report.crashes++;
        if (report.crashSamples.length < 10) {
          report.crashSamples.push(
            `chunking changed the result: ${mismatch}\n    ${describeInput(data.seed, input)}`,
          );
        }
      }
    }
    if (index % 4096 === 0)
      report.heapPeakBytes = Math.max(report.heapPeakBytes, getHeapStatistics().used_heap_size);
    if (index > 0 && index % 100_000 === 0) parentPort?.postMessage({ type: "progress", index });
  }
  report.seconds = (performance.now() - started) / 1000;
  // Throughput counts only the inputs after the warm-up, which is when the clock restarted.
  report.inputs = data.inputs > WARMUP_INPUTS ? data.inputs - WARMUP_INPUTS : data.inputs;
  report.heapPeakBytes = Math.max(report.heapPeakBytes, getHeapStatistics().used_heap_size);
  report.heapAfterBytes = heapNow();
  report.sink = fuzzSink();
  return report;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      inputs: { type: "string", default: "1000000" },
      seed: { type: "string", default: "1" },
      "budget-ms": { type: "string", default: "1000" },
      "reframe-every": { type: "string", default: "4" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      "usage: npm run fuzz -- [--inputs N] [--seed S] [--budget-ms B] [--reframe-every K]\n",
    );
    return 0;
  }
  const inputs = Number(values.inputs);
  const seed = Number(values.seed);
  const budgetMs = Number(values["budget-ms"]);
  const reframeEvery = Number(values["reframe-every"]);
  if (![inputs, seed, budgetMs, reframeEvery].every((n) => Number.isInteger(n) && n >= 0) || inputs === 0) {
    process.stderr.write("--inputs, --seed, --budget-ms and --reframe-every take non-negative integers\n");
    return 2;
  }
  const progress = new SharedArrayBuffer(4);
  const current = new Int32Array(progress);
  const worker = new Worker(fileURLToPath(import.meta.url), {
    workerData: { seed, inputs, budgetMs, reframeEvery, progress } satisfies WorkerInput,
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_LIMIT_MB },
  });
  process.stderr.write(`# fuzzing ${inputs} inputs, seed ${seed}, per-input budget ${budgetMs} ms\n`);

  let hang: string | null = null;
  let lastIndex = -1;
  let lastChange = performance.now();
  const watchdog = setInterval(() => {
    const index = Atomics.load(current, 0);
    const now = performance.now();
    if (index !== lastIndex) {
      lastIndex = index;
      lastChange = now;
    } else if (now - lastChange > Math.max(budgetMs, 250) * 2) {
      hang = describeInput(seed, generateInput(seed, index));
      void worker.terminate();
    }
  }, 100);

  const outcome = await new Promise<{ report: WorkerReport } | { error: string }>((resolve) => {
    worker.on("message", (message: { type: string; index?: number; report?: WorkerReport }) => {
      if (message.type === "progress") process.stderr.write(`# ${message.index} inputs…\n`);
      else if (message.type === "done" && message.report) resolve({ report: message.report });
    });
    worker.on("error", (error) => resolve({ error: `${error.name}: ${error.message}` }));
    worker.on("exit", (code) =>
      resolve({ error: hang ? `hang: ${hang}` : `worker exited with code ${code}` }),
    );
  });
  clearInterval(watchdog);
  const rssPeakMb = process.resourceUsage().maxRSS / 1024;

  if ("error" in outcome) {
    process.stdout.write(`\nMSN fuzz FAILED: ${outcome.error}\npeak RSS ${rssPeakMb.toFixed(0)} MB\n`);
    return 1;
  }
  const r = outcome.report;
  const heapGrowth = r.heapAfterBytes - r.heapBeforeBytes;
  const memoryBounded = heapGrowth < HEAP_GROWTH_LIMIT_BYTES && r.maxBufferedRatio <= 1;
  const fmtMb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;
  const counts = (record: Record<string, number>): string =>
    Object.entries(record)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
  process.stdout.write(
    [
      "",
      `MSN fuzz: framing + MIME + dialect parsers, seed ${seed}`,
      `inputs            ${inputs} (${r.inputs} timed after ${inputs > WARMUP_INPUTS ? WARMUP_INPUTS : 0} warm-up), ${fmtMb(r.inputBytes)} generated`,
      `throughput        ${Math.round(r.inputs / r.seconds)} inputs/s (${r.seconds.toFixed(1)} s, includes generation)`,
      `outcomes          ${r.ok} decoded, ${r.rejected} rejected with a typed error (${counts(r.rejectedKinds)})`,
      `strategies        ${counts(r.byStrategy)}`,
      `chunking oracle   ${r.reframed} inputs also decoded in one read`,
      `crashes           ${r.crashes}`,
      `hangs             ${r.slow} over ${budgetMs} ms; slowest ${r.slowestMs.toFixed(1)} ms (${r.slowestInput.slice(0, 160)})`,
      `decoder buffer    peak ${(r.maxBufferedRatio * 100).toFixed(1)}% of its bound (max(line+1, payload) limit)`,
      `heap              ${fmtMb(r.heapBeforeBytes)} after warm-up, ${fmtMb(r.heapAfterBytes)} at the end (${heapGrowth >= 0 ? "+" : ""}${fmtMb(heapGrowth)}${r.gcAvailable ? ", after full GC" : ", no forced GC"}), peak ${fmtMb(r.heapPeakBytes)}`,
      `peak RSS          ${rssPeakMb.toFixed(0)} MB (process, worker heap capped at ${WORKER_HEAP_LIMIT_MB} MB)`,
      `memory bounded    ${memoryBounded ? "yes" : "NO"}`,
      ...r.crashSamples.map((s) => `CRASH ${s}`),
      ...r.slowSamples.map((s) => `HANG ${s}`),
      "",
    ].join("\n"),
  );
  return r.crashes === 0 && r.slow === 0 && memoryBounded ? 0 : 1;
}

if (isMainThread) {
  process.exitCode = await main();
} else {
  const report = fuzzWorker(workerData as WorkerInput);
  parentPort?.postMessage({ type: "done", report });
}
