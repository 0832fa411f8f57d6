import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CommandDecoder, encodeCommand, type MsnCommand } from "../../../src/msnp/framing.js";
import { FramingError, MsnArgumentError } from "../../../src/msnp/errors.js";

function decodeAll(decoder: CommandDecoder, ...chunks: Array<Buffer | string>): MsnCommand[] {
  return chunks.flatMap((chunk) =>
    decoder.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk),
  );
}

function assertFraming(fn: () => unknown, kind: FramingError["kind"]): void {
  assert.throws(fn, (error: unknown) => error instanceof FramingError && error.kind === kind);
}

// A payload whose byte length differs from its character length (msnp.md §12 trap 1).
const MULTIBYTE_BODY =
  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHällo — 日本語 ✓ 👋";
const MULTIBYTE_BYTES = Buffer.byteLength(MULTIBYTE_BODY, "utf8");
const STREAM = Buffer.concat([
  Buffer.from("JOI bob@example.com Bob%20B\r\n"),
  Buffer.from(`MSG bob@example.com Bob%20B ${MULTIBYTE_BYTES}\r\n`),
  Buffer.from(MULTIBYTE_BODY, "utf8"),
  Buffer.from("ADL 5 OK\r\nUUX 7 0\r\nNOT 0\r\nBYE bob@example.com\r\n"),
]);

