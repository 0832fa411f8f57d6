/**
 * Runs the MSN test server from the command line, for demos and manual testing:
 *
 *   node dist/test/msn-server/cli.js --port 1863 --accounts accounts.yaml [--sb-port N] [--passport-port N]
 *
 * The accounts file is YAML: a list of {email, password, name} (optionally `contacts: [emails]`
 * for a pre-filled contact list, and `salt`). Prints one line once listening (with the Passport
 * nexus URL MSNP8+ clients fetch their TWN ticket from); SIGINT/SIGTERM stop it.
 */
import { isIP } from "node:net";
import { parseArgs } from "node:util";

import { AccountSpecError, loadAccountsFile } from "./accounts.js";
import { MsnTestServer } from "./server.js";

const USAGE = `usage: msn-server --accounts FILE [--port PORT] [--sb-port PORT] [--host 127.0.0.1] [options]

  --accounts FILE     YAML list of {email, password, name} (required)
  --port PORT         Notification Server port (default 1863; 0 = any free port)
  --sb-port PORT      Switchboard port (default PORT+1; any free port when PORT is 0)
  --passport-port PORT  Passport (TWN ticket) HTTP port (default: any free port)
  --host ADDRESS      loopback address to bind (default 127.0.0.1; only loopback is allowed)
  --duplicate-nln     send every NLN twice, as Escargot sometimes does
  --challenges        send CHL at login and verify QRY
  --sb-idle-timeout MS  end switchboards idle for MS milliseconds with BYE email 1
  --verbose           log every line in and out on stderr
  --help              show this help`;

class UsageError extends Error {}

function parsePort(value: string, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535)
    throw new UsageError(`${what} must be a port number 0–65535, got "${value}"`);
  return Number(value);
}

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        accounts: { type: "string" },
        port: { type: "string" },
        "sb-port": { type: "string" },
        "passport-port": { type: "string" },
        host: { type: "string" },
        "duplicate-nln": { type: "boolean" },
        challenges: { type: "boolean" },
        "sb-idle-timeout": { type: "string" },
        verbose: { type: "boolean" },
        help: { type: "boolean" },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.accounts === undefined) throw new UsageError("--accounts FILE is required");
  const nsPort = parsePort(values.port ?? "1863", "--port");
  let sbPort: number;
  if (values["sb-port"] !== undefined) sbPort = parsePort(values["sb-port"], "--sb-port");
  else if (nsPort === 0) sbPort = 0;
  else if (nsPort === 65535)
    throw new UsageError("--port 65535 leaves no room for the switchboard; give --sb-port");
  else sbPort = nsPort + 1;
  if (nsPort !== 0 && nsPort === sbPort) throw new UsageError("--port and --sb-port must differ");
  const httpPort =
    values["passport-port"] === undefined ? 0 : parsePort(values["passport-port"], "--passport-port");
  if (httpPort !== 0 && (httpPort === nsPort || httpPort === sbPort))
    throw new UsageError("--passport-port must differ from the NS and SB ports");
  const host = values.host ?? "127.0.0.1";
  if (!isLoopback(host))
    throw new UsageError(`--host must be a loopback address (127.x.x.x, ::1, localhost), got "${host}"`);
  let idleTimeout: number | null = null;
  if (values["sb-idle-timeout"] !== undefined) {
    if (!/^\d+$/.test(values["sb-idle-timeout"]) || Number(values["sb-idle-timeout"]) === 0) {
      throw new UsageError(`--sb-idle-timeout must be a positive number of milliseconds`);
    }
    idleTimeout = Number(values["sb-idle-timeout"]);
  }

  const accounts = await loadAccountsFile(values.accounts);
  const verbose = values.verbose === true;
  const server = new MsnTestServer({
    host,
    nsPort,
    sbPort,
    httpPort,
    accounts,
    duplicateNln: values["duplicate-nln"] === true,
    challenges: values.challenges === true,
    sbIdleTimeoutMs: idleTimeout,
    log: (message) => process.stderr.write(`msn-server: ${message}\n`),
  });
  if (verbose) {
    const show =
      (arrow: string) =>
      (r: {
        connection: string;
        connectionId: number;
        email: string | undefined;
        line: string;
        payload?: Buffer;
      }) => {
        const who = `${r.connection}#${r.connectionId}${r.email ? ` ${r.email}` : ""}`;
        const payload = r.payload ? ` (+${r.payload.length} bytes)` : "";
        process.stderr.write(`[${who}] ${arrow} ${r.line}${payload}\n`);
      };
    server.on("command", show(">"));
    server.on("sent", show("<"));
  }
  await server.start();
  const count = accounts.length === 1 ? "1 account" : `${accounts.length} accounts`;
  process.stdout.write(
    `MSN test server: NS ${server.host}:${server.nsPort}, SB ${server.host}:${server.sbPort}, passport ${server.passportUrl}, ${count}\n`,
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`msn-server: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      stopping = true;
      server.stop().then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`msn-server: error while stopping: ${String(err)}\n`);
          resolve(1);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`msn-server: ${err.message}\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (err instanceof AccountSpecError) {
      process.stderr.write(`msn-server: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      const reason = err instanceof Error ? err.message : String(err);
      process.stderr.write(
        `msn-server: ${code === "EADDRINUSE" ? `port already in use (${reason})` : reason}\n`,
      );
      process.exitCode = 1;
    }
  },
);
