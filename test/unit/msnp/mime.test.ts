import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  bgrToRgb,
  buildMime,
  buildNudgeMessage,
  buildTextFormat,
  buildTextMessage,
  buildTypingMessage,
  classifyMessage,
  getHeader,
  parseMime,
  parseTextFormat,
  rgbToBgr,
} from "../../../src/msnp/mime.js";
import { MsnArgumentError } from "../../../src/msnp/errors.js";

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join("\r\n"), "utf8");

describe("parseMime / buildMime", () => {
  test("headers, blank line, body; names case-insensitive", () => {
    const mime = parseMime(crlf(["MIME-Version: 1.0", "content-TYPE: text/plain", "", "body\r\nline 2"]));
    assert.equal(getHeader(mime, "Content-Type"), "text/plain");
    assert.equal(getHeader(mime, "mime-version"), "1.0");
    assert.equal(mime.body.toString(), "body\r\nline 2");
  });

  test("payload without a blank line: all headers, empty body", () => {
    const mime = parseMime(Buffer.from("Content-Type: text/x-keepalive"));
    assert.equal(getHeader(mime, "content-type"), "text/x-keepalive");
    assert.equal(mime.body.length, 0);
  });

  test("bare-LF payloads from sloppy clients", () => {
    const mime = parseMime(Buffer.from("Content-Type: text/plain\n\nhi"));
    assert.equal(mime.body.toString(), "hi");
  });

  test("build is byte exact and refuses header injection", () => {
    assert.equal(
      buildMime(
        [
          ["MIME-Version", "1.0"],
          ["Content-Type", "text/plain; charset=UTF-8"],
        ],
        "x",
      ).toString(),
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nx",
    );
    assert.throws(() => buildMime([["X", "a\r\nB: c"]], ""), MsnArgumentError);
  });
});

describe("header lookup", () => {
  test("names match whatever their case, spacing or (odd) whitespace; the first one wins", () => {
    const mime = parseMime(
      crlf([
        "Ünïcode-Name: first",
        "content-TYPE\t : text/plain",
        " TypingUser :  bob@example.com ",
        "Content-Type: text/html",
        "",
        "",
      ]),
    );
    assert.equal(getHeader(mime, "Content-Type"), "text/plain");
    assert.equal(getHeader(mime, "typinguser"), "bob@example.com");
    assert.equal(getHeader(mime, "ÜNÏCODE-NAME"), "first");
    assert.equal(getHeader(mime, "Missing"), undefined);
  });

  test("multibyte values are decoded whole", () => {
    const mime = parseMime(Buffer.from("TypingUser: jürgen@例え.jp\r\n\r\n", "utf8"));
    assert.equal(getHeader(mime, "TypingUser"), "jürgen@例え.jp");
  });

  test("the header list is the same whether asked for before or after a lookup", () => {
    const payload = crlf(["MIME-Version: 1.0", "Content-Type: text/plain", "X-A:b", "", "body"]);
    const expected = [
      ["MIME-Version", "1.0"],
      ["Content-Type", "text/plain"],
      ["X-A", "b"],
    ];
    const looked = parseMime(payload);
    assert.equal(getHeader(looked, "x-a"), "b");
    assert.deepEqual(looked.headers, expected);
    assert.deepEqual(parseMime(payload).headers, expected);
    const content = classifyMessage(payload);
    assert.deepEqual(content.mime.headers, expected);
    assert.deepEqual(JSON.parse(JSON.stringify(content.mime)).headers, expected);
    // A list changed by its user is what later lookups see.
    looked.headers.unshift(["Content-Type", "text/x-changed"]);
    assert.equal(getHeader(looked, "content-type"), "text/x-changed");
  });

  test("a huge header block of lines without a colon is parsed in linear time", () => {
    const payload = Buffer.concat([
      Buffer.alloc(3 * 350_000, "x\r\n"),
      Buffer.from("Content-Type: text/plain\r\n\r\nhi"),
    ]);
    const started = performance.now();
    const content = classifyMessage(payload);
    assert.equal(content.kind === "text" && content.text, "hi");
    assert.equal(parseMime(payload).headers.length, 1);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
  });
});