describe("CommandDecoder", () => {
  test("parses a line into name and arguments", () => {
    const [command] = decodeAll(new CommandDecoder(), "CAL 2 RINGING 091cb0006d6b88a43660e6af1f0cc72\r\n");
    assert.deepEqual(command, {
      name: "CAL",
      args: ["2", "RINGING", "091cb0006d6b88a43660e6af1f0cc72"],
      payload: null,
    });
  });

  test("several commands in one chunk, payload length counted in bytes, not characters", () => {
    assert.notEqual(MULTIBYTE_BYTES, MULTIBYTE_BODY.length);
    const commands = decodeAll(new CommandDecoder(), STREAM);
    assert.deepEqual(
      commands.map((c) => c.name),
      ["JOI", "MSG", "ADL", "UUX", "NOT", "BYE"],
    );
    const msg = commands[1];
    assert.deepEqual(msg?.args, ["bob@example.com", "Bob%20B"]);
    assert.equal(msg?.payload?.toString("utf8"), MULTIBYTE_BODY);
    // `ADL 5 OK` has no numeric last token; `UUX 7 0` is not a server payload command.
    assert.deepEqual(commands[2], { name: "ADL", args: ["5", "OK"], payload: null });
    assert.deepEqual(commands[3], { name: "UUX", args: ["7", "0"], payload: null });
    assert.deepEqual(commands[4], { name: "NOT", args: [], payload: Buffer.alloc(0) });
    assert.deepEqual(commands[5]?.args, ["bob@example.com"]);
  });

  test("the same stream split at every byte boundary decodes identically", () => {
    const expected = decodeAll(new CommandDecoder(), STREAM);
    for (let cut = 1; cut < STREAM.length; cut += 1) {
      const decoder = new CommandDecoder();
      const got = decodeAll(decoder, STREAM.subarray(0, cut), STREAM.subarray(cut));
      assert.deepEqual(got, expected, `split at byte ${cut}`);
      assert.equal(decoder.bufferedBytes, 0);
    }
  });

  test("one byte per read decodes identically", () => {
    const decoder = new CommandDecoder();
    const got: MsnCommand[] = [];
    for (const byte of STREAM) got.push(...decoder.push(Buffer.from([byte])));
    assert.deepEqual(got, decodeAll(new CommandDecoder(), STREAM));
  });

  test("payload spanning three reads is delivered once complete", () => {
    const decoder = new CommandDecoder();
    assert.deepEqual(decoder.push(Buffer.from("MSG Hotmail Hotmail 10\r\n0123")), []);
    assert.deepEqual(decoder.push(Buffer.from("456")), []);
    const [command] = decoder.push(Buffer.from("789QNG\r\n"));
    assert.equal(command?.payload?.toString(), "0123456789");
  });

  test("ADL/RML with a numeric last token do carry a payload", () => {
    const [adl, rml] = decodeAll(new CommandDecoder(), "ADL 0 5\r\n<ml/>RML 0 3\r\nabc");
    assert.equal(adl?.payload?.toString(), "<ml/>");
    assert.deepEqual(adl?.args, ["0"]);
    assert.equal(rml?.payload?.toString(), "abc");
  });

  test("bare LF terminators and blank lines are tolerated; empty trailing fields kept", () => {
    const commands = decodeAll(new CommandDecoder(), "QNG\n\r\nLST N=a@b.c F=A C=1 19 \r\n");
    assert.deepEqual(commands[0], { name: "QNG", args: [], payload: null });
    assert.deepEqual(commands[1]?.args, ["N=a@b.c", "F=A", "C=1", "19", ""]);
  });

  test("numeric error replies parse as a command named by the code", () => {
    assert.deepEqual(decodeAll(new CommandDecoder(), "217 4\r\n"), [
      { name: "217", args: ["4"], payload: null },
    ]);
  });

  describe("reads split anywhere", () => {
    test("CR and LF in different reads, for every line of a stream", () => {
      const text = "QNG 50\r\nCHL 0 29409134351025259292\r\nFLN bob@example.com\r\n";
      const decoder = new CommandDecoder();
      const got: MsnCommand[] = [];
      // Each read ends right after a CR, so every LF opens the next read.
      for (const piece of text.split(/(?<=\r)/)) got.push(...decoder.push(Buffer.from(piece)));
      assert.deepEqual(
        got.map((c) => `${c.name} ${c.args.join(" ")}`),
        ["QNG 50", "CHL 0 29409134351025259292", "FLN bob@example.com"],
      );
      assert.equal(decoder.bufferedBytes, 0);
    });

    test("a payload split into three reads at every pair of offsets decodes identically", () => {
      const payload = Buffer.from(MULTIBYTE_BODY, "utf8");
      const stream = Buffer.concat([
        Buffer.from(`MSG bob@example.com Bob ${payload.length}\r\n`),
        payload,
        Buffer.from("QNG 5\r\n"),
      ]);
      const payloadStart = stream.length - payload.length - "QNG 5\r\n".length;
      for (let a = payloadStart - 2; a < stream.length; a += 1) {
        for (let b = a; b <= stream.length; b += 7) {
          const decoder = new CommandDecoder();
          const got = decodeAll(decoder, stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b));
          assert.deepEqual(
            got.map((c) => c.name),
            ["MSG", "QNG"],
            `cuts at ${a}, ${b}`,
          );
          assert.deepEqual(got[0]?.payload, payload, `cuts at ${a}, ${b}`);
        }
      }
    });

    test("many commands in one read, each with its own payload", () => {
      const parts: Buffer[] = [];
      for (let i = 0; i < 2000; i += 1) {
        const body = Buffer.from(`Content-Type: text/plain\r\n\r\nmessage ${i} ✓`);
        parts.push(
          Buffer.from(
            `NLN NLN c${i}@example.com Name%20${i} 0\r\nMSG c${i}@example.com N ${body.length}\r\n`,
          ),
        );
        parts.push(body);
      }
      const commands = new CommandDecoder().push(Buffer.concat(parts));
      assert.equal(commands.length, 4000);
      assert.deepEqual(commands[3998]?.args, ["NLN", "c1999@example.com", "Name%201999", "0"]);
      assert.equal(commands[3999]?.payload?.toString().endsWith("message 1999 ✓"), true);
    });

    test("a payload is a copy: reusing the read buffer afterwards does not change it", () => {
      const read = Buffer.from("MSG a b 5\r\nhello");
      const [command] = new CommandDecoder().push(read);
      read.fill(0x78);
      assert.equal(command?.payload?.toString(), "hello");
    });

    test("a short line after a longer split one sees none of the longer line's bytes", () => {
      // Both lines pass through the partial-line buffer; the second is shorter than three bytes,
      // so a name check reading past its end would find the first line's leftovers ("G 5…").
      const decoder = new CommandDecoder();
      assert.deepEqual(decodeAll(decoder, "QNG 5", "0\r\n").length, 1);
      assertFraming(() => decodeAll(decoder, "AB", "\n"), "malformed-line");
    });

    test("a large payload trickled in tiny reads holds only what arrived and completes in linear time", () => {
      const size = 1024 * 1024;
      const decoder = new CommandDecoder();
      assert.deepEqual(decoder.push(Buffer.from(`MSG Hotmail Hotmail ${size}\r\n`)), []);
      assert.deepEqual(decoder.push(Buffer.alloc(10, 0x61)), []);
      // The announced megabyte is not reserved up front.
      assert.equal(decoder.bufferedBytes, 10);
      const body = Buffer.alloc(size - 10);
      for (let i = 0; i < body.length; i += 1) body[i] = i % 251;
      const started = performance.now();
      const got: MsnCommand[] = [];
      for (let i = 0; i < body.length; i += 5) got.push(...decoder.push(body.subarray(i, i + 5)));
      const elapsed = performance.now() - started;
      assert.equal(got.length, 1);
      assert.deepEqual(got[0]?.payload, Buffer.concat([Buffer.alloc(10, 0x61), body]));
      assert.equal(decoder.bufferedBytes, 0);
      assert.ok(elapsed < 3000, `took ${elapsed.toFixed(0)} ms`);
    });

    test("valid UTF-8 that spells U+FFFD is accepted; a lone continuation byte is not", () => {
      const [command] = new CommandDecoder().push(Buffer.from("REA 1 a@b.c x\uFFFDy\r\n", "utf8"));
      assert.deepEqual(command?.args, ["1", "a@b.c", "x\uFFFDy"]);
      assertFraming(
        () =>
          new CommandDecoder().push(
            Buffer.concat([Buffer.from("REA 1 a@b.c x"), Buffer.from([0x80, 0x0d, 0x0a])]),
          ),
        "invalid-utf8",
      );
    });
  });

  describe("bad input", () => {
    test("negative length on MSG", () => {
      assertFraming(() => decodeAll(new CommandDecoder(), "MSG a b -5\r\n"), "bad-length");
    });

    test("non-numeric length on MSG", () => {
      assertFraming(() => decodeAll(new CommandDecoder(), "MSG a b x12\r\n"), "bad-length");
    });

    test("MSG without any argument", () => {
      assertFraming(() => decodeAll(new CommandDecoder(), "MSG\r\n"), "bad-length");
    });

    test("huge length is rejected before any payload is buffered", () => {
      const decoder = new CommandDecoder({ maxPayloadBytes: 1024 });
      assertFraming(() => decoder.push(Buffer.from("MSG a b 1025\r\n")), "payload-too-large");
      assertFraming(
        () => new CommandDecoder().push(Buffer.from("MSG a b 99999999999999999999999\r\n")),
        "payload-too-large",
      );
      assertFraming(
        () => new CommandDecoder().push(Buffer.from(`MSG a b ${"9".repeat(400)}\r\n`)),
        "payload-too-large",
      );
    });

    test("payload exactly at the limit is accepted", () => {
      const decoder = new CommandDecoder({ maxPayloadBytes: 4 });
      assert.equal(decoder.push(Buffer.from("MSG a b 0004\r\nabcd"))[0]?.payload?.toString(), "abcd");
    });

    test("endless line without terminator is bounded", () => {
      const decoder = new CommandDecoder({ maxLineBytes: 64 });
      assert.deepEqual(decoder.push(Buffer.alloc(60, 0x41)), []);
      assertFraming(() => decoder.push(Buffer.alloc(10, 0x41)), "line-too-long");
      // Once failed, the decoder stays failed and holds nothing.
      assert.equal(decoder.bufferedBytes, 0);
      assertFraming(() => decoder.push(Buffer.from("QNG\r\n")), "decoder-failed");
    });

    test("endless line fed in tiny chunks never grows past the bound", () => {
      const decoder = new CommandDecoder({ maxLineBytes: 1000 });
      let thrown: unknown = null;
      for (let i = 0; i < 10_000 && thrown === null; i += 1) {
        try {
          decoder.push(Buffer.from("xx"));
        } catch (error) {
          thrown = error;
        }
        assert.ok(decoder.bufferedBytes <= 1002);
      }
      assert.ok(thrown instanceof FramingError && thrown.kind === "line-too-long");
    });

    test("a long line trickled in one byte per read is joined once, not once per read", () => {
      // Regression: the decoder re-concatenated the partial line on every read, O(n²) in the
      // line length: a 128 KiB line sent one byte per segment cost 4–6 s of CPU. Joined once, it
      // takes a few hundred ms even on a loaded machine.
      const size = 128 * 1024;
      const line = Buffer.alloc(size + 2, 0x41);
      line.write("NLN NLN bob@example.com ");
      line.write("\r\n", size);
      const decoder = new CommandDecoder({ maxLineBytes: size });
      const started = performance.now();
      const commands: MsnCommand[] = [];
      for (let i = 0; i < line.length; i += 1) {
        commands.push(...decoder.push(line.subarray(i, i + 1)));
        if (i % 4096 === 0) assert.equal(decoder.bufferedBytes, i + 1);
      }
      const elapsed = performance.now() - started;
      assert.equal(commands.length, 1);
      assert.equal(commands[0]?.args[2]?.length, size - "NLN NLN bob@example.com ".length);
      assert.equal(decoder.bufferedBytes, 0);
      assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
    });

    test("default line limit is 16 KiB", () => {
      const decoder = new CommandDecoder();
      assertFraming(() => decoder.push(Buffer.alloc(16 * 1024 + 10, 0x41)), "line-too-long");
    });

    test("invalid UTF-8 in a line", () => {
      const line = Buffer.concat([
        Buffer.from("NLN NLN bob@example.com B"),
        Buffer.from([0xff, 0xfe]),
        Buffer.from("\r\n"),
      ]);
      assertFraming(() => new CommandDecoder().push(line), "invalid-utf8");
    });

    test("invalid UTF-8 inside a payload is not a framing error (payloads are bytes)", () => {
      const payload = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
      const [command] = new CommandDecoder().push(Buffer.concat([Buffer.from("MSG a b 4\r\n"), payload]));
      assert.deepEqual(command?.payload, payload);
    });

    test("malformed command names", () => {
      assertFraming(() => new CommandDecoder().push(Buffer.from("hello world\r\n")), "malformed-line");
      assertFraming(() => new CommandDecoder().push(Buffer.from(" QNG\r\n")), "malformed-line");
      assertFraming(() => new CommandDecoder().push(Buffer.from("QNGX 1\r\n")), "malformed-line");
    });

    test("unknown but well-formed commands are passed on", () => {
      assert.deepEqual(new CommandDecoder().push(Buffer.from("FOO 1 bar\r\n")), [
        { name: "FOO", args: ["1", "bar"], payload: null },
      ]);
    });
  });
});

