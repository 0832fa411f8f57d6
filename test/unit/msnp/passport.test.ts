import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PassportTestServer } from "./passport-server.js";
import {
  DEFAULT_PASSPORT_URL,
  PassportAuthError,
  PassportError,
  fetchPassportTicket,
  validatePassportUrl,
} from "../../../src/msnp/passport.js";
import { MsnArgumentError, MsnNetworkError, MsnTimeoutError } from "../../../src/msnp/errors.js";
import { isAuthFailure } from "../../../src/bridge/errors.js";

const CHALLENGE = "lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct=1062764229,kpp=1,kv=5";
const PASSWORD = "p@ss, w'rd=1";

let server: PassportTestServer;

beforeEach(async () => {
  server = await PassportTestServer.start();
});

afterEach(async () => {
  await server.close();
});

function fetchTicket(extra: Partial<Parameters<typeof fetchPassportTicket>[0]> = {}): Promise<string> {
  return fetchPassportTicket({
    passportUrl: extra.passportUrl ?? server.nexusUrl,
    email: "alice@example.com",
    password: PASSWORD,
    challenge: CHALLENGE,
    timeoutMs: 1000,
    ...extra,
  });
}

describe("Passport ticket fetch", () => {
  test("nexus → DALogin → login with the Passport1.4 header → from-PP ticket", async () => {
    assert.equal(await fetchTicket(), "t=TICKET0123456789abcd&p=");
    assert.deepEqual(
      server.requests.map((r) => r.path),
      ["/rdr/pprdr.asp", "/login"],
    );
    assert.equal(server.requests[0]?.authorization, undefined, "no credentials to the nexus");
    assert.equal(
      server.requests[1]?.authorization,
      "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in=alice%40example.com," +
        `pwd=p%40ss%2C%20w%27rd%3D1,${CHALLENGE}`,
    );
  });

  test("302 from the nexus and from the login service are followed", async () => {
    server.routes.set("/rdr/pprdr.asp", (_req, res) => {
      res.writeHead(302, { Location: "/rdr/moved.asp" }).end();
    });
    server.routes.set("/rdr/moved.asp", (_req, res) => {
      res.writeHead(200, { PassportURLs: `DALogin=127.0.0.1:${server.port}/old-login` }).end();
    });
    server.routes.set("/old-login", (_req, res) => {
      res.writeHead(302, { Location: `http://127.0.0.1:${server.port}/login` }).end();
    });
    assert.equal(await fetchTicket(), "t=TICKET0123456789abcd&p=");
    assert.deepEqual(
      server.requests.map((r) => r.path),
      ["/rdr/pprdr.asp", "/rdr/moved.asp", "/old-login", "/login"],
    );
    assert.equal(server.requests[3]?.authorization, server.requests[2]?.authorization, "retried as is");
  });

  test("redirect loops are bounded", async () => {
    server.routes.set("/login", (_req, res) => {
      res.writeHead(302, { Location: "/login" }).end();
    });
    await assert.rejects(fetchTicket({ maxRedirects: 3 }), PassportError);
    assert.equal(server.requests.filter((r) => r.path === "/login").length, 4);
  });

  test("401 da-status=failed is an authentication failure the bridge treats like 911", async () => {
    server.expectedAuthorization = "something else";
    const error = await fetchTicket().then(
      () => assert.fail("expected a rejection"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof PassportAuthError);
    assert.equal(error.code, 911);
    assert.ok(isAuthFailure(error));
    assert.ok(!error.message.includes("w'rd") && !error.message.includes("w%27rd"), "no password");
  });

  test("other statuses, a missing DALogin or a missing ticket are PassportErrors", async () => {
    server.routes.set("/login", (_req, res) => void res.writeHead(500).end());
    await assert.rejects(
      fetchTicket(),
      (e: unknown) => e instanceof PassportError && /HTTP 500/.test(e.message),
    );

    server.routes.set("/login", (_req, res) => void res.writeHead(200, { "Authentication-Info": "x" }).end());
    await assert.rejects(fetchTicket(), /no ticket/);

    server.routes.set("/rdr/pprdr.asp", (_req, res) => void res.writeHead(200).end());
    await assert.rejects(fetchTicket(), /no DALogin/);
  });

  test("a silent service times out; a closed port is a network error", async () => {
    server.routes.set("/login", () => undefined); // never answers
    await assert.rejects(fetchTicket({ timeoutMs: 150 }), MsnTimeoutError);

    const port = server.port;
    await server.close();
    await assert.rejects(
      fetchTicket({ passportUrl: `http://127.0.0.1:${port}/rdr/pprdr.asp` }),
      MsnNetworkError,
    );
    server = await PassportTestServer.start();
  });

  test("plain http is refused off loopback, for the nexus and for where it points", async () => {
    assert.throws(() => validatePassportUrl("http://nexus.example.net/rdr/pprdr.asp"), MsnArgumentError);
    assert.throws(() => validatePassportUrl("ftp://127.0.0.1/"), MsnArgumentError);
    assert.throws(() => validatePassportUrl("not a url"), MsnArgumentError);
    for (const ok of [
      DEFAULT_PASSPORT_URL,
      "http://127.0.0.1:1/x",
      "http://localhost/x",
      "http://[::1]:8/x",
    ]) {
      assert.equal(validatePassportUrl(ok).href, new URL(ok).href);
    }
    await assert.rejects(
      fetchTicket({ passportUrl: "http://nexus.example.net/rdr/pprdr.asp" }),
      MsnArgumentError,
    );
    server.routes.set("/rdr/pprdr.asp", (_req, res) => {
      res.writeHead(200, { PassportURLs: "DALogin=http://login.example.net/login" }).end();
    });
    await assert.rejects(fetchTicket(), MsnArgumentError);
    assert.equal(server.requests.filter((r) => r.path === "/login").length, 0, "credentials never sent");
  });
});
