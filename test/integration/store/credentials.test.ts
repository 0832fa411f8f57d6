import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CredentialCipher, CredentialError, loadOrCreateKeyFile } from "../../../src/store/credentials.js";

describe("CredentialCipher", () => {
  const cipher = new CredentialCipher(randomBytes(32));

  test("round trip, including non-ASCII and empty passwords", () => {
    for (const pw of ["hunter2", "pässwörd 🔑", ""]) {
      assert.equal(cipher.decrypt(cipher.encrypt(pw, "@a:x"), "@a:x"), pw);
    }
  });

  test("format is v1:<iv>:<tag>:<ciphertext>, with a fresh IV every time", () => {
    const a = cipher.encrypt("same");
    const b = cipher.encrypt("same");
    assert.match(a, /^v1:[A-Za-z0-9+/]{16}:[A-Za-z0-9+/]{22}==:[A-Za-z0-9+/=]+$/);
    assert.notEqual(a, b);
  });

  test("wrong context, wrong key, tampering and garbage are CredentialErrors", () => {
    const stored = cipher.encrypt("hunter2", "@a:x");
    assert.throws(() => cipher.decrypt(stored, "@b:x"), CredentialError);
    assert.throws(
      () => new CredentialCipher(randomBytes(32)).decrypt(stored, "@a:x"),
      /failed authentication/,
    );
    const [v, iv, tag, ct] = stored.split(":");
    const flipped = Buffer.from(tag ?? "", "base64");
    flipped[0] = (flipped[0] ?? 0) ^ 0x80;
    assert.throws(
      () => cipher.decrypt([v, iv, flipped.toString("base64"), ct].join(":"), "@a:x"),
      /failed authentication/,
    );
    assert.throws(() => cipher.decrypt("hunter2"), /unknown format/);
    assert.throws(() => cipher.decrypt("v1:abc"), /malformed/);
    assert.throws(() => cipher.decrypt("v1:AAAA:AAAA:AAAA"), /malformed/);
    assert.throws(() => cipher.decrypt("v2:a:b:c"), /unknown format "v2"/);
  });

  test("keys must be 32 bytes", () => {
    assert.throws(() => new CredentialCipher(randomBytes(16)), /must be 32 bytes, got 16/);
  });
});

describe("loadOrCreateKeyFile", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "msn-key-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("creates a private base64 key once, then reads the same key", () => {
    const file = join(dir, "msn-bridge.key");
    const first = loadOrCreateKeyFile(file);
    assert.equal(first.created, true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(file, "utf8").trim(), "base64").length, 32);
    const second = loadOrCreateKeyFile(file);
    assert.equal(second.created, false);
    assert.equal(second.cipher.decrypt(first.cipher.encrypt("pw", "u"), "u"), "pw", "same key both times");
  });

  test("a malformed key file is refused, not replaced", () => {
    const file = join(dir, "bad.key");
    writeFileSync(file, "not base64 at all!\n");
    assert.throws(() => loadOrCreateKeyFile(file), /must hold 32 bytes in base64/);
    const short = randomBytes(16).toString("base64");
    writeFileSync(file, short);
    assert.throws(() => loadOrCreateKeyFile(file), /must hold 32 bytes in base64/);
    assert.equal(readFileSync(file, "utf8"), short, "left in place");
  });

  test("a key file in a missing directory is a clear error", () => {
    assert.throws(
      () => loadOrCreateKeyFile(join(dir, "nope", "k.key")),
      (err: unknown) =>
        err instanceof CredentialError && /cannot create credentials key file .*nope/.test(err.message),
    );
  });
});