describe("X-MMS-IM-Format", () => {
  test("BGR colours convert to #rrggbb (msnp.md §8.4)", () => {
    assert.equal(bgrToRgb("ff"), "#ff0000");
    assert.equal(bgrToRgb("ff00"), "#00ff00");
    assert.equal(bgrToRgb("ff0000"), "#0000ff");
    assert.equal(bgrToRgb("0"), "#000000");
    assert.equal(bgrToRgb("123456"), "#563412");
    assert.equal(bgrToRgb("zz"), null);
    assert.equal(bgrToRgb("1234567"), null);
  });

  test("#rrggbb converts back without leading zeros", () => {
    assert.equal(rgbToBgr("#ff0000"), "ff");
    assert.equal(rgbToBgr("#0000ff"), "ff0000");
    assert.equal(rgbToBgr("#000000"), "0");
    assert.throws(() => rgbToBgr("red"), MsnArgumentError);
  });

  test("parses the documented example", () => {
    assert.deepEqual(parseTextFormat("FN=Segoe%20UI; EF=B; CO=ff0000; CS=0; PF=22"), {
      font: "Segoe UI",
      bold: true,
      italic: false,
      underline: false,
      strikethrough: false,
      color: "#0000ff",
      charset: 0,
      pitchFamily: 0x22,
      rtl: false,
    });
  });

  test("all effects, charset hex, RTL, lower-case keys, garbage tolerated", () => {
    const format = parseTextFormat("fn=MS%20Mincho; ef=SUIB; co=ff; cs=80; pf=31; RL=1; junk; XX=");
    assert.equal(format.font, "MS Mincho");
    assert.deepEqual(
      [format.bold, format.italic, format.underline, format.strikethrough],
      [true, true, true, true],
    );
    assert.equal(format.color, "#ff0000");
    assert.equal(format.charset, 0x80);
    assert.equal(format.pitchFamily, 0x31);
    assert.equal(format.rtl, true);
    const bad = parseTextFormat("CO=notacolour; CS=zz");
    assert.equal(bad.color, undefined);
    assert.equal(bad.charset, undefined);
    assert.equal(bad.font, undefined);
  });

  test("the last of a repeated field wins; keys are trimmed and any case; huge values stay linear", () => {
    const format = parseTextFormat(" co = ff ;CO=ff00; Ef=i ;junk;=;;  fn=A%20B");
    assert.equal(format.color, "#00ff00");
    assert.equal(format.italic, true);
    assert.equal(format.font, "A B");
    const started = performance.now();
    assert.equal(parseTextFormat(`${";".repeat(512 * 1024)}CO=ff`).color, "#ff0000");
    assert.equal(parseTextFormat(`${"x;".repeat(256 * 1024)}EF=B`).bold, true);
    assert.ok(performance.now() - started < 2000);
  });

  test("a sender's format parsed again is an independent object", () => {
    const payload = buildTextMessage("hi", { font: "Arial", bold: true });
    const first = classifyMessage(payload);
    if (first.kind !== "text" || !first.format) throw new Error("expected formatted text");
    first.format.bold = false;
    delete first.format.font;
    const second = classifyMessage(payload);
    assert.equal(second.kind === "text" && second.format?.bold, true);
    assert.equal(second.kind === "text" && second.format?.font, "Arial");
  });

  test("builds FN first, in the official order, font percent-encoded", () => {
    assert.equal(
      buildTextFormat({
        font: "Comic Sans MS",
        bold: true,
        italic: true,
        color: "#ff0000",
        charset: 0,
        pitchFamily: 0x22,
      }),
      "FN=Comic%20Sans%20MS; EF=BI; CO=ff; CS=0; PF=22",
    );
    assert.equal(buildTextFormat({ font: "a;b", rtl: true }), "FN=a%3Bb; EF=; CO=0; CS=0; PF=22; RL=1");
  });

  test("round trip", () => {
    const format = {
      font: "Ärial Black",
      bold: false,
      italic: true,
      underline: true,
      strikethrough: false,
      color: "#12ab34",
      charset: 0xcc,
      pitchFamily: 0x12,
      rtl: false,
    };
    assert.deepEqual(parseTextFormat(buildTextFormat(format)), format);
  });
});

