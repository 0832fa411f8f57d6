import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ScriptServer, type ScriptPeer } from "./script-server.js";
import { ALICE, newAliceSession, nextEvent, playFullLogin } from "./ns-script.js";
import type { NotificationSession } from "../../../src/msnp/notification.js";
import type { SwitchboardEvents, SwitchboardSession } from "../../../src/msnp/switchboard.js";
import { MAX_SWITCHBOARD_MEMBERS, stripEndpoint } from "../../../src/msnp/switchboard.js";
import {
  MsnArgumentError,
  MsnConnectionClosedError,
  MsnDeliveryError,
  MsnServerError,
  MsnTimeoutError,
} from "../../../src/msnp/errors.js";
import { classifyMessage } from "../../../src/msnp/mime.js";

const SESSION_ID = "091cb0006d6b88a43660e6af1f0cc72";
const XFR_COOKIE = "d0b8c4ab7760647d7b46";
const RNG_COOKIE = "d87b62d59ec86b92c3c4";

/** The §8.4 example payload. */
const SEED_TEXT_PAYLOAD =
  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=B; CO=ff0000; CS=0; PF=22\r\n\r\nHello Bob — ünïcødé ✓ 日本語";

let ns: ScriptServer;
let sb: ScriptServer;
let session: NotificationSession;
let nsPeer: ScriptPeer;

function mime(lines: string[]): string {
  return lines.join("\r\n");
}

function msgFrom(email: string, name: string, payload: string): string {
  return `MSG ${email} ${name} ${Buffer.byteLength(payload)}\r\n${payload}`;
}

/** §7.1 with the TrIDs of the seed: REA 8, ADD 9 FL, ADD 10 AL, then XFR 11 SB. */
async function openAsCaller(): Promise<{ board: SwitchboardSession; peer: ScriptPeer }> {
  const renaming = session.setFriendlyName("Alice");
  await nsPeer.expect(`REA 8 ${ALICE} Alice`);
  nsPeer.sendLines(`REA 8 2 ${ALICE} Alice`);
  await renaming;
  const adding = session.addContact("dave@example.com");
  await nsPeer.expect("ADD 9 FL dave@example.com dave@example.com");
  nsPeer.sendLines("ADD 9 FL 3 dave@example.com dave@example.com");
  await nsPeer.expect("ADD 10 AL dave@example.com dave@example.com");
  nsPeer.sendLines("ADD 10 AL 4 dave@example.com dave@example.com");
  await adding;

  const opening = session.openSwitchboard();
  await nsPeer.expect("XFR 11 SB");
  nsPeer.sendLines(`XFR 11 SB ${sb.address} CKI ${XFR_COOKIE}`);
  const peer = await sb.nextPeer();
  await peer.expect(`USR 1 ${ALICE} ${XFR_COOKIE}`);
  peer.sendLines(`USR 1 OK ${ALICE} Alice`);
  return { board: await opening, peer };
}

/** §7.2: RNG on the NS, then ANS/IRO/ANS OK on the SB. */
async function openAsAnswerer(
  iro: string[] = ["IRO 1 1 1 bob@example.com Bob%20B"],
): Promise<{ board: SwitchboardSession; peer: ScriptPeer }> {
  const ring = nextEvent(session, "ring");
  nsPeer.sendLines(`RNG ${SESSION_ID} ${sb.address} CKI ${RNG_COOKIE} bob@example.com Bob%20B`);
  const answering = session.answerInvitation(await ring);
  const peer = await sb.nextPeer();
  await peer.expect(`ANS 1 ${ALICE} ${RNG_COOKIE} ${SESSION_ID}`);
  peer.sendLines(...iro, "ANS 1 OK");
  return { board: await answering, peer };
}

function record(
  board: SwitchboardSession,
  ...names: Array<keyof SwitchboardEvents>
): Array<[string, unknown]> {
  const seen: Array<[string, unknown]> = [];
  for (const name of names) board.on(name, (payload) => seen.push([name, payload]));
  return seen;
}

const tick = (ms = 20): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeEach(async () => {
  ns = await ScriptServer.start();
  sb = await ScriptServer.start();
  session = newAliceSession(ns.port);
  const connecting = session.connect();
  nsPeer = await ns.nextPeer();
  await playFullLogin(nsPeer);
  await connecting;
});

