/**
 * A login is routine and logged at debug, redirect included (the dispatch server redirects every
 * login): a bridge restoring 10,000 logins must not write 10,000 info lines, or twice that.
 */
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ScriptServer } from "./script-server.js";
import { newAliceSession, playFullLogin, playRedirect } from "./ns-script.js";
import type { NotificationSession } from "../../../src/msnp/notification.js";
import type { MsnLogger } from "../../../src/msnp/events.js";

let server: ScriptServer;
let session: NotificationSession | null = null;

beforeEach(async () => {
  server = await ScriptServer.start();
});

afterEach(async () => {
  session?.on("closed", () => undefined);
  await session?.close().catch(() => undefined);
  await server.close();
});

describe("NS login logging", () => {
  test("a redirected login writes nothing above debug", async () => {
    const lines: [string, string][] = [];
    const at =
      (level: string) =>
      (message: string): void => {
        lines.push([level, message]);
      };
    const logger: MsnLogger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
    const second = await ScriptServer.start();
    try {
      session = newAliceSession(server.port, { logger });
      const connecting = session.connect();
      await playRedirect(await server.nextPeer(), second.address, server.address);
      await playFullLogin(await second.nextPeer());
      await connecting;
      // Checked before the server goes away: a close we did not cause is logged at info.
      const messages = lines.map(([, message]) => message);
      assert.ok(messages.includes("redirected to another notification server"));
      assert.ok(messages.includes("MSN session connected"));
      assert.deepEqual(
        lines.filter(([level]) => level !== "debug"),
        [],
      );
      await session.close();
    } finally {
      await second.close();
    }
  });
});
