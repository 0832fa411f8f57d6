/** Per-version differences the session tests do not reach (MSNP9–11), straight at the dialect seam. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MAX_CONTACTS, dialectFor, isSupportedVersion } from "../../../src/msnp/dialect.js";
import {
  answerChallengeMd5,
  answerChallengeMsnp11,
  MSN6_CHALLENGE_PRODUCT,
  MSNP11_CHALLENGE_PRODUCT,
  MSNP7_CHALLENGE_PRODUCT,
} from "../../../src/msnp/challenge.js";
import { MsnArgumentError } from "../../../src/msnp/errors.js";

const UBX = {
  name: "UBX",
  args: ["bob@example.com", "44"],
  payload: Buffer.from("<Data><PSM>hi &#x263A;</PSM></Data>"),
};

describe("dialects by version", () => {
  test("MSNP2–12 are supported; 13+ (SOAP address book) are not", () => {
    assert.ok(["MSNP2", "MSNP7", "MSNP8", "MSNP12"].every(isSupportedVersion));
    assert.ok(!["MSNP1", "MSNP13", "MSNP18", "msnp8", "CVR0"].some(isSupportedVersion));
    assert.throws(() => dialectFor("MSNP13"), MsnArgumentError);
  });

  test("login scheme, INF, USR OK and SYN arguments", () => {
    const table = ["MSNP7", "MSNP9", "MSNP10"].map((v) => {
      const d = dialectFor(v);
      return [v, d.loginScheme, d.sendsInf, d.synArgs().join(" "), d.chgArgs("AWY").join(" ")];
    });
    assert.deepEqual(table, [
      ["MSNP7", "MD5", true, "0", "AWY"],
      ["MSNP9", "TWN", false, "0", "AWY 0"],
      ["MSNP10", "TWN", false, "2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00", "AWY 0"],
    ]);
    assert.deepEqual(dialectFor("MSNP9").parseLoginOk(["OK", "a@example.com", "A%20b", "1", "0"]), {
      email: "a@example.com",
      friendlyName: "A b",
    });
    assert.deepEqual(dialectFor("MSNP10").parseLoginOk(["OK", "a@example.com", "1", "0"]), {
      email: "a@example.com",
      friendlyName: null,
    });
  });

  test("presence with client-id and msnobj", () => {
    assert.deepEqual(
      dialectFor("MSNP9").parseInitialPresence([
        "7",
        "BSY",
        "b@example.com",
        "Bob",
        "268435492",
        "%3Cmsnobj%2F%3E",
      ]),
      { status: "BSY", email: "b@example.com", friendlyName: "Bob" },
    );
  });

  test("own name: REA up to MSNP9, PRP MFN from MSNP10", () => {
    assert.deepEqual(dialectFor("MSNP9").renameCommand("a@example.com", "A"), {
      name: "REA",
      args: ["a@example.com", "A"],
    });
    const d10 = dialectFor("MSNP10");
    assert.deepEqual(d10.renameCommand("a@example.com", "A%20b"), { name: "PRP", args: ["MFN", "A%20b"] });
    assert.deepEqual(d10.parseRenameReply(["MFN", "A%20b"]), { email: null, friendlyName: "A b" });
    assert.equal(d10.parseRenameReply(["PHH", "555"]), null);
  });

  test("list changes: ADD/REM up to MSNP9; ADC, REM FL by GUID, REM with a group ignored from MSNP10", () => {
    assert.deepEqual(dialectFor("MSNP9").listChangeCommand("remove", "FL", "b@example.com", "g"), {
      name: "REM",
      args: ["FL", "b@example.com"],
    });
    const d = dialectFor("MSNP11");
    assert.throws(() => d.listChangeCommand("remove", "FL", "b@example.com"), MsnArgumentError);
    assert.deepEqual(d.listChangeCommand("add", "BL", "b@example.com"), {
      name: "ADC",
      args: ["BL", "N=b@example.com"],
    });
    assert.deepEqual(
      d.parseListChange({ name: "REM", args: ["0", "RL", "N=b@example.com"], payload: null }),
      {
        kind: "remove",
        list: "RL",
        email: "b@example.com",
        guid: null,
        friendlyName: null,
      },
    );
    assert.equal(
      d.parseListChange({ name: "REM", args: ["5", "FL", "guid-1", "group-1"], payload: null }),
      null,
    );
    assert.equal(
      d.parseListChange({ name: "ADC", args: ["5", "FL", "C=guid-1", "group-1"], payload: null }),
      null,
    );
  });

  test("personal messages only from MSNP11", () => {
    assert.equal(dialectFor("MSNP10").parsePersonalMessage(UBX), null);
    assert.deepEqual(dialectFor("MSNP11").parsePersonalMessage(UBX), {
      email: "bob@example.com",
      personalMessage: "hi ☺",
    });
    assert.deepEqual(dialectFor("MSNP11").parsePersonalMessage({ ...UBX, payload: Buffer.from("junk") }), {
      email: "bob@example.com",
      personalMessage: "",
    });
  });

  test("CHL: MD5 with the MSNP7 pair, the MSN 6 pair on MSNP8–10, the new algorithm from MSNP11", () => {
    const chl = "15570131571988941333";
    const answers = ["MSNP7", "MSNP10", "MSNP11", "MSNP12"].map((v) => {
      const d = dialectFor(v);
      return [d.challengeProductId, d.answerChallenge(chl)];
    });
    assert.deepEqual(answers, [
      [MSNP7_CHALLENGE_PRODUCT.productId, answerChallengeMd5(chl, MSNP7_CHALLENGE_PRODUCT.productKey)],
      [MSN6_CHALLENGE_PRODUCT.productId, answerChallengeMd5(chl, MSN6_CHALLENGE_PRODUCT.productKey)],
      [MSNP11_CHALLENGE_PRODUCT.productId, answerChallengeMsnp11(chl, MSNP11_CHALLENGE_PRODUCT)],
      [MSNP11_CHALLENGE_PRODUCT.productId, answerChallengeMsnp11(chl, MSNP11_CHALLENGE_PRODUCT)],
    ]);
  });
});

describe("list sync bounds", () => {
  // Regression: a server streaming distinct LST/LSG lines grew the sync's maps
  // without bound until the SYN timeout.
  for (const version of ["MSNP7", "MSNP8", "MSNP12"]) {
    test(`${version}: contacts and groups beyond MAX_CONTACTS are ignored`, () => {
      const dialect = dialectFor(version);
      const sync = dialect.createListSync(6);
      const extra = MAX_CONTACTS + 100;
      sync.onSynReply(
        version === "MSNP12" ? ["t", "t", String(extra), String(extra)] : ["1", String(extra), String(extra)],
      );
      for (let i = 0; i < extra; i++) {
        const email = `c${i}@flood.test`;
        const lst =
          version === "MSNP7"
            ? ["6", "FL", "1", String(i), String(extra), email, "C", "0"]
            : version === "MSNP8"
              ? [email, "C", "3", "0"]
              : [`N=${email}`, "F=C", `C=guid-${i}`, "3"];
        sync.handle({ name: "LST", args: lst, payload: null });
        const lsg =
          version === "MSNP7"
            ? ["6", "1", String(i), String(extra), String(i), "G", "0"]
            : version === "MSNP8"
              ? [String(i), "G", "0"]
              : ["G", `gguid-${i}`];
        sync.handle({ name: "LSG", args: lsg, payload: null });
      }
      const result = sync.result();
      assert.equal(result.contacts.size, MAX_CONTACTS);
      assert.equal(result.groups.size, MAX_CONTACTS);
      assert.ok(result.contacts.has("c0@flood.test"), "the first contacts are kept");
    });
  }
});

describe("UBX personal message extraction", () => {
  test("the first <PSM>…</PSM> wins; unclosed or missing gives an empty message", () => {
    const dialect = dialectFor("MSNP12");
    const psm = (xml: string): string | undefined =>
      dialect.parsePersonalMessage({ name: "UBX", args: ["bob@example.com", "1"], payload: Buffer.from(xml) })
        ?.personalMessage;
    assert.equal(psm("<Data><PSM> a </PSM><PSM>b</PSM></Data>"), "a");
    assert.equal(psm("<PSM><PSM>x</PSM>"), "<PSM>x");
    assert.equal(psm("<Data><PSM>unclosed</Data>"), "");
    assert.equal(psm("</PSM><PSM>"), "");
    assert.equal(psm("<Data></Data>"), "");
  });

  test("a 1 MiB payload of unclosed <PSM> tags is linear, not quadratic", () => {
    // Regression (found by the fuzzer's repetition strategy): the lazy regex took ~30 s here.
    const dialect = dialectFor("MSNP12");
    const payload = Buffer.from("<PSM>".repeat(200_000));
    const started = performance.now();
    const result = dialect.parsePersonalMessage({ name: "UBX", args: ["bob@example.com", "1"], payload });
    const elapsed = performance.now() - started;
    assert.equal(result?.personalMessage, "");
    assert.ok(elapsed < 1000, `took ${elapsed.toFixed(0)} ms`);
  });
});