afterEach(async () => {
  session.on("closed", () => undefined);
  await session.close().catch(() => undefined);
  await ns.close();
  await sb.close();
});

describe("SwitchboardSession: we invite (msnp.md §7.1, byte for byte)", () => {
  test("XFR 11 SB → USR 1 → CAL 2 RINGING → JOI", async () => {
    const { board, peer } = await openAsCaller();
    assert.equal(board.sessionId, null);
    assert.equal(board.participants.size, 0);
    const joined = nextEvent(board, "join");
    const inviting = board.invite("bob@example.com");
    await peer.expect("CAL 2 bob@example.com");
    peer.sendLines(`CAL 2 RINGING ${SESSION_ID}`);
    await inviting;
    assert.equal(board.sessionId, SESSION_ID);
    const waiting = board.waitForJoin("Bob@Example.com", 1000);
    peer.sendLines("JOI bob@example.com Bob%20B");
    assert.deepEqual(await joined, { email: "bob@example.com", name: "Bob B" });
    await waiting;
    assert.deepEqual([...board.participants], [["bob@example.com", "Bob B"]]);
  });

  test("CAL to an offline contact rejects with MsnServerError 217", async () => {
    const { board, peer } = await openAsCaller();
    const inviting = board.invite("carol@example.com");
    await peer.expect("CAL 2 carol@example.com");
    peer.sendLines("217 2");
    await assert.rejects(inviting, (error: unknown) => error instanceof MsnServerError && error.code === 217);
    assert.equal(board.isClosed, false);
  });

  test("invite validates the address", async () => {
    const { board, peer } = await openAsCaller();
    await assert.rejects(board.invite("bob example.com"), MsnArgumentError);
    assert.ok(await peer.silentFor(20));
  });

  test("waitForJoin times out with MsnTimeoutError and fails fast when the SB closes", async () => {
    const { board, peer } = await openAsCaller();
    await assert.rejects(board.waitForJoin("bob@example.com", 30), MsnTimeoutError);
    const waiting = board.waitForJoin("bob@example.com", 5000);
    peer.end();
    await assert.rejects(waiting, MsnConnectionClosedError);
  });

  test("911 on the SB USR rejects openSwitchboard", async () => {
    const opening = session.openSwitchboard();
    await nsPeer.expect("XFR 8 SB");
    nsPeer.sendLines(`XFR 8 SB ${sb.address} CKI expired`);
    const peer = await sb.nextPeer();
    await peer.expect(`USR 1 ${ALICE} expired`);
    peer.sendLines("911 1");
    await assert.rejects(opening, (error: unknown) => error instanceof MsnServerError && error.code === 911);
    await peer.closed;
  });

  test("913 on XFR (hidden) rejects with a typed error", async () => {
    const opening = session.openSwitchboard();
    await nsPeer.expect("XFR 8 SB");
    nsPeer.sendLines("913 8");
    await assert.rejects(opening, (error: unknown) => error instanceof MsnServerError && error.code === 913);
  });
});

