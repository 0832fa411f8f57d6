/**
 * Issue 5, item 6: the homeserver goes away while MSN contacts keep writing. The bridge runs as its
 * own process against a real HTTP endpoint (the benchmarks' stub homeserver), which stops
 * listening — connections refused, keep-alive sockets closed — and comes back on the same port.
 * Messages sent meanwhile must reach Matrix once the endpoint is back: in order, none lost, none
 * twice; past the portal's buffer (RELAY_BUFFER_MESSAGES) the oldest are kept and the overflow is
 * reported in the room.
 *
 * The outage lasts HS_OUTAGE_MS (default 3 s) so the suite stays fast. A 60-second outage is the
 * same path: the bridge retries a refused send with backoff capped at 30 s for up to 10 minutes
 * (`homeserverRetry` in src/app.ts), so 60 s are well inside the window; `HS_OUTAGE_MS=60000` runs
 * this test with a real minute.
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { BridgeRig } from "../../../bench/lib/bridge-rig.js";
import type { ArrivedMessage } from "../../../bench/lib/stub-homeserver.js";
import { RELAY_BUFFER_MESSAGES } from "../../../src/bridge/portal.js";

const OUTAGE_MS = Number(process.env.HS_OUTAGE_MS ?? 3000);
/** Backoff is capped at 30 s: after the endpoint returns, the next attempt comes within that. */
const RECOVERY_MS = 45_000;

describe(
  "homeserver outage (bridge process, HTTP endpoint that goes away)",
  { timeout: 180_000 + OUTAGE_MS * 2 },
  () => {
    let rig: BridgeRig;
    let port: number;

    before(async () => {
      rig = await BridgeRig.start(1);
      port = Number(new URL(rig.homeserver.url).port);
    });

    after(async () => {
      await rig?.stop();
    });

    const inRoom = (prefix: string): ArrivedMessage[] =>
      rig.homeserver.messages.filter(
        (m) => m.roomId === rig.contacts[0]!.roomId && String(m.content.body).startsWith(prefix),
      );

    test(`messages sent during a ${OUTAGE_MS} ms outage arrive once each, in order, when it is back`, async () => {
      const sb = rig.contacts[0]!.toBridge;
      await rig.homeserver.stop();
      const count = 20;
      for (let i = 0; i < count; i++) {
        await sb.sendText(`outage ${i}`);
        await sleep(OUTAGE_MS / count);
      }
      assert.equal(inRoom("outage ").length, 0, "nothing can have arrived while it was down");
      await rig.homeserver.start(port);
      await rig.homeserver.waitForMessage((m) => m.content.body === `outage ${count - 1}`, RECOVERY_MS);
      // Anything still in flight (a duplicate, a straggler) would land within a moment.
      await sleep(300);
      assert.deepEqual(
        inRoom("outage ").map((m) => m.content.body),
        Array.from({ length: count }, (_, i) => `outage ${i}`),
      );
    });

    test(`past ${RELAY_BUFFER_MESSAGES} waiting messages the oldest are kept and the rest reported once`, async () => {
      const sb = rig.contacts[0]!.toBridge;
      await rig.homeserver.stop();
      const extra = 7;
      const total = RELAY_BUFFER_MESSAGES + extra;
      for (let i = 0; i < total; i++) void sb.sendText(`flood ${i}`);
      // Let every MSG reach the bridge before the endpoint returns.
      await sleep(Math.max(OUTAGE_MS, 1500));
      await rig.homeserver.start(port);
      const notice = await rig.homeserver.waitForMessage(
        (m) =>
          m.roomId === rig.contacts[0]!.roomId &&
          /lost while the Matrix homeserver/.test(String(m.content.body)),
        RECOVERY_MS,
      );
      assert.equal(
        notice.content.body,
        `⚠️ ${extra} MSN messages were lost while the Matrix homeserver was unreachable.`,
      );
      assert.equal(notice.content.msgtype, "m.notice");
      await sb.sendText("flood after");
      await rig.homeserver.waitForMessage((m) => m.content.body === "flood after", RECOVERY_MS);
      const seen = rig.homeserver.messages
        .filter((m) => m.roomId === rig.contacts[0]!.roomId)
        .map((m) => String(m.content.body))
        .filter((b) => b.startsWith("flood ") || b === notice.content.body);
      assert.deepEqual(seen, [
        ...Array.from({ length: RELAY_BUFFER_MESSAGES }, (_, i) => `flood ${i}`),
        notice.content.body,
        "flood after",
      ]);
    });
  },
);
