/**
 * Real Synapse for end-to-end tests, run from the Debian sid chroot that
 * `scripts/synapse-chroot.sh ensure` maintains (see /work/shared/homeserver.md for why a chroot).
 *
 * Each `startSynapse()` gets its own temp data dir (config, sqlite, media, logs), bind-mounted into
 * the chroot inside a private mount namespace, so nothing stays mounted once Synapse exits and
 * several homeservers can run side by side.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, openSync, closeSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./ports.js";

/** The server_name used unless a test asks otherwise; `.test` is reserved, so it never resolves. */
export const DEFAULT_SERVER_NAME = "msn.test";

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const BIND_RETRIES = 3;
const DATA_DIR_PREFIX = "msn-synapse-";
const PID_FILE = "synapse.pid";

export interface StartSynapseOptions {
  /** Appservice registration YAML files on the host; copied into the data dir and loaded. */
  appserviceRegistrationFiles?: string[];
  /** Must match the domain the bridge's config and registration namespaces use. Default "msn.test". */
  serverName?: string;
  /** Loopback port for the client listener. Default: a free one. */
  port?: number;
  /** Extra top-level homeserver.yaml keys, applied over the test defaults. */
  homeserverConfig?: Record<string, unknown>;
}

export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export interface SynapseHandle {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly baseUrl: string;
  readonly serverName: string;
  readonly port: number;
  /** Host path of the data dir (homeserver.yaml, homeserver.log, console.log, sqlite, media). */
  readonly dataDir: string;
  /** Synapse's own PID. */
  readonly pid: number;
  /** Creates a user through the shared-secret admin registration API and logs it in. */
  registerUser(localpart: string, password: string, admin?: boolean): Promise<RegisteredUser>;
  /**
   * Has Synapse ping the appservice (MSC2659). On success Synapse also retries any backed-off
   * transactions at once instead of waiting out its backoff (up to 512 s). Resolves to the
   * round-trip in ms; rejects with MatrixHttpError when Synapse could not reach the appservice.
   */
  pingAppservice(asId: string, asToken: string): Promise<number>;
  /** The last `lines` lines of Synapse's log. */
  logTail(lines?: number): string;
  /** SIGTERM, wait for exit, remove the data dir (kept when KEEP_TEST_DATA=1). Idempotent. */
  stop(): Promise<void>;
}

/** A non-2xx answer from the homeserver. */
export class MatrixHttpError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly errcode: string | undefined,
    readonly body: string,
  ) {
    super(`${method} ${url} → ${status}${errcode ? ` ${errcode}` : ""}: ${body.slice(0, 500)}`);
    this.name = "MatrixHttpError";
  }
}

/** Where the chroot lives; the same defaults and variables as scripts/synapse-chroot.sh. */
export function synapseChrootDir(): string {
  const explicit = process.env["MSN_SYNAPSE_ROOT"];
  if (explicit) return explicit;
  const cache = process.env["MSN_CACHE_DIR"] || "/var/cache/matrix-appservice-msn";
  return join(cache, "synapse-root");
}

function assertCanRunSynapse(root: string): void {
  const howToFix =
    "The end-to-end tests need real Synapse from a Debian chroot: run `scripts/synapse-chroot.sh ensure` " +
    "as root, then run the tests as root.";
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    throw new Error(
      `startSynapse: not running as root (uid ${process.getuid?.() ?? "unknown"}); chroot and mount need root. ${howToFix}`,
    );
  }
  const marker = join(root, "usr/lib/python3/dist-packages/synapse/__init__.py");
  if (!existsSync(join(root, "usr/bin/python3")) || !existsSync(marker)) {
    throw new Error(`startSynapse: no Synapse chroot at ${root} (${marker} missing). ${howToFix}`);
  }
}

const RATE_LIMIT_OFF = { per_second: 1000, burst_count: 10000 };