describe("SwitchboardSession: we are invited (msnp.md §7.2, byte for byte)", () => {
  test("RNG → ANS 1 → IRO → ANS 1 OK", async () => {
    const joins: unknown[] = [];
    const { board } = await openAsAnswerer();
    board.on("join", (event) => joins.push(event));
    assert.equal(board.sessionId, SESSION_ID);
    assert.deepEqual([...board.participants], [["bob@example.com", "Bob B"]]);
    assert.equal(joins.length, 0, "IRO roster is state, not join events");
  });

  test("MSNP16-style endpoints are stripped, duplicates and ourselves dropped", async () => {
    const { board, peer } = await openAsAnswerer([
      "IRO 1 1 4 bob@example.com;{11111111-2222-3333-4444-555555555555} Bob 0",
      "IRO 1 2 4 bob@example.com Bob 0",
      `IRO 1 3 4 ${ALICE};{99999999-2222-3333-4444-555555555555} Alice 0`,
      "IRO 1 4 4 carol@example.com Carol 0",
    ]);
    assert.deepEqual([...board.participants.keys()].sort(), ["bob@example.com", "carol@example.com"]);
    const events = record(board, "join", "leave");
    peer.sendLines(
      "JOI dave@example.com;{aaaaaaaa-2222-3333-4444-555555555555} Dave 0",
      "JOI dave@example.com Dave 0",
      `JOI ${ALICE};{bbbbbbbb-2222-3333-4444-555555555555} Alice 0`,
      "BYE carol@example.com;{cccccccc-2222-3333-4444-555555555555}",
      "BYE carol@example.com",
    );
    await tick(30);
    assert.deepEqual(events, [
      ["join", { email: "dave@example.com", name: "Dave" }],
      ["leave", { email: "carol@example.com", idle: false }],
    ]);
    assert.equal(stripEndpoint("x@y.z;{g}"), "x@y.z");
  });

  test("a JOI flood stops at MAX_SWITCHBOARD_MEMBERS; BYE still frees a place", async () => {
    // Regression: every new address in JOI grew the participants without bound.
    const { board, peer } = await openAsAnswerer(["IRO 1 1 1 bob@example.com Bob 0"]);
    let joins = 0;
    board.on("join", () => void joins++);
    let lines = "";
    for (let i = 0; i < MAX_SWITCHBOARD_MEMBERS + 200; i++) lines += `JOI j${i}@flood.test J\r\n`;
    peer.send(lines);
    for (let i = 0; i < 50 && board.participants.size < MAX_SWITCHBOARD_MEMBERS; i++) await tick(20);
    await tick(30);
    assert.equal(board.participants.size, MAX_SWITCHBOARD_MEMBERS);
    assert.equal(joins, MAX_SWITCHBOARD_MEMBERS - 1);
    assert.ok(board.hasParticipant("bob@example.com"));
    peer.sendLines("BYE j0@flood.test", "JOI carol@example.com Carol 0");
    await tick(30);
    assert.ok(board.hasParticipant("carol@example.com"));
    assert.equal(board.participants.size, MAX_SWITCHBOARD_MEMBERS);
  });

  test("wrong cookie: the server drops us and answerInvitation rejects", async () => {
    const ring = nextEvent(session, "ring");
    nsPeer.sendLines(`RNG ${SESSION_ID} ${sb.address} CKI stale bob@example.com Bob`);
    const answering = session.answerInvitation(await ring);
    const peer = await sb.nextPeer();
    await peer.readLine();
    peer.destroy();
    await assert.rejects(answering, MsnConnectionClosedError);
  });
});

