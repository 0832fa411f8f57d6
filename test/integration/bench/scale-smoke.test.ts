/**
 * Proves the scale benchmark still runs (issue 7: the short variant only proves the scripts
 * work). The quick variant logs 50 stored puppets in to a bridge process against the MSN test
 * server in its own process, restarts the bridge once, idles and sends a few messages. Only what
 * is certain whatever the machine's load is asserted: every puppet logged in (each start has a
 * time), the MSN server never saw more logins at once than the configured limit, and a message
 * crossed.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { runSuite } from "../../../bench/suite.js";

describe("scale benchmark (quick variant)", { timeout: 180_000 }, () => {
  test("50 puppets log in, stay within the login limit, and a message crosses", async () => {
    const figures = await runSuite({ quick: true, only: ["scale"] });
    const byName = new Map(figures.map((f) => [f.name, f]));
    const get = (name: string) => {
      const f = byName.get(name);
      assert.ok(f, `no figure "${name}"; got ${[...byName.keys()].join("; ")}`);
      return f;
    };
    for (const k of [0, 50]) {
      assert.ok(get(`K=${k}: spawn → /ready 200`).summary.n >= 2, "every start reached /ready");
      assert.ok(get(`K=${k}: idle RSS`).summary.p50 > 0);
    }
    assert.equal(get("K=50: restart, all logged in").summary.n, 1);
    const concurrency = get("K=50: max logins in progress (MSN side)").summary;
    assert.ok(concurrency.max <= 8, `the MSN server saw ${concurrency.max} logins at once`);
    assert.ok(concurrency.min >= 1);
    assert.equal(get("K=50: MSN→Matrix, first message (new portal)").summary.n, 2);
    assert.equal(get("K=50: MSN→Matrix, warm message").summary.n, 3);
  });
});
