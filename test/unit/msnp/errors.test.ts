import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MsnError, MsnServerError, MsnTimeoutError, serverErrorMeaning } from "../../../src/msnp/errors.js";

describe("server errors", () => {
  test("codes map to meanings from msnp.md §10", () => {
    assert.equal(serverErrorMeaning(217), "principal not online");
    assert.equal(serverErrorMeaning(911), "authentication failed");
    assert.equal(serverErrorMeaning(913), "not allowed while offline or hidden");
    assert.equal(serverErrorMeaning(205), "invalid or nonexistent account");
    assert.equal(serverErrorMeaning(540), "challenge response failed");
  });

  test("unknown codes still produce a typed error", () => {
    const error = new MsnServerError(999, "CAL", 3);
    assert.equal(error.meaning, "unknown server error");
    assert.equal(error.code, 999);
  });

  test("MsnServerError carries code, command and TrID and is an MsnError", () => {
    const error = new MsnServerError(217, "CAL", 2);
    assert.ok(error instanceof MsnError);
    assert.equal(error.name, "MsnServerError");
    assert.deepEqual([error.code, error.command, error.trId], [217, "CAL", 2]);
    assert.match(error.message, /CAL failed with server error 217 \(principal not online\)/);
  });

  test("MsnTimeoutError names the operation", () => {
    const error = new MsnTimeoutError("SYN 6", 1500);
    assert.equal(error.timeoutMs, 1500);
    assert.match(error.message, /SYN 6 timed out after 1500 ms/);
  });
});
