/**
 * The baseline of issue 7: the simplest relay that does the bridge's job for one direction. It
 * logs in with the project's NS client (login is not what is measured), and for every chat
 * invitation opens a raw TCP socket to the switchboard, reads MSG commands with a few lines of
 * parsing, and PUTs each text to the homeserver. No store, no portals, no translation, no
 * logging. Like the bridge it keeps each conversation's messages in order (one PUT in flight
 * per switchboard), so the ratio compares the bridge's overhead and not a weaker guarantee.
 *
 * For the other direction it is the baseline of a cold send: a line `cold <email> <text>` on its
 * standard input makes it open a switchboard with the project's protocol client (XFR, USR, CAL,
 * JOI), send the text, and leave (BYE) — the protocol's own cost, which the bridge's cold send
 * (store, portal, Matrix transaction) is compared with. It answers `sent` or `failed <reason>`.
 *
 * Run as its own process (as the bridge is): `node dist/bench/baseline-relay.js '<json>'`; it
 * prints "ready" once logged in.
 */
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { NotificationSession } from "../src/msnp/index.js";

interface RelayConfig {
  nsHost: string;
  nsPort: number;
  email: string;
  password: string;
  homeserverUrl: string;
  roomId: string;
  senderUserId: string;
}

const config = JSON.parse(process.argv[2] ?? "{}") as RelayConfig;
const agent = new Agent({ keepAlive: true });
const homeserver = new URL(config.homeserverUrl);
let txn = 0;

function put(body: string): Promise<void> {
  const path =
    `/_matrix/client/v3/rooms/${encodeURIComponent(config.roomId)}/send/m.room.message/b${txn++}` +
    `?user_id=${encodeURIComponent(config.senderUserId)}`;
  const json = JSON.stringify({ msgtype: "m.text", body });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: homeserver.hostname,
        port: homeserver.port,
        method: "PUT",
        path,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(json) },
      },
      (res) => {
        res.resume();
        res.on("end", resolve);
      },
    );
    req.on("error", reject);
    req.end(json);
  });
}

const HEADER_END = Buffer.from("\r\n\r\n");

/** Reads MSG commands off a switchboard socket and relays the text ones, in order. */
function relaySwitchboard(socket: Socket): void {
  let buffered: Buffer = Buffer.alloc(0);
  let chain = Promise.resolve();
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    for (;;) {
      const lineEnd = buffered.indexOf("\r\n");
      if (lineEnd === -1) return;
      const line = buffered.toString("utf8", 0, lineEnd);
      if (!line.startsWith("MSG ")) {
        buffered = buffered.subarray(lineEnd + 2);
        continue;
      }
      const length = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (buffered.length < lineEnd + 2 + length) return;
      const payload = buffered.subarray(lineEnd + 2, lineEnd + 2 + length);
      buffered = buffered.subarray(lineEnd + 2 + length);
      const split = payload.indexOf(HEADER_END);
      if (split === -1 || !payload.subarray(0, split).includes("text/plain")) continue;
      const text = payload.toString("utf8", split + 4);
      chain = chain
        .then(() => put(text))
        .catch((e: unknown) => console.error(`relay PUT failed: ${String(e)}`));
    }
  });
  socket.on("error", () => socket.destroy());
}

const ns = new NotificationSession({
  host: config.nsHost,
  port: config.nsPort,
  email: config.email,
  password: config.password,
  pingIntervalMs: 60_000,
  requestTimeoutMs: 10_000,
});
ns.on("ring", (ring) => {
  const socket = connect(ring.port, ring.host, () => {
    socket.write(`ANS 1 ${config.email} ${ring.cookie} ${ring.sessionId}\r\n`);
  });
  socket.setNoDelay(true);
  relaySwitchboard(socket);
});
async function coldSend(email: string, text: string): Promise<void> {
  const sb = await ns.openSwitchboard();
  try {
    await sb.invite(email);
    await sb.waitForJoin(email, 10_000);
    await sb.sendText(text);
  } finally {
    await sb.close();
  }
}

let commands = "";
let coldChain = Promise.resolve();
process.stdin.on("data", (chunk: Buffer) => {
  commands += chunk.toString("utf8");
  for (let end = commands.indexOf("\n"); end !== -1; end = commands.indexOf("\n")) {
    const [verb, email, ...words] = commands.slice(0, end).split(" ");
    commands = commands.slice(end + 1);
    if (verb !== "cold" || !email) continue;
    coldChain = coldChain
      .then(() => coldSend(email, words.join(" ")))
      .then(
        () => void process.stdout.write("sent\n"),
        (e: unknown) => void process.stdout.write(`failed ${String(e)}\n`),
      );
  }
});

await ns.connect();
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  ns.close().finally(() => process.exit(0));
});
