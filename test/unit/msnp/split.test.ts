import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MAX_MSG_PAYLOAD_BYTES, splitMessageText, splitUtf8 } from "../../../src/msnp/split.js";
import { buildTextMessage } from "../../../src/msnp/mime.js";
import { MsnArgumentError } from "../../../src/msnp/errors.js";
import { isUtf8 } from "node:buffer";

const FORMAT = { font: "Segoe UI", bold: true, color: "#ff0000" };

function assertChunksValid(text: string, chunks: string[], format?: typeof FORMAT): void {
  assert.equal(
    chunks.join(""),
    text.replace(/\r\n|\r|\n/g, "\r\n"),
    "concatenation equals the (CRLF-normalised) input",
  );
  for (const chunk of chunks) {
    const payload = buildTextMessage(chunk, format);
    assert.ok(payload.length <= MAX_MSG_PAYLOAD_BYTES, `payload of ${payload.length} bytes`);
    assert.ok(isUtf8(Buffer.from(chunk, "utf8")));
    assert.ok(!/[\ud800-\udbff]$/.test(chunk), "chunk ends with a high surrogate");
    assert.ok(!/^[\udc00-\udfff]/.test(chunk), "chunk starts with a low surrogate");
    assert.ok(!chunk.startsWith("\n"), "CRLF was cut in half");
  }
}

describe("splitMessageText", () => {
  test("short text is one chunk", () => {
    assert.deepEqual(splitMessageText("hello"), ["hello"]);
    assert.deepEqual(splitMessageText(""), []);
  });

  test("exactly at the limit is one chunk; one byte more is two", () => {
    const headerBytes = buildTextMessage("").length;
    const fits = "a".repeat(MAX_MSG_PAYLOAD_BYTES - headerBytes);
    assert.equal(splitMessageText(fits).length, 1);
    assert.equal(buildTextMessage(fits).length, MAX_MSG_PAYLOAD_BYTES);
    assert.equal(splitMessageText(`${fits}a`).length, 2);
  });

  test("the format header is accounted for", () => {
    const headerBytes = buildTextMessage("", FORMAT).length;
    const fits = "a".repeat(MAX_MSG_PAYLOAD_BYTES - headerBytes);
    assert.equal(splitMessageText(fits, { format: FORMAT }).length, 1);
    assert.equal(splitMessageText(`${fits}a`, { format: FORMAT }).length, 2);
  });

  test("5,000 ASCII characters with words split at spaces", () => {
    const text = Array.from({ length: 1000 }, (_, i) => `w${i % 10}xyz`)
      .join(" ")
      .slice(0, 5000);
    const chunks = splitMessageText(text);
    assertChunksValid(text, chunks);
    for (const chunk of chunks.slice(0, -1)) assert.ok(chunk.endsWith(" "), "breaks after a space");
  });

  test("prefers line breaks over spaces", () => {
    const line = `${"word ".repeat(100)}\n`;
    const text = line.repeat(10);
    const chunks = splitMessageText(text);
    assertChunksValid(text, chunks);
    for (const chunk of chunks.slice(0, -1)) assert.ok(chunk.endsWith("\r\n"));
  });

  test("multibyte text with no spaces never cuts a character", () => {
    const text = "日本語テキスト".repeat(600);
    const chunks = splitMessageText(text);
    assert.ok(chunks.length > 1);
    assertChunksValid(text, chunks);
  });

  test("emoji at every possible boundary offset", () => {
    const headerBytes = buildTextMessage("").length;
    const budget = MAX_MSG_PAYLOAD_BYTES - headerBytes;
    for (let pad = 0; pad < 8; pad += 1) {
      const text = `${"a".repeat(budget - 4 + pad)}👋👋👋${"b".repeat(10)}`;
      const chunks = splitMessageText(text);
      assertChunksValid(text, chunks);
    }
  });

  test("composed emoji (ZWJ family, skin tones, flags) are not torn apart", () => {
    const family = "👨‍👩‍👧‍👦";
    const text = `${"x".repeat(1500)}${`${family}👍🏽🇫🇷`.repeat(20)}`;
    const chunks = splitMessageText(text);
    assertChunksValid(text, chunks);
    const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
    const graphemes = (s: string): string[] => [...segmenter.segment(s)].map((g) => g.segment);
    assert.deepEqual(chunks.flatMap(graphemes), graphemes(text));
  });

  test("a single absurdly long grapheme falls back to code points", () => {
    const text = `a${"\u0301".repeat(2000)}`;
    const chunks = splitMessageText(text);
    assert.ok(chunks.length > 1);
    assertChunksValid(text, chunks);
  });

  test("CRLF is never split and bare LF/CR become CRLF", () => {
    const headerBytes = buildTextMessage("").length;
    const budget = MAX_MSG_PAYLOAD_BYTES - headerBytes;
    const text = `${"a".repeat(budget - 1)}\nb\rc`;
    const chunks = splitMessageText(text);
    assertChunksValid(text, chunks);
    assert.equal(chunks.join(""), `${"a".repeat(budget - 1)}\r\nb\r\nc`);
  });

  test("refuses headers that leave no room for text", () => {
    assert.throws(() => splitMessageText("x", { format: { font: "F".repeat(1700) } }), MsnArgumentError);
  });
});

describe("splitUtf8", () => {
  test("every piece within the byte budget, concatenation equals input", () => {
    const text = "ä€😀x ".repeat(500);
    for (const budget of [4, 5, 7, 64, 100, 999]) {
      const pieces = splitUtf8(text, budget);
      assert.equal(pieces.join(""), text);
      for (const piece of pieces) assert.ok(Buffer.byteLength(piece) <= budget, `budget ${budget}`);
    }
  });
});
