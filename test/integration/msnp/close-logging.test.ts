/**
 * How an NS session's login and close are logged. Both are routine when we cause them: a login,
 * and our own close (a logout, or every puppet at once when the bridge stops), are logged at
 * debug, so a bridge restoring or stopping thousands of puppets does not write thousands of info
 * lines; a close the server or the network caused stays at info.
 */
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import type { MsnLogger } from "../../../src/msnp/events.js";
import { ALICE, BOB, Harness, waitForEvent } from "./helpers.js";

interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  meta: Record<string, unknown> | undefined;
}

function recordingLogger(entries: LogEntry[]): MsnLogger {
  const at =
    (level: LogEntry["level"]) =>
    (message: string, meta?: Record<string, unknown>): void => {
      entries.push({ level, message, meta });
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

describe("NS session close logging", () => {
  let harness: Harness;
  after(async () => harness?.stop());

  test("our own close at debug; a kick by the server at info, with its reason", async () => {
    harness = await Harness.start();
    const ownLogs: LogEntry[] = [];
    const alice = await harness.login(ALICE, { logger: recordingLogger(ownLogs) });
    // A login is routine too: a bridge restoring thousands of logins logs one summary instead.
    assert.deepEqual(
      ownLogs.filter((e) => e.message === "MSN session connected").map((e) => e.level),
      ["debug"],
    );
    await alice.close();
    const own = ownLogs.filter((e) => e.message === "MSN session closed");
    assert.deepEqual(
      own.map((e) => [e.level, e.meta?.reason]),
      [["debug", "local"]],
    );

    const kickedLogs: LogEntry[] = [];
    const bob = await harness.login(BOB, { logger: recordingLogger(kickedLogs) });
    const closed = waitForEvent(bob, "closed");
    harness.server.kick(BOB.email, "SSD");
    assert.equal((await closed).reason, "server-shutdown");
    const kicked = kickedLogs.filter((e) => e.message === "MSN session closed");
    assert.deepEqual(
      kicked.map((e) => [e.level, e.meta?.reason]),
      [["info", "server-shutdown"]],
    );
  });
});
