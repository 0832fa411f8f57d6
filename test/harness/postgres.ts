/**
 * A private, throw-away PostgreSQL server for tests: its own data directory under the temp dir,
 * listening on 127.0.0.1 on a free port, trust auth, durability off (speed over safety: the data
 * dies with the test). Uses Debian's `postgresql` package binaries, which scripts/test.sh installs.
 *
 * PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
 * `postgres` OS user that the package creates.
 */
import { execFile, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

export interface PostgresServer {
  /** URI of a fresh database created for the caller. */
  uri: string;
  /** Creates another empty database on the same server and returns its URI. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown, waits) and deletes its data directory. Idempotent. */
  stop(): Promise<void>;
}

const INSTALL_HINT =
  "install Debian's PostgreSQL server (apt-get update && apt-get install -y postgresql); scripts/test.sh does this";

/** Directory of initdb/pg_ctl: the newest /usr/lib/postgresql/<major>/bin that has them. */
export function findPostgresBin(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => /^\d+$/.test(d))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const major of majors) {
    const bin = join(root, major, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  throw new Error(`PostgreSQL server binaries not found under ${root}/*/bin: ${INSTALL_HINT}`);
}

function postgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  const fields = line?.split(":");
  if (!fields || fields.length < 4) {
    throw new Error(
      `running as root but there is no 'postgres' OS user to run the server as: ${INSTALL_HINT}`,
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/**
 * Where to put the data directory. When the server runs as another OS user, every ancestor must be
 * searchable by it; a root-private $TMPDIR (e.g. under /root) is not, so fall back to /tmp.
 */
function baseTmpDir(otherUser: boolean): string {
  const dir = tmpdir();
  if (!otherUser) return dir;
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return "/tmp";
    if (dirname(d) === d) return dir;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === "object" ? resolve(address.port) : reject(new Error("no TCP port")),
      );
    });
  });
}

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
let counter = 0;

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBin();
  const user = postgresUser();
  const dir = mkdtempSync(join(baseTmpDir(user !== null), "msn-test-pg-"));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, "data");
  const logFile = join(dir, "server.log");
  const asServerUser = { cwd: dir, ...(user ?? {}) };
  const pgCtl = join(bin, "pg_ctl");

  // If the test process ends without calling stop() (a crash, process.exit, the runner's SIGTERM
  // on timeout), still take the server down with it: nothing may outlive the test run.
  const onExit = (): void => {
    spawnSync(pgCtl, ["stop", "-D", data, "-m", "immediate"], { ...asServerUser, stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    disarm();
    onExit();
    process.kill(process.pid, signal);
  };
  const arm = (): void => {
    process.on("exit", onExit);
    for (const sig of SIGNALS) process.on(sig, onSignal);
  };
  const disarm = (): void => {
    process.off("exit", onExit);
    for (const sig of SIGNALS) process.off(sig, onSignal);
  };

  let port = 0;
  try {
    await run(
      join(bin, "initdb"),
      ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C"],
      asServerUser,
    );
    // Another process can take the port between freePort() and the bind; retry a few times.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const options = [
        "-c listen_addresses=127.0.0.1",
        `-c port=${port}`,
        `-c unix_socket_directories=${dir}`,
        "-c fsync=off",
        "-c synchronous_commit=off",
        "-c full_page_writes=off",
        "-c max_connections=50",
      ].join(" ");
      try {
        arm();
        await run(pgCtl, ["start", "-w", "-t", "60", "-D", data, "-l", logFile, "-o", options], asServerUser);
        break;
      } catch (err) {
        disarm();
        const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
        if (attempt < 3 && /could not bind|Address already in use/i.test(log)) continue;
        throw new Error(
          `pg_ctl start failed: ${(err as Error).message}\n--- server log ---\n${log.slice(-2000)}`,
        );
      }
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot start a test PostgreSQL server (${bin}): ${(err as Error).message}`, {
      cause: err,
    });
  }

  const admin = `postgresql://postgres@127.0.0.1:${port}`;
  const createDatabase = async (): Promise<string> => {
    const name = `msn_test_${process.pid}_${++counter}`;
    const client = new pg.Client({ connectionString: `${admin}/postgres` });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return `${admin}/${name}`;
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      await run(pgCtl, ["stop", "-D", data, "-m", "fast", "-w", "-t", "30"], asServerUser);
    } finally {
      disarm();
      rmSync(dir, { recursive: true, force: true });
    }
  };

  try {
    return { uri: await createDatabase(), createDatabase, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
