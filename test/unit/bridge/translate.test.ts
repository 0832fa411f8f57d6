import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  displayNameFor,
  matrixMessageToMsn,
  msnTextToMatrix,
  stripReplyFallback,
} from "../../../src/bridge/translate.js";

const media = (mxc: string): string | null =>
  mxc.startsWith("mxc://") ? `https://hs/dl/${mxc.slice(6)}` : null;

describe("MSN → Matrix", () => {
  test("plain text has no HTML; line breaks become <br> when formatted", () => {
    assert.deepEqual(msnTextToMatrix("a\nb"), { msgtype: "m.text", body: "a\nb" });
    assert.equal(msnTextToMatrix("a\nb", { bold: true }).formatted_body, "<strong>a<br>b</strong>");
  });

  test("bold, italic and colour become escaped HTML", () => {
    const c = msnTextToMatrix("<b>1 & 2</b>", { bold: true, italic: true, color: "#FF0000" });
    assert.equal(c.body, "<b>1 & 2</b>");
    assert.equal(c.format, "org.matrix.custom.html");
    assert.equal(
      c.formatted_body,
      '<font color="#ff0000"><em><strong>&#60;b&#62;1 &#38; 2&#60;/b&#62;</strong></em></font>',
    );
  });

  test("a black font with no effects adds no HTML", () => {
    assert.equal(msnTextToMatrix("hi", { font: "Arial", color: "#000000" }).formatted_body, undefined);
  });
});

describe("Matrix → MSN", () => {
  test("text, notice and emote", () => {
    assert.deepEqual(matrixMessageToMsn({ msgtype: "m.text", body: "hi" }, media), {
      kind: "text",
      text: "hi",
    });
    assert.deepEqual(matrixMessageToMsn({ msgtype: "m.notice", body: "n" }, media), {
      kind: "text",
      text: "n",
    });
    assert.deepEqual(matrixMessageToMsn({ msgtype: "m.emote", body: "waves" }, media), {
      kind: "text",
      text: "* waves",
    });
  });

  test("media is sent as a link", () => {
    assert.deepEqual(
      matrixMessageToMsn({ msgtype: "m.image", body: "cat.png", url: "mxc://hs/abc" }, media),
      {
        kind: "text",
        text: "cat.png: https://hs/dl/hs/abc",
      },
    );
    assert.equal(matrixMessageToMsn({ msgtype: "m.file", body: "f" }, media).kind, "unsupported");
  });

  test("edits, empty bodies, missing bodies and unknown types are refused with a reason", () => {
    const edit = matrixMessageToMsn(
      { msgtype: "m.text", body: "* fixed", "m.relates_to": { rel_type: "m.replace", event_id: "$x" } },
      media,
    );
    assert.deepEqual(edit, { kind: "unsupported", reason: "MSN cannot edit messages" });
    assert.equal(matrixMessageToMsn({ msgtype: "m.text", body: "" }, media).kind, "unsupported");
    assert.equal(matrixMessageToMsn({ msgtype: "m.text", body: 42 }, media).kind, "unsupported");
    assert.equal(matrixMessageToMsn({ msgtype: "org.example.custom", body: "x" }, media).kind, "unsupported");
  });

  test("reply fallbacks are stripped only from replies", () => {
    const body = "> <@bob:hs> original\n> more\n\nmy answer";
    assert.equal(stripReplyFallback(body), "my answer");
    assert.deepEqual(
      matrixMessageToMsn(
        { msgtype: "m.text", body, "m.relates_to": { "m.in_reply_to": { event_id: "$e" } } },
        media,
      ),
      { kind: "text", text: "my answer" },
    );
    assert.deepEqual(matrixMessageToMsn({ msgtype: "m.text", body: "> quoted" }, media), {
      kind: "text",
      text: "> quoted",
    });
  });
});

describe("hostile MSN text", () => {
  test("control characters never reach Matrix; line breaks and tabs in bodies survive", () => {
    assert.equal(msnTextToMatrix("a\u0000b\u0007c\nd\te\u009b").body, "abc\nd\te");
    assert.equal(displayNameFor("Bob\u0000\r\n Evil\u202e", "bob@x.y"), "Bob Evil\u202e");
    assert.equal(displayNameFor("\u0000\u0001  ", "bob@x.y"), "bob@x.y");
    assert.equal(displayNameFor("x".repeat(1000), "bob@x.y").length, 256);
  });
});