describe("encodeCommand", () => {
  test("line with TrID", () => {
    assert.equal(encodeCommand("CAL", 2, ["bob@example.com"]).toString(), "CAL 2 bob@example.com\r\n");
  });

  test("no TrID for PNG/OUT", () => {
    assert.equal(encodeCommand("PNG", null, []).toString(), "PNG\r\n");
    assert.equal(encodeCommand("OUT", null, []).toString(), "OUT\r\n");
  });

  test("payload length is the UTF-8 byte count and the payload follows the CRLF directly", () => {
    const body = "ünïcødé ✓ 日本語 👋";
    const bytes = encodeCommand("MSG", 3, ["N"], body);
    const expected = Buffer.concat([
      Buffer.from(`MSG 3 N ${Buffer.byteLength(body)}\r\n`),
      Buffer.from(body),
    ]);
    assert.deepEqual(bytes, expected);
    assert.notEqual(Buffer.byteLength(body), body.length);
  });

  test("binary payloads are sent as is", () => {
    const payload = Buffer.from([0, 1, 2, 255]);
    assert.deepEqual(encodeCommand("QRY", 9, ["msmsgs@msnmsgr.com"], payload).subarray(-4), payload);
  });

  test("encoded output decodes back to the same command", () => {
    const decoder = new CommandDecoder({ payloadCommands: new Set(["MSG"]) });
    const [command] = decoder.push(encodeCommand("MSG", 7, ["A"], "x✓"));
    assert.deepEqual(command, { name: "MSG", args: ["7", "A"], payload: Buffer.from("x✓") });
  });

  for (const [label, arg] of [
    ["CR", "a\rb"],
    ["LF", "a\nb"],
    ["CRLF injection", "x\r\nOUT"],
    ["space", "a b"],
    ["NUL", "a\u0000b"],
    ["tab", "a\tb"],
    ["DEL", "a\u007fb"],
    ["C1 control", "a\u0085b"],
    ["lone high surrogate", "a\ud83d"],
    ["lone low surrogate", "\udc4bz"],
    ["empty", ""],
  ] as const) {
    test(`rejects an argument with ${label}`, () => {
      assert.throws(() => encodeCommand("REA", 1, ["a@b.c", arg]), MsnArgumentError);
    });
  }

  test("accepts raw non-ASCII (valid UTF-8) arguments", () => {
    assert.equal(encodeCommand("REA", 1, ["a@b.c", "Älice"]).toString("utf8"), "REA 1 a@b.c Älice\r\n");
  });

  test("rejects bad names, TrIDs and lone surrogates in string payloads", () => {
    assert.throws(() => encodeCommand("msg", 1, []), MsnArgumentError);
    assert.throws(() => encodeCommand("MSG", -1, []), MsnArgumentError);
    assert.throws(() => encodeCommand("MSG", 2 ** 32, []), MsnArgumentError);
    assert.throws(() => encodeCommand("MSG", 1, ["N"], "x\ud800"), MsnArgumentError);
  });
});
