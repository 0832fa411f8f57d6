/**
 * A logged-in NotificationSession over real TCP whose server, after a valid login, turns hostile
 * and sprays fuzzed bytes (bench/lib/msn-fuzz.ts). The session must end with a typed reason and a
 * logged typed error, and nothing may escape as an uncaught exception or unhandled rejection.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { generateInput, type FuzzInput } from "../../../bench/lib/msn-fuzz.js";
import { CommandDecoder } from "../../../src/msnp/framing.js";
import { FramingError } from "../../../src/msnp/errors.js";
import type { MsnLogger } from "../../../src/msnp/events.js";
import { ScriptServer, type ScriptPeer } from "../../unit/msnp/script-server.js";
import { newAliceSession, nextEvent, playFullLogin } from "../../unit/msnp/ns-script.js";

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

/** Enough to pass any pending payload (≤ 1 MiB by default) many times over; a spray never gets near it. */
const MAX_SPRAY_BYTES = 8 * 1024 * 1024;
const OUT = Buffer.from("OUT");
const CLEAN_INPUTS = 200;

const SENTINEL = Buffer.from("QNG 4242\r\n");

/**
 * Whether the stream decodes without a framing error and ends on a command boundary: a command
 * sent after it arrives intact (not swallowed as payload or glued to a partial line).
 */
function isCleanlyFramed(bytes: Buffer): boolean {
  try {
    const last = new CommandDecoder().push(Buffer.concat([bytes, SENTINEL])).at(-1);
    return last?.name === "QNG" && last.args.join(" ") === "4242" && last.payload === null;
  } catch {
    return false;
  }
}

/** Writes the input in its read sizes (up to a point: thousands of 1-byte writes only cost time). */
function sendAsRead(peer: ScriptPeer, input: FuzzInput): void {
  if (input.chunks.length > 64) {
    peer.send(input.bytes);
    return;
  }
  let offset = 0;
  for (const size of input.chunks) {
    peer.send(input.bytes.subarray(offset, offset + size));
    offset += size;
  }
}

describe("NotificationSession under a fuzzed server stream (real TCP)", () => {
  const escaped: unknown[] = [];
  const onUncaught = (error: unknown): void => {
    escaped.push(error);
  };
  let server: ScriptServer;

  before(async () => {
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
    server = await ScriptServer.start();
  });
  after(async () => {
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
    await server.close();
  });

  for (const seed of [1, 2, 3]) {
    test(`spray seed ${seed}: closed as protocol-error with a logged FramingError, nothing escapes`, async () => {
      const logs: LogEntry[] = [];
      const session = newAliceSession(server.port, { logger: recordingLogger(logs) });
      const connected = session.connect();
      const peer = await server.nextPeer();
      await playFullLogin(peer);
      await connected;
      assert.equal(session.isConnected, true);
      const closed = nextEvent(session, "closed", 5000);

      // Phase 1: hostile but well-framed streams (mutated MIME, odd arguments, stray replies,
      // floods of tiny commands). They reach the session's command handling, which must shrug
      // them off: the session stays up.
      let clean = 0;
      let index = 0;
      for (; clean < CLEAN_INPUTS; index++) {
        const input = generateInput(seed, index);
        if (input.bytes.includes(OUT) || !isCleanlyFramed(input.bytes)) continue;
        sendAsRead(peer, input);
        clean++;
        if (clean % 8 === 0) await sleep(1);
      }
      await sleep(20);
      assert.equal(session.isConnected, true, `still connected after ${clean} well-framed hostile inputs`);

      // Phase 2: everything the generator makes, until the session gives up on the stream.
      let sent = 0;
      let inputs = 0;
      for (; session.isConnected && !peer.isClosed && sent < MAX_SPRAY_BYTES; index++) {
        const input = generateInput(seed, index);
        // `OUT` would end the session on the server's word (a clean close), not on bad framing.
        if (input.bytes.includes(OUT)) continue;
        sendAsRead(peer, input);
        sent += input.bytes.length;
        inputs++;
        // Let the client read between inputs, as it would between TCP segments.
        if (inputs % 8 === 0) await sleep(1);
      }

      const event = await closed;
      assert.equal(event.reason, "protocol-error", `closed after ${inputs} inputs (${sent} bytes)`);
      assert.ok(event.error instanceof FramingError, `error: ${String(event.error)}`);
      assert.equal(session.isConnected, false);
      await peer.closed; // the client dropped the connection

      const framingLog = logs.find((entry) => entry.message === "NS framing error; closing connection");
      assert.equal(framingLog?.level, "warn");
      assert.equal(framingLog?.meta?.errorName, "FramingError");
      const closedLog = logs.find((entry) => entry.message === "MSN session closed");
      assert.equal(closedLog?.meta?.reason, "protocol-error");
      // A listener or handler that threw is logged at error level: none may have.
      assert.deepEqual(
        logs.filter((entry) => entry.level === "error"),
        [],
      );
      // Late timers (a CHL answer's QRY timing out, …) must not surface afterwards either.
      await sleep(20);
      assert.deepEqual(escaped, []);
    });
  }
});
