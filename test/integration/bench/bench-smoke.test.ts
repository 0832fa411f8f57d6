/**
 * Proves the benchmark scripts still run (issue 7: "a short variant runs in CI only to prove the
 * scripts work, without asserting times"). It runs the quick variant of every benchmark of the
 * bridge rig — the parser, and MSN→Matrix, Matrix→MSN and contact sync through the real bridge
 * process against the stub homeserver — and checks that each produced figures (the scale
 * benchmark has its own smoke test). Timing is never asserted: this machine's load decides that.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { runSuite } from "../../../bench/suite.js";
import { renderTable } from "../../../bench/lib/table.js";

describe("benchmark scripts (quick variant)", { timeout: 120_000 }, () => {
  test("parser, MSN→Matrix, Matrix→MSN and contact sync produce a figure for everything they measure", async () => {
    const figures = await runSuite({
      quick: true,
      only: ["parser", "msn-to-matrix", "matrix-to-msn", "contact-sync"],
    });
    const names = figures.map((f) => `${f.group}: ${f.name}`);
    for (const expected of [
      /^parser: framing\+MIME/,
      /^MSN→Matrix: bridge latency, light/,
      /^MSN→Matrix: bridge latency, heavy/,
      /^MSN→Matrix: baseline latency, heavy/,
      /^MSN→Matrix: bridge throughput/,
      /^MSN→Matrix: bridge\/baseline throughput/,
      /^MSN→Matrix: bridge CPU per message/,
      /^Matrix→MSN: latency, warm switchboard/,
      /^Matrix→MSN: latency, cold \(/,
      /^Matrix→MSN: latency, cold, baseline/,
      /^Matrix→MSN: typing, warm switchboard/,
      /^Matrix→MSN: bridge CPU per message, warm/,
      /^contact sync: \d+ online contacts: login → all names\+presence/,
      /^contact sync: homeserver requests for the unchanged re-sync/,
    ]) {
      assert.ok(
        names.some((n) => expected.test(n)),
        `no figure matching ${expected}; got ${names.join("; ")}`,
      );
    }
    for (const f of figures) {
      assert.ok(f.summary.n > 0, `${f.name}: no samples`);
      assert.ok(Number.isFinite(f.summary.p50), `${f.name}: p50 is ${f.summary.p50}`);
      // Latencies, rates and CPU times are never negative; only the overhead difference may be.
      if (!f.name.includes("overhead")) assert.ok(f.summary.min >= 0, `${f.name}: min ${f.summary.min}`);
    }
    const table = renderTable(figures);
    assert.equal(table.split("\n").length, figures.length + 2, "one table row per figure");
  });
});