describe("SwitchboardSession messages", () => {
  test("incoming text (§8.4 payload), typing, nudge, invite, p2p, keepalive", async () => {
    const { board, peer } = await openAsAnswerer();
    const events = record(board, "message", "typing", "nudge", "unsupported");
    peer.send(
      msgFrom("bob@example.com", "Bob%20B", SEED_TEXT_PAYLOAD) +
        msgFrom(
          "bob@example.com",
          "Bob%20B",
          mime([
            "MIME-Version: 1.0",
            "Content-Type: text/x-msmsgscontrol",
            "TypingUser: mallory@example.com",
            "",
            "",
          ]),
        ) +
        msgFrom(
          "bob@example.com",
          "Bob%20B",
          mime(["MIME-Version: 1.0", "Content-Type: text/x-msnmsgr-datacast", "", "ID: 1", "", ""]),
        ) +
        msgFrom(
          "bob@example.com",
          "Bob%20B",
          mime([
            "MIME-Version: 1.0",
            "Content-Type: text/x-msmsgsinvite; charset=UTF-8",
            "",
            "Invitation-Command: INVITE",
            "",
            "",
          ]),
        ) +
        msgFrom(
          "bob@example.com",
          "Bob%20B",
          mime(["MIME-Version: 1.0", "Content-Type: text/x-keepalive", "", ""]),
        ) +
        msgFrom(
          "bob@example.com",
          "Bob%20B",
          mime([
            "MIME-Version: 1.0",
            "Content-Type: application/x-msnmsgrp2p",
            "P2P-Dest: alice@example.com",
            "",
            "\u0000\u0000",
          ]),
        ),
    );
    await tick(50);
    const summary = events.map(([name, payload]) => {
      const p = payload as { from: string; text?: string; kind?: string };
      return [name, p.from, p.text ?? p.kind ?? ""];
    });
    assert.deepEqual(summary, [
      ["message", "bob@example.com", "Hello Bob — ünïcødé ✓ 日本語"],
      ["typing", "bob@example.com", ""],
      ["nudge", "bob@example.com", ""],
      ["unsupported", "bob@example.com", "invite"],
      ["unsupported", "bob@example.com", "p2p"],
    ]);
    const message = events[0]?.[1] as SwitchboardEvents["message"];
    assert.equal(message.fromName, "Bob B");
    assert.equal(message.format?.color, "#0000ff");
    assert.equal(message.format?.bold, true);
    assert.equal(message.format?.font, "Segoe UI");
  });

  test("sendText writes MSG <trid> N <bytes> with the text headers (§8.1/§8.4)", async () => {
    const { board, peer } = await openAsCaller();
    const trIds = await board.sendText("Hello Bob — ünïcødé ✓ 日本語", {
      format: { font: "Segoe UI", bold: true, color: "#0000ff", charset: 0, pitchFamily: 0x22 },
    });
    assert.deepEqual(trIds, [2]);
    const { line, payload } = await peer.readPayloadCommand();
    assert.equal(line, `MSG 2 N ${Buffer.byteLength(SEED_TEXT_PAYLOAD)}`);
    assert.equal(payload.toString("utf8"), SEED_TEXT_PAYLOAD);
  });

  test("a 5,000-character multibyte message is split into ordered chunks ≤ 1664 bytes", async () => {
    const { board, peer } = await openAsCaller();
    const alphabet = ["a", "é", "日", "👋", " ", "\n"];
    const text = Array.from({ length: 5000 }, (_, i) => alphabet[i % 6]).join("");
    const sending = board.sendText(text);
    const bodies: string[] = [];
    const trIds = await sending;
    for (const expectedTrId of trIds) {
      const { tokens, payload } = await peer.readPayloadCommand();
      assert.deepEqual(tokens.slice(0, 3), ["MSG", String(expectedTrId), "N"]);
      assert.ok(payload.length <= 1664, `payload ${payload.length} bytes`);
      const content = classifyMessage(payload);
      assert.equal(content.kind, "text");
      bodies.push(payload.subarray(payload.indexOf("\r\n\r\n") + 4).toString("utf8"));
    }
    assert.ok(trIds.length >= 4);
    assert.equal(bodies.join(""), text.replace(/\n/g, "\r\n"));
  });

  test("ack A: resolves on ACK, rejects with MsnDeliveryError on NAK and MsnTimeoutError on silence", async () => {
    const { board, peer } = await openAsCaller();
    const ok = board.sendText("one", { ack: "A" });
    assert.match((await peer.readPayloadCommand()).line, /^MSG 2 A \d+$/);
    peer.sendLines("ACK 2");
    assert.deepEqual(await ok, [2]);

    const nak = board.sendText("two", { ack: "A" });
    await peer.readPayloadCommand();
    peer.sendLines("NAK 3");
    await assert.rejects(nak, (error: unknown) => error instanceof MsnDeliveryError && error.trId === 3);

    const silent = board.sendText("three", { ack: "A", ackTimeoutMs: 50 });
    await peer.readPayloadCommand();
    await assert.rejects(silent, MsnTimeoutError);
  });

  test("ack A on a split message waits for each chunk before sending the next", async () => {
    const { board, peer } = await openAsCaller();
    const sending = board.sendText("x".repeat(3000), { ack: "A" });
    const first = await peer.readPayloadCommand();
    assert.ok(await peer.silentFor(30), "second chunk must wait for the first ACK");
    peer.sendLines(`ACK ${first.tokens[1]}`);
    const second = await peer.readPayloadCommand();
    peer.sendLines(`ACK ${second.tokens[1]}`);
    assert.deepEqual(await sending, [Number(first.tokens[1]), Number(second.tokens[1])]);
  });

  test("skipChunks resumes a split message after its acknowledged chunks; onChunkDone counts them", async () => {
    const { board, peer } = await openAsCaller();
    const text = "x".repeat(2000) + "y".repeat(2000) + "z".repeat(500); // three chunks
    const send = async (skipChunks: number): Promise<{ bodies: string[]; done: number[] }> => {
      const done: number[] = [];
      const sending = board.sendText(text, { ack: "A", skipChunks, onChunkDone: (i) => done.push(i) });
      const bodies: string[] = [];
      for (;;) {
        const { tokens, payload } = await peer.readPayloadCommand();
        bodies.push(payload.subarray(payload.indexOf("\r\n\r\n") + 4).toString("utf8"));
        peer.sendLines(`ACK ${tokens[1]}`);
        if (await peer.silentFor(50)) break; // the next chunk follows its predecessor's ACK at once
      }
      await sending;
      return { bodies, done };
    };
    const all = await send(0);
    assert.equal(all.bodies.join(""), text);
    assert.deepEqual(all.done, [0, 1, 2]);
    const rest = await send(1);
    assert.deepEqual(rest.bodies, all.bodies.slice(1), "the same split, minus the first chunk");
    assert.deepEqual(rest.done, [1, 2]);
    await assert.rejects(board.sendText("a", { skipChunks: -1 }), MsnArgumentError);
  });

  test("ack N: a later NAK is reported as deliveryFailed", async () => {
    const { board, peer } = await openAsCaller();
    const [trId] = await board.sendText("hello");
    await peer.readPayloadCommand();
    const failed = nextEvent(board, "deliveryFailed");
    peer.sendLines(`NAK ${trId}`);
    assert.deepEqual(await failed, { trId });
  });

  test("typing (ack U, TypingUser) and nudge payloads", async () => {
    const { board, peer } = await openAsCaller();
    board.sendTyping(ALICE);
    const typing = await peer.readPayloadCommand();
    assert.match(typing.line, /^MSG 2 U \d+$/);
    assert.equal(
      typing.payload.toString(),
      `MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: ${ALICE}\r\n\r\n\r\n`,
    );
    await board.sendNudge();
    const nudge = await peer.readPayloadCommand();
    assert.match(nudge.line, /^MSG 3 N \d+$/);
    assert.equal(classifyMessage(nudge.payload).kind, "nudge");
  });

  test("messages of two concurrent sends never interleave", async () => {
    const { board, peer } = await openAsCaller();
    const a = board.sendText("A".repeat(2500), { ack: "A" });
    const b = board.sendText("B".repeat(10), { ack: "A" });
    const seen: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { tokens, payload } = await peer.readPayloadCommand();
      seen.push(payload.toString().slice(-1));
      peer.sendLines(`ACK ${tokens[1]}`);
    }
    await Promise.all([a, b]);
    assert.deepEqual(seen, ["A", "A", "B"]);
  });

  test("sendText refuses bad ack modes and replaces lone surrogates with U+FFFD", async () => {
    const { board, peer } = await openAsCaller();
    await assert.rejects(board.sendText("x", { ack: "D" as never }), MsnArgumentError);
    await assert.rejects(board.sendText("x", { format: { color: "red" } }), MsnArgumentError);
    assert.ok(await peer.silentFor(20));
    await board.sendText("bad \ud800 end \udc00");
    const { payload } = await peer.readPayloadCommand();
    assert.ok(payload.toString("utf8").endsWith("bad \ufffd end \ufffd"));
  });

  test("BYE with idle flag, then close() sends OUT", async () => {
    const { board, peer } = await openAsAnswerer();
    const left = nextEvent(board, "leave");
    peer.sendLines("BYE bob@example.com 1");
    assert.deepEqual(await left, { email: "bob@example.com", idle: true });
    const closed = nextEvent(board, "closed");
    await board.close();
    await peer.expect("OUT");
    assert.deepEqual(await closed, { reason: "local" });
    assert.throws(() => board.sendTyping(), MsnConnectionClosedError);
  });

  test("server closing the SB: socket-closed; garbage: protocol-error", async () => {
    const first = await openAsAnswerer();
    const closed = nextEvent(first.board, "closed");
    first.peer.end();
    assert.equal((await closed).reason, "socket-closed");

    const second = await openAsAnswerer();
    const broken = nextEvent(second.board, "closed");
    second.peer.send("MSG bob@example.com Bob 99999999\r\n");
    assert.equal((await broken).reason, "protocol-error");
  });

  test("closing the notification session closes its switchboards", async () => {
    const { board, peer } = await openAsAnswerer();
    const closed = nextEvent(board, "closed");
    await session.close();
    await peer.expect("OUT");
    assert.equal((await closed).reason, "local");
  });
});
