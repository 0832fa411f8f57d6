import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { setImmediate as tick } from "node:timers/promises";
import { REDACTED, createLogger, getLogger, redact } from "../../../src/logging.js";
import type { LoggingConfig } from "../../../src/config/schema.js";

/** Installs a logger writing into memory; returns a reader of the lines written so far. */
function capture(config: Partial<LoggingConfig> = {}): () => Promise<string[]> {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
  createLogger({ level: "info", format: "text", modules: {}, ...config }, { stream });
  return async () => {
    await tick();
    return text.split("\n").filter((l) => l !== "");
  };
}

after(() => createLogger({ level: "info", format: "text", modules: {} }));

describe("logger output", () => {
  test("text format: time LEVEL [module] message key=value", async () => {
    const read = capture();
    getLogger("msnp").info("connected to NS", { host: "127.0.0.1", port: 1863, note: "two words" });
    const lines = await read();
    assert.equal(lines.length, 1);
    assert.match(
      lines[0] ?? "",
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}\[msnp\] connected to NS host=127\.0\.0\.1 port=1863 note="two words"$/,
    );
  });

  test("text format keeps one event on one line, whatever a peer sends", async () => {
    const read = capture();
    getLogger("sb").info("message from peer:\r\nFAKE 2026 ERROR [x] forged", { text: "a\nb" });
    const lines = await read();
    assert.equal(lines.length, 1);
    assert.ok(lines[0]?.includes("message from peer:\\r\\nFAKE"));
    assert.ok(lines[0]?.endsWith('text="a\\nb"'));
  });

  test("json format: one object per line", async () => {
    const read = capture({ format: "json" });
    const log = getLogger("bridge");
    log.warn("portal created", { roomId: "!a:x", count: 2, message: "meta key named message" });
    log.error("second");
    const lines = await read();
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    assert.equal(first.level, "warn");
    assert.equal(first.module, "bridge");
    assert.equal(first.message, "portal created");
    assert.equal(first.roomId, "!a:x");
    assert.equal(first.count, 2);
    assert.equal(first.meta_message, "meta key named message");
    assert.match(String(first.timestamp), /^\d{4}-\d\d-\d\dT/);
    assert.equal((JSON.parse(lines[1] ?? "") as Record<string, unknown>).message, "second");
  });

  test("errors are logged with name and message; stack follows at error level", async () => {
    const read = capture();
    const err = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    getLogger("msnp").warn("lost connection", { err });
    getLogger("msnp").error("crashed", { err });
    const lines = await read();
    assert.equal(lines[0]?.endsWith('err="Error: socket hang up (ECONNRESET)"'), true, lines[0]);
    assert.ok(lines[1]?.endsWith('err="Error: socket hang up (ECONNRESET)"'));
    assert.match(lines[2] ?? "", /^ {4}at /, "stack lines follow, indented");
  });

  test("global level and per-module overrides (with dotted sub-modules)", async () => {
    const read = capture({ level: "warn", modules: { msnp: "debug", "msnp.sb": "error" } });
    getLogger("bridge").info("bridge info: hidden");
    getLogger("bridge").warn("bridge warn: shown");
    getLogger("msnp").debug("msnp debug: shown");
    getLogger("msnp.ns").debug("msnp.ns debug: shown (inherits msnp)");
    getLogger("msnp.sb").warn("msnp.sb warn: hidden");
    getLogger("msnp.sb").error("msnp.sb error: shown");
    getLogger("msnpx").info("msnpx: hidden (not a sub-module of msnp)");
    const messages = (await read()).map((l) => l.replace(/^\S+ \S+ +\[[^\]]+\] /, ""));
    assert.deepEqual(messages, [
      "bridge warn: shown",
      "msnp debug: shown",
      "msnp.ns debug: shown (inherits msnp)",
      "msnp.sb error: shown",
    ]);
  });

  test("loggers made before createLogger follow the installed config", async () => {
    const early = getLogger("early");
    const read = capture({ level: "error" });
    early.warn("hidden");
    early.error("shown");
    assert.equal((await read()).length, 1);
  });
});

describe("redaction", () => {
  const SECRETS = ["hunter2", "tok-as", "tok-hs", "syt_abc", "Bearer-xyz", "md5sum", "p4ss", "deep-secret"];

  test("secret keys are masked at any depth, case-insensitively", async () => {
    const read = capture({ format: "json" });
    getLogger("t").info("login", {
      email: "bob@example.com",
      password: "hunter2",
      AS_TOKEN: "tok-as",
      hs_token: "tok-hs",
      nested: { Access_Token: "syt_abc", list: [{ Authorization: "Bearer-xyz" }], Hash: "md5sum" },
      Pass: "p4ss",
      a: { b: { c: { d: { token: "deep-secret" } } } },
    });
    const [line] = await read();
    for (const s of SECRETS) assert.ok(!line?.includes(s), `${s} leaked: ${line}`);
    const obj = JSON.parse(line ?? "") as Record<string, unknown>;
    assert.equal(obj.email, "bob@example.com", "non-secret values stay");
    assert.equal(obj.password, REDACTED);
    assert.deepEqual(obj.nested, {
      Access_Token: REDACTED,
      list: [{ Authorization: REDACTED }],
      Hash: REDACTED,
    });
  });

  test("text format is redacted too", async () => {
    const read = capture();
    getLogger("t").info("login", { user: { password: "hunter2" }, token: "tok-as" });
    const [line] = await read();
    assert.ok(line?.endsWith(`user={"password":"${REDACTED}"} token=${REDACTED}`), line);
  });

  test("access tokens inside URLs and bearer headers in strings are masked", () => {
    assert.equal(
      redact("GET /_matrix/client/v3/sync?since=s1&access_token=syt_secret&x=1"),
      `GET /_matrix/client/v3/sync?since=s1&access_token=${REDACTED}&x=1`,
    );
    assert.equal(redact("Authorization: Bearer abc.def"), `Authorization: Bearer ${REDACTED}`);
  });

  test("the message string itself is scrubbed of URL tokens", async () => {
    const read = capture();
    getLogger("t").info("request to http://hs/_matrix?access_token=syt_secret failed");
    const [line] = await read();
    assert.ok(!line?.includes("syt_secret"));
  });

  test("cycles, depth and odd values do not break logging", () => {
    const a: Record<string, unknown> = { name: "a" };
    a.self = a;
    const shared = { x: 1 };
    assert.deepEqual(redact({ a, s1: shared, s2: shared, n: 10n, b: Buffer.from("abc") }), {
      a: { name: "a", self: "[circular]" },
      s1: { x: 1 },
      s2: { x: 1 },
      n: "10",
      b: "[3 bytes]",
    });
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 20; i++) deep = { d: deep };
    assert.match(JSON.stringify(redact(deep)), /\[too deep\]/);
  });

  test("the caller's object is not modified", () => {
    const meta = { password: "hunter2" };
    redact(meta);
    assert.equal(meta.password, "hunter2");
  });
});
