/**
 * The thread behind early-listener.ts: answers the appservice port while the main thread is busy
 * loading the bridge's libraries (CommonJS loading blocks the main thread's event loop, so a
 * server there could not answer until it is done). Nothing here but node:http.
 *
 * workerData: `{ port, hostname }`. Posts `{ listening: port }` or `{ error: message, code }`;
 * on any message from the main thread it stops accepting and exits.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { parentPort, workerData } from "node:worker_threads";

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json",
    "content-length": Buffer.byteLength(text),
    // The bridge takes over this port within a second or two; keep no connection to this thread.
    connection: "close",
    ...(status === 503 ? { "retry-after": "1" } : {}),
  });
  res.end(text);
}

function whileStarting(req: IncomingMessage, res: ServerResponse): void {
  // Transaction bodies are not read while starting; drain them so the response can be sent.
  req.resume();
  const path = (req.url ?? "/").split("?")[0];
  if (req.method === "GET" && path === "/health") reply(res, 200, "OK");
  else if (req.method === "GET" && path === "/live") reply(res, 200, { status: "ok" });
  else if (req.method === "GET" && path === "/ready")
    reply(res, 503, { status: "unavailable", reason: "the bridge is starting" });
  else reply(res, 503, { errcode: "M_UNKNOWN", error: "the bridge is starting; try again shortly" });
}

const { port, hostname } = workerData as { port: number; hostname: string };
const server = createServer(whileStarting);
server.once("error", (e: NodeJS.ErrnoException) => {
  parentPort?.postMessage({ error: e.message, code: e.code });
  process.exit(0);
});
server.listen({ port, host: hostname }, () => {
  const address = server.address();
  parentPort?.postMessage({ listening: typeof address === "object" && address ? address.port : port });
});
parentPort?.once("message", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