function homeserverYaml(p: {
  serverName: string;
  port: number;
  inChroot: string;
  registrationFiles: string[];
  sharedSecret: string;
  extra: Record<string, unknown>;
}): string {
  const config: Record<string, unknown> = {
    server_name: p.serverName,
    public_baseurl: `http://127.0.0.1:${p.port}/`,
    report_stats: false,
    signing_key_path: `${p.inChroot}/signing.key`,
    log_config: `${p.inChroot}/log.yaml`,
    media_store_path: `${p.inChroot}/media_store`,
    database: { name: "sqlite3", args: { database: `${p.inChroot}/homeserver.db` } },
    listeners: [
      {
        port: p.port,
        bind_addresses: ["127.0.0.1"],
        type: "http",
        tls: false,
        x_forwarded: false,
        resources: [{ names: ["client"], compress: false }],
      },
    ],
    federation_domain_whitelist: [],
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    url_preview_enabled: false,
    enable_metrics: false,
    enable_registration: false,
    registration_shared_secret: p.sharedSecret,
    macaroon_secret_key: randomBytes(24).toString("hex"),
    form_secret: randomBytes(24).toString("hex"),
    // The default (12) makes every register/login cost ~300 ms.
    bcrypt_rounds: 4,
    presence: { enabled: true },
    app_service_config_files: p.registrationFiles,
    // Test traffic looks like abuse to the defaults (e.g. 5 logins, then one per 5 minutes).
    rc_message: RATE_LIMIT_OFF,
    rc_registration: RATE_LIMIT_OFF,
    rc_registration_token_validity: RATE_LIMIT_OFF,
    rc_login: { address: RATE_LIMIT_OFF, account: RATE_LIMIT_OFF, failed_attempts: RATE_LIMIT_OFF },
    rc_joins: { local: RATE_LIMIT_OFF, remote: RATE_LIMIT_OFF },
    rc_joins_per_room: RATE_LIMIT_OFF,
    rc_invites: { per_room: RATE_LIMIT_OFF, per_user: RATE_LIMIT_OFF, per_issuer: RATE_LIMIT_OFF },
    rc_room_creation: RATE_LIMIT_OFF,
    rc_presence: { per_user: RATE_LIMIT_OFF },
    rc_3pid_validation: RATE_LIMIT_OFF,
    rc_media_create: RATE_LIMIT_OFF,
    rc_admin_redaction: RATE_LIMIT_OFF,
    rc_third_party_invite: RATE_LIMIT_OFF,
    rc_delayed_event_mgmt: RATE_LIMIT_OFF,
    rc_reports: RATE_LIMIT_OFF,
    rc_user_directory: RATE_LIMIT_OFF,
    rc_key_requests: RATE_LIMIT_OFF,
    ...p.extra,
  };
  // JSON is valid YAML, and JSON.stringify cannot produce anything PyYAML misreads.
  return JSON.stringify(config, null, 2) + "\n";
}

function logConfigYaml(inChroot: string): string {
  return (
    JSON.stringify(
      {
        version: 1,
        formatters: {
          precise: {
            format: "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s",
          },
        },
        filters: { context: { "()": "synapse.logging.context.LoggingContextFilter" } },
        handlers: {
          file: {
            class: "logging.FileHandler",
            formatter: "precise",
            filters: ["context"],
            filename: `${inChroot}/homeserver.log`,
            encoding: "utf8",
          },
        },
        loggers: { "synapse.storage.SQL": { level: "WARNING" } },
        root: { level: "INFO", handlers: ["file"] },
        disable_existing_loggers: false,
      },
      null,
      2,
    ) + "\n"
  );
}

