import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeParam, encodeParam } from "../../../src/msnp/encoding.js";
import { MsnArgumentError } from "../../../src/msnp/errors.js";

describe("encodeParam", () => {
  test("escapes %, space and non-ASCII as UTF-8 bytes (msnp.md §5.4 example)", () => {
    assert.equal(encodeParam("Älice 100%"), "%C3%84lice%20100%25");
  });

  test("escapes control characters including CR, LF, TAB, NUL and DEL", () => {
    assert.equal(encodeParam("a\r\nb\tc\u0000d\u007f"), "a%0D%0Ab%09c%00d%7F");
  });

  test("leaves other printable ASCII alone", () => {
    assert.equal(encodeParam("Bob_B-(1)!~*'"), "Bob_B-(1)!~*'");
  });

  test("result is pure printable ASCII without spaces", () => {
    const encoded = encodeParam("日本語 👋 ünï\r\n%");
    assert.match(encoded, /^[\x21-\x7e]+$/);
  });

  test("extra characters can be escaped on request", () => {
    assert.equal(encodeParam("Font;Name=x", ";="), "Font%3BName%3Dx");
  });

  test("rejects lone surrogates", () => {
    assert.throws(() => encodeParam("a\ud800b"), MsnArgumentError);
  });
});

describe("decodeParam", () => {
  test("decodes what encodeParam produced (round trips)", () => {
    for (const value of ["Älice 100%", "日本語 👋", "a\r\nb", "%41 literal", "", "100%%", "x%2"]) {
      assert.equal(decodeParam(encodeParam(value)), value);
    }
  });

  test("accepts raw UTF-8 mixed with %XX, as Escargot sends it", () => {
    assert.equal(decodeParam("Älice%20100%25"), "Älice 100%");
  });

  test("lower-case hex digits", () => {
    assert.equal(decodeParam("%c3%a4"), "ä");
  });

  test("malformed sequences are kept literally", () => {
    assert.equal(decodeParam("100%"), "100%");
    assert.equal(decodeParam("%ZZtop"), "%ZZtop");
    assert.equal(decodeParam("a%2"), "a%2");
    assert.equal(decodeParam("%%41"), "%A");
  });

  test("escaped bytes that are not valid UTF-8 are kept as their %XX text", () => {
    assert.equal(decodeParam("%FF%41"), "%FFA");
    assert.equal(decodeParam("%C3"), "%C3"); // truncated sequence
    assert.equal(decodeParam("%C3%28"), "%C3("); // bad continuation
    assert.equal(decodeParam("%ED%A0%80"), "%ED%A0%80"); // encoded surrogate
    assert.equal(decodeParam("%C0%AF"), "%C0%AF"); // overlong
    assert.equal(decodeParam("%E6%97%A5%FF"), "日%FF");
  });

  test("four-byte sequences, and the limits of UTF-8, escaped", () => {
    assert.equal(decodeParam("a%F0%9F%98%80b"), "a😀b");
    assert.equal(decodeParam("%F4%8F%BF%BF"), "\u{10FFFF}");
    assert.equal(decodeParam("%F4%90%80%80"), "%F4%90%80%80"); // beyond U+10FFFF
    assert.equal(decodeParam("%E0%80%80"), "%E0%80%80"); // overlong
    assert.equal(decodeParam("%F0%9F%98"), "%F0%9F%98"); // cut short
    assert.equal(decodeParam("%F0%9F%98x%80"), "%F0%9F%98x%80"); // interrupted
  });

  test("a long run of escapes decodes in linear time", () => {
    const started = performance.now();
    assert.equal(decodeParam("%E2%99%A5".repeat(100_000)), "♥".repeat(100_000));
    assert.equal(decodeParam("%".repeat(300_000)), "%".repeat(300_000));
    assert.ok(performance.now() - started < 2000);
  });

  test("never throws on arbitrary input", () => {
    let seed = 42;
    const alphabet = "%%%0123456789ABCDEFabcdefZ Ä日\ud83d\udc4b";
    for (let i = 0; i < 2000; i += 1) {
      let value = "";
      for (let j = 0; j < 12; j += 1) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        value += alphabet[seed % alphabet.length];
      }
      assert.equal(typeof decodeParam(value), "string");
    }
  });
});
