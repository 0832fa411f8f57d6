import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { escapeEmail, GhostIds, unescapeEmail } from "../../../src/bridge/ghost-ids.js";

describe("ghost IDs", () => {
  const ids = new GhostIds("msn_", "example.org");

  test("escape e-mail addresses as the issue specifies", () => {
    assert.equal(ids.userId("bob@example.com"), "@msn_bob=40example.com:example.org");
    assert.equal(ids.userId("Bob.Smith@Example.COM"), "@msn_bob.smith=40example.com:example.org");
    assert.equal(escapeEmail("a+b_c-d@x.y"), "a=2bb_c-d=40x.y");
  });

  test("non-ASCII characters are escaped per UTF-8 byte and come back", () => {
    const escaped = escapeEmail("jürgen@bücher.de");
    assert.match(escaped, /^[a-z0-9._=-]+$/);
    assert.equal(unescapeEmail(escaped), "jürgen@bücher.de");
  });

  test("round trip through user IDs", () => {
    for (const email of ["bob@example.com", "o'brien@x.ie", "a=b@c.d", "x y@z"]) {
      assert.equal(ids.emailOf(ids.userId(email)), email.toLowerCase());
    }
  });

  test("foreign and malformed IDs are not ghosts", () => {
    assert.equal(ids.emailOf("@alice:example.org"), null);
    assert.equal(ids.emailOf("@msn_bob=40example.com:other.org"), null);
    assert.equal(ids.emailOf("@msn_bob=4:example.org"), null);
    assert.equal(ids.emailOf("@msn_bob=zz:example.org"), null);
    assert.equal(ids.emailOf("@msn_BOB:example.org"), null);
    assert.equal(ids.emailOf("not an id"), null);
    // =ff alone is not valid UTF-8: refused rather than turned into U+FFFD.
    assert.equal(ids.emailOf("@msn_=ff:example.org"), null);
  });
});
