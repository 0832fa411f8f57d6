import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { hasPermission, permissionFor } from "../../../src/config/permissions.js";
import type { PermissionLevel } from "../../../src/config/schema.js";

function cfg(permissions: Record<string, PermissionLevel>) {
  return { bridge: { permissions } } as Parameters<typeof permissionFor>[0];
}

describe("permissionFor", () => {
  test("exact user ID beats server name beats *", () => {
    const c = cfg({
      "*": "admin",
      "example.org": "user",
      "@boss:example.org": "admin",
      "@eve:other.net": "user",
    });
    assert.equal(permissionFor(c, "@boss:example.org"), "admin");
    assert.equal(permissionFor(c, "@alice:example.org"), "user");
    assert.equal(permissionFor(c, "@eve:other.net"), "user", "a user entry narrows the * admin grant");
    assert.equal(permissionFor(c, "@mallory:third.example"), "admin");
  });

  test("no matching entry → no access", () => {
    const c = cfg({ "example.org": "user" });
    assert.equal(permissionFor(c, "@alice:example.org"), "user");
    assert.equal(permissionFor(c, "@alice:example.org.evil.com"), null);
    assert.equal(permissionFor(c, "@alice:evil.com"), null);
  });

  test("server names with ports and user IDs with colons in the server part", () => {
    const c = cfg({ "localhost:8448": "admin" });
    assert.equal(permissionFor(c, "@a:localhost:8448"), "admin");
    assert.equal(permissionFor(c, "@a:localhost"), null);
  });

  test("prototype keys grant nothing", () => {
    const c = cfg({ "example.org": "user" });
    assert.equal(permissionFor(c, "constructor"), null);
    assert.equal(permissionFor(c, "@x:__proto__"), null);
  });

  test("admin ≥ user", () => {
    assert.equal(hasPermission("admin", "user"), true);
    assert.equal(hasPermission("admin", "admin"), true);
    assert.equal(hasPermission("user", "user"), true);
    assert.equal(hasPermission("user", "admin"), false);
    assert.equal(hasPermission(null, "user"), false);
  });
});
