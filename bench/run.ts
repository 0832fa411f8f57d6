/**
 * `npm run bench [-- --quick] [-- --only parser,msn-to-matrix,matrix-to-msn,contact-sync,scale]
 * [-- --puppets 1000,5000,10000]`: runs the benchmarks
 * on loopback and prints one table. `--quick` (or BENCH_QUICK=1) runs a few-second variant that
 * only proves the scripts work.
 */
import { parseArgs } from "node:util";
import { cpus, loadavg } from "node:os";
import { BENCHMARKS, runSuite, type BenchmarkName } from "./suite.js";
import { renderTable } from "./lib/table.js";

function isBenchmark(name: string): name is BenchmarkName {
  return (BENCHMARKS as readonly string[]).includes(name);
}

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    puppets: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(
    `usage: npm run bench -- [--quick] [--only ${BENCHMARKS.join(",")}] [--puppets 1000,5000,10000]\n`,
  );
  process.exit(0);
}
const only = values.only ? values.only.split(",").map((s) => s.trim()) : [...BENCHMARKS];
const unknown = only.filter((name) => !isBenchmark(name));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(", ")}; known: ${BENCHMARKS.join(", ")}\n`);
  process.exit(2);
}
const quick = values.quick || process.env.BENCH_QUICK === "1";
const scalePuppets = values.puppets?.split(",").map((s) => Number(s.trim()));
if (scalePuppets?.some((k) => !Number.isInteger(k) || k < 1 || k > 20_000)) {
  process.stderr.write(`--puppets takes counts from 1 to 20000, e.g. 1000,5000,10000\n`);
  process.exit(2);
}
const started = Date.now();
// Other work on the machine stretches every wall-clock figure; the report says how much there was.
const loadBefore = loadavg()[0]!;
const figures = await runSuite({
  quick,
  only: only.filter(isBenchmark),
  ...(scalePuppets ? { scalePuppets } : {}),
  progress: (line) => process.stderr.write(`# ${line}\n`),
});
const cpu = cpus()[0]?.model ?? "unknown CPU";
process.stdout.write(
  `\nmatrix-appservice-msn benchmarks${quick ? " (QUICK: proves the scripts run; figures are not meaningful)" : ""}\n` +
    `node ${process.version}, ${cpus().length} × ${cpu}, loopback, stub homeserver\n\n` +
    `${renderTable(figures)}\n\n` +
    `wall time ${((Date.now() - started) / 1000).toFixed(1)} s; 1-minute load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after (${cpus().length} cores)\n`,
);
