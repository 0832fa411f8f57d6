import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { settlesWithin } from "../../../src/bridge/settles-within.js";

describe("settlesWithin", () => {
  test("true when the work settles in time, whether it resolves or rejects", async () => {
    assert.equal(await settlesWithin(sleep(5), 1000), true);
    assert.equal(await settlesWithin(Promise.reject(new Error("no")), 1000), true);
  });

  test("false once the time is up; the work itself goes on", async () => {
    let done = false;
    const work = sleep(80).then(() => (done = true));
    const started = Date.now();
    assert.equal(await settlesWithin(work, 20), false);
    assert.ok(Date.now() - started < 70, "did not wait for the work");
    assert.equal(done, false);
    await work;
    assert.equal(done, true);
  });
});
