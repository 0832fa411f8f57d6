/**
 * A bounded slice of the MSN fuzz campaign (`npm run fuzz` runs a million inputs): hostile server
 * streams through the framing decoder, the MIME classifier and the dialect parsers. Every input is
 * named by (seed, index), so a failure here replays with `generateInput(seed, index)`.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  STRATEGIES,
  describeInput,
  generateInput,
  reframingMismatch,
  runInput,
  type Strategy,
} from "../../../bench/lib/msn-fuzz.js";
import { CommandDecoder } from "../../../src/msnp/framing.js";
import { FramingError, MsnError } from "../../../src/msnp/errors.js";

const SEED = 20_260_525;
const INPUTS = 20_000;
/** Far above any input's real cost (tens of ms at worst); only a runaway loop exceeds it. */
const BUDGET_MS = 500;

describe("MSN fuzz (bounded subset)", () => {
  test("the generator is deterministic per (seed, index) and covers every strategy", () => {
    const a = generateInput(SEED, 1234);
    const b = generateInput(SEED, 1234);
    assert.deepEqual(b.bytes, a.bytes);
    assert.deepEqual(b.chunks, a.chunks);
    assert.equal(b.strategy, a.strategy);
    assert.notDeepEqual(generateInput(SEED + 1, 1234).bytes, a.bytes);
    const seen = new Set<Strategy>();
    for (let index = 0; index < 3000; index++) {
      const input = generateInput(SEED, index);
      seen.add(input.strategy);
      assert.equal(
        input.chunks.reduce((sum, size) => sum + size, 0),
        input.bytes.length,
        "read sizes add up to the stream",
      );
    }
    assert.deepEqual([...seen].sort(), [...STRATEGIES].sort());
  });

  test(`${INPUTS} hostile streams: typed errors only, bounded buffer, no slow input`, () => {
    const failures: string[] = [];
    const rejectedKinds = new Map<string, number>();
    let decoded = 0;
    for (let index = 0; index < INPUTS && failures.length < 5; index++) {
      const input = generateInput(SEED, index);
      const result = runInput(input);
      const { verdict } = result;
      if (verdict.kind === "crash") {
        const error = verdict.error instanceof Error ? verdict.error.stack : String(verdict.error);
        failures.push(`${verdict.where}: ${error}\n  ${describeInput(SEED, input)}`);
      } else if (verdict.kind === "rejected") {
        assert.ok(verdict.error instanceof MsnError);
        const kind = verdict.error instanceof FramingError ? verdict.error.kind : verdict.error.name;
        rejectedKinds.set(kind, (rejectedKinds.get(kind) ?? 0) + 1);
      } else {
        decoded++;
      }
      if (result.maxBuffered > result.bufferBound) {
        failures.push(
          `buffered ${result.maxBuffered} > ${result.bufferBound}: ${describeInput(SEED, input)}`,
        );
      }
      if (result.durationMs > BUDGET_MS) {
        failures.push(`took ${result.durationMs.toFixed(0)} ms: ${describeInput(SEED, input)}`);
      }
      if (index % 5 === 0) {
        const mismatch = reframingMismatch(input);
        if (mismatch)
          failures.push(`chunking changed the result: ${mismatch}\n  ${describeInput(SEED, input)}`);
      }
    }
    assert.deepEqual(failures, []);
    // The mix must exercise both sides: streams that parse and every way of refusing one.
    assert.ok(decoded > INPUTS / 10, `only ${decoded} inputs decoded cleanly`);
    for (const kind of [
      "line-too-long",
      "payload-too-large",
      "bad-length",
      "invalid-utf8",
      "malformed-line",
    ]) {
      assert.ok((rejectedKinds.get(kind) ?? 0) > 0, `no input was rejected as ${kind}`);
    }
  });

  test("inputs that once found bugs replay within the budget", () => {
    // (seed, index) of inputs that exposed a bug in a full run (see the fixing commits). A change to
    // the generator changes what an index means: re-find them then (strategy, version, size).
    const findings: Array<{ seed: number; index: number; version: string; what: string; shape: RegExp }> = [
      {
        seed: 1,
        index: 32_766,
        version: "MSNP12",
        what: "UBX of 1 MiB unclosed <PSM> (lazy regex, ~30 s)",
        shape: /^UBX bob@example\.com 10\d{5}\r\n<PSM><PSM>/,
      },
    ];
    for (const { seed, index, version, what, shape } of findings) {
      const input = generateInput(seed, index);
      assert.equal(input.version, version, `${what}: still the same input`);
      assert.match(input.bytes.subarray(0, 40).toString("latin1"), shape, `${what}: still the same input`);
      const result = runInput(input);
      assert.notEqual(result.verdict.kind, "crash", what);
      assert.ok(result.durationMs < BUDGET_MS, `${what}: took ${result.durationMs.toFixed(0)} ms`);
    }
  });

  test("a framing error leaves the decoder failed and empty, whatever was pending", () => {
    // A partial line, then a payload command whose body is half there, then garbage.
    for (const stream of [
      ["NLN NLN a@b", "c\r\nMSG a b 10\r\n12345", "67890\r\nbad line\r\n"],
      ["MSG a b 5\r\nab", "cde\u00ff\r\n"],
      ["QNG 1\r\nMSG a b -1\r\n"],
    ]) {
      const decoder = new CommandDecoder({ maxLineBytes: 64, maxPayloadBytes: 64 });
      let thrown: unknown = null;
      for (const chunk of stream) {
        try {
          decoder.push(Buffer.from(chunk, "latin1"));
        } catch (error) {
          thrown = error;
          break;
        }
      }
      assert.ok(thrown instanceof FramingError, `stream ${JSON.stringify(stream)} was refused`);
      assert.equal(decoder.bufferedBytes, 0);
      assert.throws(
        () => decoder.push(Buffer.from("QNG 1\r\n")),
        (error: unknown) => error instanceof FramingError && error.kind === "decoder-failed",
      );
    }
  });
});
