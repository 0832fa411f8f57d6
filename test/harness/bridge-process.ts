/**
 * Runs the built bridge (`dist/src/main.js`) as its own process, as an operator would: config
 * file, `-r` to generate the registration, then the long-running process. Its output is kept so a
 * failing test can show it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import YAML from "yaml";

/**
 * The Node options the bridge ships with (Dockerfile `ENV NODE_OPTIONS`, scripts/run.sh, the
 * systemd example in docs/installation.md; test/unit/config/node-options.test.ts keeps them
 * equal). The young generation is capped at 16 MiB per semi-space: V8 otherwise grows it to 128 MiB
 * after a login herd and an idle bridge never gives it back (docs/performance.md).
 */
export const BRIDGE_NODE_OPTIONS = "--max-semi-space-size=16";

const here = dirname(fileURLToPath(import.meta.url));
/** dist/src/main.js, found relative to this compiled file (dist/test/harness/). */
export const MAIN_JS = resolve(here, "../../src/main.js");

export interface BridgeSetup {
  homeserverUrl: string;
  domain: string;
  appservicePort: number;
  msnHost: string;
  msnPort: number;
  /** Extra config merged over the defaults (deep for the `bridge` and `msn` sections). */
  bridge?: Record<string, unknown>;
  msn?: Record<string, unknown>;
  database?: string;
  /** The `metrics` section (off unless given). */
  metrics?: { enabled: boolean };
}

/**
 * Every MSN password in the end-to-end tests ends in `-pw`, so one pattern finds any of them in a
 * bridge's output; cleanup() fails the test file when one is there (passwords never reach logs).
 */
export const TEST_PASSWORD_PATTERN = /\b[A-Za-z0-9_]+-pw\b/;

export class BridgeProcess {
  readonly dir: string;
  readonly configPath: string;
  readonly registrationPath: string;
  /** All output of every run of this bridge (the in-memory copy keeps only the newest part). */
  readonly outputFile: string;
  private child: ChildProcess | null = null;
  private output: string[] = [];

  get appservicePort(): number {
    return this.setup.appservicePort;
  }

  constructor(private readonly setup: BridgeSetup) {
    this.dir = mkdtempSync(join(tmpdir(), "msn-bridge-e2e-"));
    this.configPath = join(this.dir, "config.yaml");
    this.registrationPath = join(this.dir, "registration.yaml");
    this.outputFile = join(this.dir, "bridge-output.log");
    const config = {
      homeserver: { url: setup.homeserverUrl, domain: setup.domain },
      appservice: { hostname: "127.0.0.1", port: setup.appservicePort, registration: "registration.yaml" },
      bridge: {
        bot_username: "msnbot",
        bot_displayname: "MSN bridge",
        permissions: { [setup.domain]: "user" },
        credentials_key_file: "msn-bridge.key",
        ...setup.bridge,
      },
      msn: {
        server: `${setup.msnHost}:${setup.msnPort}`,
        keepalive_interval_seconds: 5,
        request_timeout_seconds: 10,
        reconnect: { initial_delay_ms: 200, max_delay_ms: 2000, jitter: 0.2 },
        ...setup.msn,
      },
      database: { uri: setup.database ?? "sqlite:bridge.db" },
      logging: { level: "debug", format: "text" },
      ...(setup.metrics ? { metrics: setup.metrics } : {}),
    };
    writeFileSync(this.configPath, YAML.stringify(config));
  }

  /** `-r`: writes the registration the homeserver needs before it starts. */
  generateRegistration(): void {
    const res = spawnSync(
      process.execPath,
      [MAIN_JS, "-c", this.configPath, "-r", "-u", `http://127.0.0.1:${this.setup.appservicePort}`],
      { encoding: "utf8" },
    );
    if (res.status !== 0) throw new Error(`bridge -r failed (${res.status}): ${res.stderr}${res.stdout}`);
  }

  get registration(): { id: string; as_token: string; hs_token: string } {
    return YAML.parse(readFileSync(this.registrationPath, "utf8")) as {
      id: string;
      as_token: string;
      hs_token: string;
    };
  }

  /** Starts the bridge and resolves once its appservice port answers. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.child) throw new Error("bridge already running");
    const child = spawn(process.execPath, [MAIN_JS, "-c", this.configPath], {
      cwd: this.dir,
      // As shipped; NODE_OPTIONS of this process (a benchmark's A/B flags) come after and win.
      env: {
        ...process.env,
        NODE_OPTIONS: `${BRIDGE_NODE_OPTIONS} ${process.env.NODE_OPTIONS ?? ""}`.trim(),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    // This run's output until it listens: an earlier run's "listening" line must not count.
    let untilListening: string | null = "";
    const keep = (chunk: Buffer): void => {
      if (untilListening !== null) {
        untilListening += chunk.toString("utf8");
        if (untilListening.includes("appservice listening")) untilListening = null;
      }
      this.output.push(chunk.toString("utf8"));
      appendFileSync(this.outputFile, chunk);
      if (this.output.length > 5000) this.output.splice(0, 1000);
      if (process.env.BRIDGE_LOG) process.stderr.write(chunk);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`bridge exited with ${child.exitCode}:\n${this.logTail()}`);
      if (untilListening === null) return;
      await sleep(50);
    }
    throw new Error(`bridge did not start within ${timeoutMs} ms:\n${this.logTail()}`);
  }

  get log(): string {
    return this.output.join("");
  }

  logTail(lines = 60): string {
    return this.log.split("\n").slice(-lines).join("\n");
  }

  /** Waits until the bridge's log contains the text (after `from` characters). */
  async waitForLog(text: string | RegExp, timeoutMs = 15_000, from = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const log = this.log.slice(from);
      if (typeof text === "string" ? log.includes(text) : text.test(log)) return;
      await sleep(50);
    }
    throw new Error(`bridge log never showed ${String(text)}:\n${this.logTail()}`);
  }

  /** SIGKILL: no clean shutdown, as in a crash. */
  async kill(): Promise<void> {
    await this.signal("SIGKILL");
  }

  /** Whether the bridge process is running. */
  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    return this.signal("SIGTERM");
  }

  private async signal(sig: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    child.kill(sig);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  /** The first line of all output (every run) that matches the pattern, or null. */
  findInOutput(pattern: RegExp): string | null {
    if (!existsSync(this.outputFile)) return null;
    return (
      readFileSync(this.outputFile, "utf8")
        .split("\n")
        .find((line) => pattern.test(line)) ?? null
    );
  }

  /** Kills the bridge, removes its files, and throws if a test password ever reached its output. */
  cleanup(): void {
    if (this.child) this.child.kill("SIGKILL");
    const leak = this.findInOutput(TEST_PASSWORD_PATTERN);
    if (leak !== null) {
      throw new Error(`a password reached the bridge's output (kept in ${this.outputFile}): ${leak}`);
    }
    if (!process.env.KEEP_TEST_DATA) rmSync(this.dir, { recursive: true, force: true });
  }
}