describe("classifyMessage", () => {
  test("text/plain with format; body UTF-8, CRLF → \\n", () => {
    const content = classifyMessage(
      crlf([
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "X-MMS-IM-Format: FN=Segoe%20UI; EF=B; CO=ff; CS=0; PF=22",
        "",
        "Hello Bob — ünïcødé ✓ 日本語\r\nline two",
      ]),
    );
    assert.equal(content.kind, "text");
    if (content.kind !== "text") return;
    assert.equal(content.text, "Hello Bob — ünïcødé ✓ 日本語\nline two");
    assert.equal(content.charset, "UTF-8");
    assert.equal(content.format?.color, "#ff0000");
    assert.equal(content.format?.bold, true);
  });

  test("text/plain without format and without charset; Latin-1 fallback for non-UTF-8", () => {
    const plain = classifyMessage(crlf(["Content-Type: text/plain", "", "hi"]));
    assert.equal(plain.kind === "text" && plain.format, undefined);
    const latin = classifyMessage(
      Buffer.concat([Buffer.from("Content-Type: text/plain\r\n\r\n"), Buffer.from([0x48, 0xe9])]),
    );
    assert.equal(latin.kind === "text" ? latin.text : null, "Hé");
  });

  test("typing", () => {
    const content = classifyMessage(buildTypingMessage("alice@example.com"));
    assert.deepEqual(content.kind === "typing" && content.typingUser, "alice@example.com");
  });

  test("nudge and other datacasts", () => {
    assert.equal(classifyMessage(buildNudgeMessage()).kind, "nudge");
    const wink = classifyMessage(crlf(["Content-Type: text/x-msnmsgr-datacast", "", "ID: 2", "", ""]));
    assert.equal(wink.kind, "datacast");
    assert.equal(wink.kind === "datacast" && wink.id, 2);
  });

  test("invitations", () => {
    const content = classifyMessage(
      crlf([
        "MIME-Version: 1.0",
        "Content-Type: text/x-msmsgsinvite; charset=UTF-8",
        "",
        "Application-Name: File Transfer",
        "Invitation-Command: INVITE",
        "Invitation-Cookie: 123",
        "Application-File: a.txt",
        "",
        "",
      ]),
    );
    assert.equal(content.kind, "invite");
    if (content.kind !== "invite") return;
    assert.equal(content.command, "INVITE");
    assert.equal(content.applicationName, "File Transfer");
    assert.equal(content.fields.get("Application-File"), "a.txt");
  });

  test("emoticons, p2p, clientcaps, keepalive, profile, mail, system, unknown", () => {
    const emoticon = classifyMessage(
      crlf(["Content-Type: text/x-mms-emoticon", "", ":D\t<msnobj/>\t(cat)\t<msnobj/>\t"]),
    );
    assert.deepEqual(emoticon.kind === "emoticon" && emoticon.shortcuts, [":D", "(cat)"]);
    assert.equal(classifyMessage(crlf(["Content-Type: text/x-mms-animemoticon", "", ""])).kind, "emoticon");
    const p2p = classifyMessage(
      Buffer.concat([
        Buffer.from("Content-Type: application/x-msnmsgrp2p\r\nP2P-Dest: bob@example.com\r\n\r\n"),
        Buffer.alloc(48),
      ]),
    );
    assert.deepEqual(p2p.kind === "p2p" && p2p.destination, "bob@example.com");
    assert.equal(
      classifyMessage(crlf(["Content-Type: text/x-clientcaps", "", "Client-Name: X"])).kind,
      "clientcaps",
    );
    assert.equal(classifyMessage(crlf(["Content-Type: text/x-keepalive", "", ""])).kind, "keepalive");
    const profile = classifyMessage(
      crlf([
        "MIME-Version: 1.0",
        "Content-Type: text/x-msmsgsprofile; charset=UTF-8",
        "LoginTime: 1700000000",
        "ClientIP: 127.0.0.1",
        "",
        "",
      ]),
    );
    assert.deepEqual(profile.kind === "profile" && profile.fields.get("ClientIP"), "127.0.0.1");
    const mail = classifyMessage(
      crlf(["Content-Type: text/x-msmsgsemailnotification; charset=UTF-8", "", "From: X", "Subject: Y", ""]),
    );
    assert.deepEqual(mail.kind === "mail" && mail.fields.get("Subject"), "Y");
    const system = classifyMessage(
      crlf([
        "MIME-Version: 1.0",
        "Content-Type: application/x-msmsgssystemmessage",
        "",
        "Type: 1",
        "Arg1: 5",
        "",
      ]),
    );
    assert.equal(system.kind, "system");
    assert.deepEqual(system.kind === "system" && [system.type, system.arg1], [1, "5"]);
    const unknown = classifyMessage(crlf(["Content-Type: application/x-whatever", "", "x"]));
    assert.deepEqual([unknown.kind, unknown.contentType], ["unknown", "application/x-whatever"]);
  });

  test("charset parameter: any case, quoted, the last one wins", () => {
    const content = classifyMessage(
      crlf(['Content-Type: Text/Plain; CharSet="ISO-8859-1"; x=1; charset=UTF-8', "", "hi"]),
    );
    assert.equal(content.kind === "text" && content.charset, "UTF-8");
    const quoted = classifyMessage(crlf(['Content-Type: text/plain; charset="UTF-8"', "", "hi"]));
    assert.equal(quoted.kind === "text" && quoted.charset, "UTF-8");
  });

  test("header blocks that share a hash or differ in one byte are each read for themselves", () => {
    // The memo's hash rotates by 5 bits per byte, so bytes 32 apart can swap without changing it.
    const [first, second] = [`x${"y".repeat(31)}z@example.com`, `z${"y".repeat(31)}x@example.com`];
    const one = classifyMessage(buildTypingMessage(first));
    const two = classifyMessage(buildTypingMessage(second));
    assert.equal(one.kind === "typing" && one.typingUser, first);
    assert.equal(two.kind === "typing" && two.typingUser, second);
    // Same length, one byte apart, right after the first was memoised.
    const red = classifyMessage(buildTextMessage("x", { color: "#ff0000" }));
    const blue = classifyMessage(buildTextMessage("x", { color: "#0000ff" }));
    assert.equal(red.kind === "text" && red.format?.color, "#ff0000");
    assert.equal(blue.kind === "text" && blue.format?.color, "#0000ff");
    // A block also seen with a bare-LF terminator and with a longer one.
    const bare = classifyMessage(Buffer.from("Content-Type: text/plain\n\nhi"));
    const long = classifyMessage(Buffer.from("Content-Type: text/plain; charset=UTF-8\r\n\r\nhi"));
    assert.deepEqual([bare.kind, bare.kind === "text" && bare.charset], ["text", null]);
    assert.deepEqual([long.kind, long.kind === "text" && long.charset], ["text", "UTF-8"]);
  });

  test("many distinct and oversized header blocks are still classified by their own content", () => {
    for (let i = 0; i < 3000; i++) {
      const user = `user${i}@example.com`;
      const padding = i % 3 === 0 ? [["X-Padding", "p".repeat(600)] as const] : [];
      const typing = classifyMessage(
        buildMime([["Content-Type", "text/x-msmsgscontrol"], ...padding, ["TypingUser", user]], "\r\n"),
      );
      assert.equal(typing.kind === "typing" && typing.typingUser, user);
    }
  });

  test("the header list is available when the block's summary came from the memo", () => {
    const payload = buildTextMessage("hi", { font: "Tahoma" });
    classifyMessage(payload);
    const again = classifyMessage(payload);
    assert.equal(getHeader(again.mime, "content-type"), "text/plain; charset=UTF-8");
    assert.equal(again.mime.headers.length, 3);
    assert.equal(again.mime.body.toString("utf8"), "hi");
  });

  test("never throws on garbage", () => {
    for (const payload of [
      Buffer.alloc(0),
      Buffer.from([0xff, 0x00, 0x0d, 0x0a]),
      Buffer.from(":::\r\n\r\n"),
      Buffer.from("Content-Type:"),
    ]) {
      assert.equal(typeof classifyMessage(payload).kind, "string");
    }
  });
});

describe("builders", () => {
  test("text message matches the documented layout byte for byte", () => {
    const payload = buildTextMessage("Hello Bob — ünïcødé ✓ 日本語", {
      font: "Segoe UI",
      bold: true,
      color: "#0000ff",
      charset: 0,
      pitchFamily: 0x22,
    });
    assert.equal(
      payload.toString("utf8"),
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=B; CO=ff0000; CS=0; PF=22\r\n\r\nHello Bob — ünïcødé ✓ 日本語",
    );
  });

  test("text message normalises line breaks to CRLF", () => {
    assert.ok(buildTextMessage("a\nb\rc\r\nd").toString().endsWith("\r\n\r\na\r\nb\r\nc\r\nd"));
  });

  test("typing and nudge payloads", () => {
    assert.equal(
      buildTypingMessage("alice@example.com").toString(),
      "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: alice@example.com\r\n\r\n\r\n",
    );
    assert.equal(
      buildNudgeMessage().toString(),
      "MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n",
    );
  });
});
