/**
 * The benchmark suite as a function: which benchmarks, full or quick. `run.ts` is its command
 * line; the smoke test calls it directly with `quick` to prove the scripts still work.
 */
import { BridgeRig } from "./lib/bridge-rig.js";
import type { Figure } from "./lib/table.js";
import { runContactSync } from "./contact-sync.js";
import { runMatrixToMsn } from "./matrix-to-msn.js";
import { runMsnToMatrix } from "./msn-to-matrix.js";
import { runParserBench } from "./parser.js";
import { runScale } from "./scale.js";

export const BENCHMARKS = ["parser", "msn-to-matrix", "matrix-to-msn", "contact-sync", "scale"] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];

export interface SuiteOptions {
  /** Seconds instead of minutes: proves the scripts work, the figures mean little. */
  quick: boolean;
  only: readonly BenchmarkName[];
  /** Puppet counts of the scale benchmark (default 1,000, 5,000 and 10,000; quick: 50). */
  scalePuppets?: readonly number[];
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
}

export async function runSuite(opts: SuiteOptions): Promise<Figure[]> {
  const q = opts.quick;
  const say = opts.progress ?? ((): void => undefined);
  const figures: Figure[] = [];
  if (opts.only.includes("parser")) {
    say("parser…");
    figures.push(
      ...runParserBench({
        streamBytes: q ? 256 * 1024 : 16 * 1024 * 1024,
        runs: q ? 1 : 9,
        // One TCP segment, a typical socket read, and Node's largest stream read.
        chunkSizes: q ? [1460, 65536] : [1460, 16384, 65536],
      }),
    );
  }
  if (opts.only.includes("scale")) {
    // Its own processes per puppet count: the bridge's memory must not include the rig's portals.
    say("scale…");
    figures.push(
      ...(await runScale({
        puppetCounts: opts.scalePuppets ?? (q ? [50] : [1000, 5000, 10_000]),
        restarts: q ? 1 : 3,
        idleSeconds: q ? 2 : 10,
        probes: q ? 2 : 5,
        warmMessages: q ? 3 : 20,
        progress: say,
      })),
    );
  }
  const needsRig = opts.only.some((name) => name !== "parser" && name !== "scale");
  if (!needsRig) return figures;

  say("starting the MSN test server, stub homeserver, bridge and baseline relay…");
  const rig = await BridgeRig.start(q ? 2 : 4);
  try {
    if (opts.only.includes("msn-to-matrix")) {
      say("MSN→Matrix…");
      figures.push(
        ...(await runMsnToMatrix(rig, {
          latencyMessages: q ? 20 : 500,
          lightRate: 50,
          heavyRate: 500,
          burstPerPortal: q ? 50 : 1000,
          burstPortals: q ? 2 : 4,
          burstRuns: q ? 1 : 3,
        })),
      );
    }
    if (opts.only.includes("matrix-to-msn")) {
      say("Matrix→MSN…");
      figures.push(
        ...(await runMatrixToMsn(rig, {
          warmupMessages: q ? 5 : 300,
          warmMessages: q ? 5 : 1000,
          coldMessages: q ? 2 : 30,
        })),
      );
    }
    if (opts.only.includes("contact-sync")) {
      say("contact sync…");
      figures.push(...(await runContactSync(rig, { contacts: q ? 50 : 1000 })));
    }
    if (rig.homeserver.unmatched.length > 0) {
      say(
        `stub homeserver answered {} to unknown requests: ${[...new Set(rig.homeserver.unmatched)].join(", ")}`,
      );
    }
  } finally {
    await rig.stop();
  }
  return figures;
}