/** Runs a command in the chroot with a clean environment; resolves to its stdout. */
function runInChroot(root: string, argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "chroot",
      [root, "/usr/bin/env", "-i", "LANG=C.UTF-8", "PATH=/usr/bin:/bin", ...argv],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`chroot ${argv.join(" ")} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

function tailOf(path: string, lines: number): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return "";
  }
  const all = text.trimEnd().split("\n");
  return all.slice(Math.max(0, all.length - lines)).join("\n");
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function readJson(response: Response, method: string, url: string): Promise<Record<string, unknown>> {
  const body = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const obj =
    typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  if (!response.ok || obj === undefined) {
    const errcode = typeof obj?.["errcode"] === "string" ? obj["errcode"] : undefined;
    throw new MatrixHttpError(method, url, response.status, errcode, body);
  }
  return obj;
}

function stringField(obj: Record<string, unknown>, key: string, what: string): string {
  const value = obj[key];
  if (typeof value !== "string")
    throw new Error(`${what}: response lacks string "${key}": ${JSON.stringify(obj)}`);
  return value;
}

/** One Synapse process; start() may be retried on a new port by startSynapse. */
class SynapseProcess implements SynapseHandle {
  readonly baseUrl: string;
  private child: ChildProcess | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly root: string,
    readonly serverName: string,
    readonly port: number,
    readonly dataDir: string,
    private readonly mountPoint: string,
    private readonly configInChroot: string,
    private readonly sharedSecret: string,
  ) {
    this.baseUrl = `http://127.0.0.1:${port}`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /** Spawns Synapse and waits until the client API answers; on failure everything is stopped. */
  async start(): Promise<void> {
    await mkdir(this.mountPoint, { recursive: true });
    const consoleFd = openSync(join(this.dataDir, "console.log"), "a");
    // Every step execs, so the PID we get is Synapse's own. --pdeathsig makes an orphaned Synapse
    // (test process killed) exit instead of lingering; the mount namespace dies with it.
    const script =
      'mount --bind "$1" "$2" && mount -t proc proc "$3/proc" && ' +
      'exec chroot "$3" /usr/bin/env -i LANG=C.UTF-8 PATH=/usr/bin:/bin ' +
      '/usr/bin/python3 -m synapse.app.homeserver --config-path "$4"';
    try {
      this.child = spawn(
        "setpriv",
        [
          "--pdeathsig",
          "TERM",
          "--",
          "unshare",
          "--mount",
          "--propagation",
          "private",
          "--",
          "sh",
          "-c",
          script,
          "synapse-launch",
          this.dataDir,
          this.mountPoint,
          this.root,
          this.configInChroot,
        ],
        { stdio: ["ignore", consoleFd, consoleFd] },
      );
    } finally {
      closeSync(consoleFd);
    }
    let spawnError: Error | undefined;
    this.child.once("error", (err) => (spawnError = err));
    if (this.child.pid !== undefined) {
      await writeFile(join(this.dataDir, PID_FILE), `${this.child.pid}\n`);
    }

    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError = "";
    while (Date.now() < deadline) {
      if (spawnError || this.child.exitCode !== null || this.child.signalCode !== null) {
        const why = spawnError
          ? `could not spawn: ${spawnError.message}`
          : `exited early (code ${this.child.exitCode}, signal ${this.child.signalCode})`;
        const diagnostics = this.diagnostics();
        await this.stop();
        throw new SynapseStartError(`Synapse on port ${this.port} ${why}`, diagnostics);
      }
      try {
        const response = await fetch(`${this.baseUrl}/_matrix/client/versions`, {
          signal: AbortSignal.timeout(2_000),
        });
        await response.body?.cancel();
        if (response.ok) return;
        lastError = `HTTP ${response.status}`;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      await sleep(100);
    }
    const diagnostics = this.diagnostics();
    await this.stop();
    throw new SynapseStartError(
      `Synapse on port ${this.port} did not answer /_matrix/client/versions within ${READY_TIMEOUT_MS} ms (last: ${lastError})`,
      diagnostics,
    );
  }

  private diagnostics(): string {
    return (
      `--- console (${this.dataDir}/console.log) ---\n${tailOf(join(this.dataDir, "console.log"), 30)}\n` +
      `--- homeserver.log ---\n${this.logTail(40)}`
    );
  }

  logTail(lines = 50): string {
    return tailOf(join(this.dataDir, "homeserver.log"), lines);
  }

  async registerUser(localpart: string, password: string, admin = false): Promise<RegisteredUser> {
    const url = `${this.baseUrl}/_synapse/admin/v1/register`;
    const nonceBody = await readJson(await fetch(url), "GET", url);
    const nonce = stringField(nonceBody, "nonce", "registerUser");
    const mac = createHmac("sha1", this.sharedSecret)
      .update(nonce)
      .update("\0")
      .update(localpart)
      .update("\0")
      .update(password)
      .update("\0")
      .update(admin ? "admin" : "notadmin")
      .digest("hex");
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ nonce, username: localpart, password, admin, mac }),
    });
    const body = await readJson(response, "POST", url);
    return {
      userId: stringField(body, "user_id", "registerUser"),
      accessToken: stringField(body, "access_token", "registerUser"),
      deviceId: stringField(body, "device_id", "registerUser"),
    };
  }

  async pingAppservice(asId: string, asToken: string): Promise<number> {
    const url = `${this.baseUrl}/_matrix/client/v1/appservice/${encodeURIComponent(asId)}/ping`;
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${asToken}` },
      body: "{}",
    });
    const body = await readJson(response, "POST", url);
    const duration = body["duration_ms"];
    if (typeof duration !== "number")
      throw new Error(`pingAppservice: no duration_ms in ${JSON.stringify(body)}`);
    return duration;
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const child = this.child;
    // No pid: spawn itself failed, there is nothing to wait for.
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = waitForExit(child);
      child.kill("SIGTERM");
      // Unref'd: the child handle keeps the loop alive until it exits; the guard must not outlive it.
      const guard = sleep(STOP_TIMEOUT_MS, true, { ref: false });
      const timedOut = await Promise.race([exited.then(() => false), guard]);
      if (timedOut) {
        child.kill("SIGKILL");
        await exited;
      }
    }
    // Synapse was the namespace's last process, so the bind mount is gone and this is an empty dir.
    // rmdir, never rm -r: if something were still mounted here we must not delete through it.
    await rmdir(this.mountPoint).catch(() => undefined);
    if (process.env["KEEP_TEST_DATA"] === "1") {
      process.stderr.write(`synapse harness: KEEP_TEST_DATA=1, keeping ${this.dataDir}\n`);
    } else {
      await rm(this.dataDir, { recursive: true, force: true });
    }
  }
}

/** Synapse did not come up; `diagnostics` holds its console and log tails (also in the message). */
export class SynapseStartError extends Error {
  constructor(
    summary: string,
    readonly diagnostics: string,
  ) {
    super(`${summary}\n${diagnostics}`);
    this.name = "SynapseStartError";
  }
}

/** Whether `pid` is still the launcher/Synapse of run `name`: every stage's argv names its data dir. */
async function isRunAlive(pid: number, name: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.includes(name);
  } catch {
    return false;
  }
}

/**
 * Removes what runs killed before stop() left behind (their Synapse died with them, see
 * --pdeathsig): the data dir and its mount point in the chroot. Runs that are still alive, or still
 * being set up (no pid file yet, recent), are left alone.
 */
async function sweepStaleRuns(root: string): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(join(root, "data"))).filter((n) => n.startsWith(DATA_DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dataDir = join(tmpdir(), name);
    let stale: boolean;
    const pidText = await readFile(join(dataDir, PID_FILE), "utf8").catch(() => undefined);
    if (pidText !== undefined) {
      stale = !(await isRunAlive(Number(pidText.trim()), name));
    } else {
      const info = await stat(dataDir).catch(() => undefined);
      stale = info === undefined || Date.now() - info.mtimeMs > 10 * 60_000;
    }
    if (!stale) continue;
    // rmdir first: it fails harmlessly if the mount point is somehow in use or not empty.
    try {
      await rmdir(join(root, "data", name));
    } catch {
      continue;
    }
    if (process.env["KEEP_TEST_DATA"] !== "1") await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * Starts a fresh Synapse (empty database) from the chroot and resolves once its client API answers.
 * Throws, loudly, when not root or when the chroot is missing: these tests never skip silently.
 */
export async function startSynapse(opts: StartSynapseOptions = {}): Promise<SynapseHandle> {
  const root = synapseChrootDir();
  assertCanRunSynapse(root);
  const serverName = opts.serverName ?? DEFAULT_SERVER_NAME;
  await sweepStaleRuns(root);

  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const dataDir = await mkdtemp(join(tmpdir(), DATA_DIR_PREFIX));
    const inChroot = `/data/${basename(dataDir)}`;
    const mountPoint = join(root, inChroot);
    const sharedSecret = randomBytes(24).toString("hex");
    const handle = new SynapseProcess(
      root,
      serverName,
      port,
      dataDir,
      mountPoint,
      `${inChroot}/homeserver.yaml`,
      sharedSecret,
    );
    try {
      const registrationFiles: string[] = [];
      for (const [i, file] of (opts.appserviceRegistrationFiles ?? []).entries()) {
        const name = `appservice-${i}.yaml`;
        await copyFile(file, join(dataDir, name));
        registrationFiles.push(`${inChroot}/${name}`);
      }
      await mkdir(join(dataDir, "media_store"));
      const signingKey = await runInChroot(root, [
        "/usr/bin/python3",
        "-c",
        "import sys\nfrom signedjson.key import generate_signing_key, write_signing_keys\n" +
          'write_signing_keys(sys.stdout, [generate_signing_key("k")])',
      ]);
      await writeFile(join(dataDir, "signing.key"), signingKey, { mode: 0o600 });
      await writeFile(join(dataDir, "log.yaml"), logConfigYaml(inChroot));
      await writeFile(
        join(dataDir, "homeserver.yaml"),
        homeserverYaml({
          serverName,
          port,
          inChroot,
          registrationFiles,
          sharedSecret,
          extra: opts.homeserverConfig ?? {},
        }),
      );
    } catch (err) {
      await handle.stop();
      throw err;
    }
    try {
      await handle.start();
      return handle;
    } catch (err) {
      // Another process grabbed the port between freePort() and Synapse's bind: try a new one.
      const portTaken = err instanceof SynapseStartError && /address already in use/i.test(err.diagnostics);
      if (portTaken && opts.port === undefined && attempt < BIND_RETRIES) continue;
      throw err;
    }
  }
}
