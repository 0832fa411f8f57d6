/**
 * Scale and start-up (issue 7): K logged-in puppets with small contact lists on one bridge.
 *
 * For each K (and K = 0, the baseline) the store is written directly with K logins, then the
 * bridge starts as its own process against the MSN test server (another process, so the figures
 * are the bridge's alone) and the stub homeserver (in this process). Measured:
 * - start-up: process spawn → `/health` 200 and → `/ready` 200, on every start;
 * - logins: spawn → every puppet logged in, first start (ghosts unknown) and after each
 *   restart (SIGTERM, start again), with the most logins the MSN server saw in progress at once;
 * - homeserver requests per puppet during a restart (an unchanged puppet should need none);
 * - bridge CPU time from spawn until every puppet is logged in (load on the machine stretches the
 *   wall time, not this);
 * - idle: RSS and CPU in 1-second windows, after the restarts, with keep-alives at the default
 *   50 s interval; V8 heap used as scraped (`nodejs_heap_size_used_bytes`: garbage not yet
 *   collected included, so it moves with the time since the last GC) and the young generation's
 *   committed size (`new` space: V8 doubles it after a burst of allocation such as a login herd,
 *   and keeps it, a fixed cost that the K=0 baseline, which never logged anyone in, does not pay);
 * - live heap: after the idle windows the bridge's inspector is switched on (SIGUSR1; its port was
 *   set to 0 at spawn) and asked for a full GC, then for `process.memoryUsage()`: the heap that is
 *   really held, per puppet;
 * - the marginal RSS per puppet between two measured K > 0 (slope): what one more puppet costs,
 *   without fixed costs (code compiled by the first login, the grown young generation);
 * - one MSN message crossing to Matrix while all are connected: the first to a puppet (opens a
 *   switchboard and creates the portal) and then warm ones on the same switchboard.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface, type Interface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { loadOrCreateKeyFile } from "../src/store/credentials.js";
import { openStore } from "../src/store/open-store.js";
import { BridgeProcess } from "../test/harness/bridge-process.js";
import { MsnContact } from "../test/harness/msn-contact.js";
import { freePort } from "../test/harness/ports.js";
import { findChildPid, processCpuMs, processRssKiB } from "./lib/proc-cpu.js";
import { summarize } from "./lib/stats.js";
import { StubHomeserver } from "./lib/stub-homeserver.js";
import type { Figure } from "./lib/table.js";
import { withTimeout } from "./lib/timeout.js";
import { puppetAccount, SENDER, type ScaleServerSpec, type ScaleServerStats } from "./scale-msn-server.js";

const here = dirname(fileURLToPath(import.meta.url));
const SERVER_JS = resolve(here, "scale-msn-server.js");
const DOMAIN = "bench.test";
const BOT_USER = `@msnbot:${DOMAIN}`;
/** The bridge's default `bridge.login_concurrency`, left as configured. */
const LOGIN_CONCURRENCY = 8;
/** The core's offline grace: contact sync finishes this long after a login. */
const CONTACT_SYNC_GRACE_MS = 3000;
const GROUP = "scale";
/**
 * Node options of the bridge under test. The inspector port is chosen at spawn but the inspector
 * only starts on SIGUSR1, after the idle figures, so it costs the measured bridge nothing.
 * SCALE_BRIDGE_NODE_OPTIONS adds options for A/B runs, after the shipped ones (BRIDGE_NODE_OPTIONS), so
 * they win: e.g. `--max-semi-space-size=64` measures without the young-generation cap.
 */
function bridgeNodeOptions(): string {
  return ["--inspect-port=127.0.0.1:0", process.env.SCALE_BRIDGE_NODE_OPTIONS ?? ""].join(" ").trim();
}

export interface ScaleOptions {
  /** Puppet counts to measure; 0 (the baseline) is always measured first. */
  puppetCounts: readonly number[];
  /** Restarts per K, each timed. */
  restarts: number;
  /** Length of the idle measurement. */
  idleSeconds: number;
  /** Probe puppets a contact messages (first message each) and warm messages to the first. */
  probes: number;
  warmMessages: number;
  progress?: (line: string) => void;
}

/** The MSN test server child and its line protocol (one command, one JSON answer). */
class ScaleServer {
  private waiting: ((line: string) => void)[] = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: Interface,
    readonly port: number,
  ) {
    lines.on("line", (line) => this.waiting.shift()?.(line));
  }

  static async start(spec: ScaleServerSpec): Promise<ScaleServer> {
    // Ten thousand sockets and more: raise the descriptor limit where the kernel lets us.
    const child = spawn(
      "bash",
      [
        "-c",
        'ulimit -n 65536 2>/dev/null; exec "$0" "$@"',
        process.execPath,
        SERVER_JS,
        JSON.stringify(spec),
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<number>((done, fail) => {
      lines.once("line", (line) => {
        const m = /^ready (\d+)$/.exec(line);
        if (m) done(Number(m[1]));
        else fail(new Error(`scale MSN server said ${line}`));
      });
      child.once("exit", (code) => fail(new Error(`scale MSN server exited with ${code}`)));
    });
    const port = await withTimeout(ready, 60_000, "scale MSN server did not start within 60 s");
    return new ScaleServer(child, lines, port);
  }

  private ask(command: string): Promise<string> {
    return new Promise((done) => {
      this.waiting.push(done);
      this.child.stdin!.write(`${command}\n`);
    });
  }

  async stats(): Promise<ScaleServerStats> {
    return JSON.parse(await this.ask("stats")) as ScaleServerStats;
  }

  async reset(): Promise<void> {
    await this.ask("reset");
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((done) => this.child.once("exit", done));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** One start of the bridge: when it answered, and when every puppet was logged in. */
interface StartTimes {
  healthMs: number;
  readyMs: number;
  /**
   * CPU time the bridge process had used when /health first answered: on a loaded machine the
   * wall time above measures the other processes too, this does not.
   */
  healthCpuMs: number;
  /** Spawn → the MSN server saw the last of the K logins complete (NaN for K = 0). */
  allLoggedInMs: number;
  /** CPU time the bridge had used by then (NaN for K = 0). */
  allLoggedInCpuMs: number;
  maxConcurrentLogins: number;
}

/**
 * Polls `url` until it answers 200; resolves with performance.now() at that answer and what
 * `onOk` returns then.
 */
async function firstOk(
  url: string,
  stop: { done: boolean },
  onOk: () => number = () => Number.NaN,
): Promise<[number, number]> {
  while (!stop.done) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.ok) return [performance.now(), onOk()];
    } catch {
      // Not listening yet.
    }
    await sleep(5);
  }
  return [Number.NaN, Number.NaN];
}

/** Heap used (garbage included) and the young generation's committed size, from /metrics. */
async function heapFromMetrics(port: number): Promise<{ usedBytes: number; youngBytes: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const used = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  const young = /^nodejs_heap_space_size_total_bytes\{space="new"\} (\S+)$/m.exec(text);
  return {
    usedBytes: used ? Number(used[1]) : Number.NaN,
    youngBytes: young ? Number(young[1]) : Number.NaN,
  };
}

/**
 * One DevTools-protocol call over the bridge's inspector socket. Only the bench talks to it, one
 * call at a time.
 */
function inspectorCall(ws: WebSocket, id: number, method: string, params: object = {}): Promise<unknown> {
  return new Promise((done, fail) => {
    const onMessage = (ev: MessageEvent): void => {
      const msg = JSON.parse(String(ev.data)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
      };
      if (msg.id !== id) return;
      ws.removeEventListener("message", onMessage);
      if (msg.error) fail(new Error(`${method}: ${msg.error.message}`));
      else done(msg.result);
    };
    ws.addEventListener("message", onMessage);
    ws.send(JSON.stringify({ id, method, params }));
  });
}

/** One K: MSN server, stub homeserver and bridge, with a store holding K logins. */
class ScaleRun {
  private bridgePid = 0;

  private constructor(
    readonly k: number,
    readonly server: ScaleServer,
    readonly homeserver: StubHomeserver,
    readonly bridge: BridgeProcess,
  ) {}

  static async prepare(k: number, probes: readonly number[]): Promise<ScaleRun> {
    const server = await ScaleServer.start({
      puppets: k,
      pool: Math.min(100, k),
      contactsEach: 3,
      probes: [...probes],
    });
    const homeserver = new StubHomeserver(DOMAIN, BOT_USER);
    await homeserver.start();
    const bridge = new BridgeProcess({
      homeserverUrl: homeserver.url,
      domain: DOMAIN,
      appservicePort: await freePort(),
      msnHost: "127.0.0.1",
      msnPort: server.port,
      // MSNP7 logs in with MD5 on the NS alone; MSNP8+ adds a Passport HTTPS round trip per login
      // that a real deployment makes to a server of its own.
      msn: {
        protocol_versions: ["MSNP7"],
        keepalive_interval_seconds: 50,
        request_timeout_seconds: 15,
        reconnect: { initial_delay_ms: 1000, max_delay_ms: 300_000, jitter: 0.3 },
      },
      bridge: { login_concurrency: LOGIN_CONCURRENCY },
      metrics: { enabled: true },
    });
    // Production logging (the harness's debug level would log every MSN line).
    const config = YAML.parse(readFileSync(bridge.configPath, "utf8")) as Record<string, unknown>;
    config.logging = { level: "info", format: "text" };
    writeFileSync(bridge.configPath, YAML.stringify(config));
    bridge.generateRegistration();
    const run = new ScaleRun(k, server, homeserver, bridge);
    await run.seedLogins();
    return run;
  }

  /** The logins an operator's bridge would hold after K users said `login`. */
  private async seedLogins(): Promise<void> {
    const { cipher } = loadOrCreateKeyFile(join(this.bridge.dir, "msn-bridge.key"));
    const store = await openStore("sqlite:bridge.db", { configDir: this.bridge.dir, cipher });
    try {
      for (let i = 0; i < this.k; i++) {
        const account = puppetAccount(i);
        await store.upsertLogin({
          userId: `@user${i}:${DOMAIN}`,
          email: account.email,
          password: account.password,
          autoConnect: true,
          friendlyName: account.name,
        });
      }
    } finally {
      await store.close();
    }
  }

  async startBridge(): Promise<StartTimes> {
    await this.server.reset();
    const base = `http://127.0.0.1:${this.bridge.appservicePort}`;
    const stop = { done: false };
    const t0 = performance.now();
    let pid: number | null = null;
    const cpuNow = (): number => {
      try {
        pid ??= findChildPid(this.bridge.configPath);
        return processCpuMs(pid);
      } catch {
        return Number.NaN;
      }
    };
    const health = firstOk(`${base}/health`, stop, cpuNow);
    const ready = firstOk(`${base}/ready`, stop);
    let healthAt: [number, number];
    let readyAt: [number, number];
    try {
      // The child's environment is copied when it is spawned, which start() does before its
      // first await: the options reach the bridge and nothing else.
      const nodeOptions = process.env.NODE_OPTIONS;
      process.env.NODE_OPTIONS = [nodeOptions ?? "", bridgeNodeOptions()].join(" ").trim();
      const started = this.bridge.start(60_000);
      if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = nodeOptions;
      await started;
      [healthAt, readyAt] = await withTimeout(
        Promise.all([health, ready]),
        60_000,
        "the bridge did not answer /health and /ready within 60 s of listening",
      );
    } finally {
      stop.done = true;
    }
    this.bridgePid = findChildPid(this.bridge.configPath);
    let allLoggedInMs = Number.NaN;
    let allLoggedInCpuMs = Number.NaN;
    let stats = await this.server.stats();
    if (this.k > 0) {
      const deadline = performance.now() + 300_000;
      while (stats.loginsCompleted < this.k) {
        if (performance.now() > deadline) {
          throw new Error(`scale: only ${stats.loginsCompleted} of ${this.k} puppets logged in within 300 s`);
        }
        await sleep(20);
        stats = await this.server.stats();
      }
      allLoggedInMs = performance.now() - t0;
      allLoggedInCpuMs = processCpuMs(this.bridgePid);
    }
    return {
      healthMs: healthAt[0] - t0,
      healthCpuMs: healthAt[1],
      readyMs: readyAt[0] - t0,
      allLoggedInMs,
      allLoggedInCpuMs,
      maxConcurrentLogins: stats.maxConcurrentLogins,
    };
  }

  /** Waits until contact sync is over and the homeserver has had no request for a second. */
  async settle(): Promise<void> {
    if (this.k === 0) return;
    await sleep(CONTACT_SYNC_GRACE_MS + 500);
    const deadline = performance.now() + 120_000;
    let last = this.homeserver.totalRequests;
    for (;;) {
      await sleep(1000);
      if (this.homeserver.totalRequests === last || performance.now() > deadline) return;
      last = this.homeserver.totalRequests;
    }
  }

  /** SIGTERM → exit, in ms. */
  async stopBridge(): Promise<number> {
    const t0 = performance.now();
    await this.bridge.stop();
    return performance.now() - t0;
  }

  /** RSS and heap samples, and CPU % of one core per 1-second window. */
  async idle(seconds: number): Promise<Idle> {
    const rssKiB: number[] = [];
    const cpuPercent: number[] = [];
    let cpu = processCpuMs(this.bridgePid);
    let at = performance.now();
    for (let i = 0; i < seconds; i++) {
      await sleep(1000);
      const cpuNow = processCpuMs(this.bridgePid);
      const now = performance.now();
      cpuPercent.push(((cpuNow - cpu) / (now - at)) * 100);
      rssKiB.push(processRssKiB(this.bridgePid));
      cpu = cpuNow;
      at = now;
    }
    // Scraped after the CPU windows: producing the metrics costs the bridge CPU too.
    const heapBytes: number[] = [];
    const youngBytes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const heap = await heapFromMetrics(this.bridge.appservicePort);
      heapBytes.push(heap.usedBytes);
      youngBytes.push(heap.youngBytes);
      await sleep(200);
    }
    return { rssKiB, heapBytes, youngBytes, cpuPercent };
  }

  /**
   * The heap really held: starts the bridge's inspector (SIGUSR1), asks for a full GC and reads
   * `process.memoryUsage()`. Last thing of a run: the inspector stays on.
   */
  async liveMemory(): Promise<{ heapBytes: number; rssKiB: number }> {
    const from = this.bridge.log.length;
    process.kill(this.bridgePid, "SIGUSR1");
    const deadline = performance.now() + 10_000;
    let url: RegExpExecArray | null = null;
    while (!(url = /Debugger listening on (ws:\/\/\S+)/.exec(this.bridge.log.slice(from)))) {
      if (performance.now() > deadline) throw new Error("scale: the bridge's inspector did not start");
      await sleep(20);
    }
    const ws = new WebSocket(url[1]!);
    try {
      await new Promise((done, fail) => {
        ws.addEventListener("open", done, { once: true });
        ws.addEventListener("error", () => fail(new Error("scale: cannot reach the bridge's inspector")), {
          once: true,
        });
      });
      // Twice: objects freed by the first one's finalizers go in the second.
      await inspectorCall(ws, 1, "HeapProfiler.collectGarbage");
      await inspectorCall(ws, 2, "HeapProfiler.collectGarbage");
      const result = (await inspectorCall(ws, 3, "Runtime.evaluate", {
        expression: "JSON.stringify(process.memoryUsage())",
        returnByValue: true,
      })) as { result: { value: string } };
      const usage = JSON.parse(result.result.value) as NodeJS.MemoryUsage;
      return { heapBytes: usage.heapUsed, rssKiB: usage.rss / 1024 };
    } finally {
      ws.close();
    }
  }

  /** MSN → Matrix while all are connected: first message to each probe, then warm ones. */
  async messages(probes: readonly number[], warm: number): Promise<{ firstMs: number[]; warmMs: number[] }> {
    const sender = new MsnContact(SENDER.email, SENDER.password, {
      host: "127.0.0.1",
      port: this.server.port,
    });
    await sender.login();
    const firstMs: number[] = [];
    const warmMs: number[] = [];
    try {
      const timed = async (
        sb: Awaited<ReturnType<MsnContact["chatWith"]>>,
        text: string,
      ): Promise<number> => {
        const arrived = this.homeserver.waitForMessage((m) => m.content.body === text, 30_000);
        const t0 = performance.now();
        await sb.sendText(text);
        return (await arrived).at - t0;
      };
      for (const [n, i] of probes.entries()) {
        const sb = await sender.chatWith(puppetAccount(i).email);
        firstMs.push(await timed(sb, `first to puppet ${i}`));
        if (n === 0) for (let m = 0; m < warm; m++) warmMs.push(await timed(sb, `warm ${m} to puppet ${i}`));
      }
    } finally {
      await sender.logout().catch(() => undefined);
    }
    return { firstMs, warmMs };
  }

  async stop(): Promise<void> {
    await this.bridge.stop().catch(() => undefined);
    await this.homeserver.stop();
    await this.server.stop();
    this.bridge.cleanup();
  }
}

/** Probe puppets spread over the list: first, last and between. */
function probeIndexes(k: number, count: number): number[] {
  if (k === 0) return [];
  const n = Math.min(count, k);
  return [...new Set(Array.from({ length: n }, (_, j) => Math.round((j * (k - 1)) / Math.max(1, n - 1))))];
}

interface Idle {
  rssKiB: number[];
  heapBytes: number[];
  youngBytes: number[];
  cpuPercent: number[];
}

interface Measured {
  k: number;
  starts: StartTimes[];
  restartRequestsPerPuppet: number[];
  stopMs: number[];
  idle: Idle;
  live: { heapBytes: number; rssKiB: number };
  firstMs: number[];
  warmMs: number[];
}

async function measure(k: number, opts: ScaleOptions): Promise<Measured> {
  const say = opts.progress ?? ((): void => undefined);
  const probes = probeIndexes(k, opts.probes);
  const run = await ScaleRun.prepare(k, probes);
  try {
    const starts: StartTimes[] = [];
    const stopMs: number[] = [];
    const restartRequestsPerPuppet: number[] = [];
    say(`scale K=${k}: first start…`);
    starts.push(await run.startBridge());
    await run.settle();
    for (let r = 0; r < opts.restarts; r++) {
      stopMs.push(await run.stopBridge());
      const before = run.homeserver.totalRequests;
      say(`scale K=${k}: restart ${r + 1}/${opts.restarts}…`);
      starts.push(await run.startBridge());
      await run.settle();
      if (k > 0) restartRequestsPerPuppet.push((run.homeserver.totalRequests - before) / k);
    }
    say(`scale K=${k}: idle ${opts.idleSeconds} s…`);
    const idle = await run.idle(opts.idleSeconds);
    const { firstMs, warmMs } =
      k > 0 ? await run.messages(probes, opts.warmMessages) : { firstMs: [], warmMs: [] };
    // A Node built without the inspector cannot give these; the other figures still stand.
    const live = await run.liveMemory().catch((e: unknown) => {
      say(`scale K=${k}: no live-heap figures (${String(e)})`);
      return { heapBytes: Number.NaN, rssKiB: Number.NaN };
    });
    if (run.homeserver.unmatched.length > 0) {
      say(`stub homeserver answered {} to: ${[...new Set(run.homeserver.unmatched)].join(", ")}`);
    }
    return { k, starts, restartRequestsPerPuppet, stopMs, idle, live, firstMs, warmMs };
  } finally {
    await run.stop();
  }
}

const median = (xs: readonly number[]): number => summarize(xs).p50;

function figure(name: string, unit: string, samples: readonly number[], target = ""): Figure {
  return { group: GROUP, name, unit, summary: summarize(samples.filter((x) => Number.isFinite(x))), target };
}

export async function runScale(opts: ScaleOptions): Promise<Figure[]> {
  const counts = [0, ...opts.puppetCounts.filter((k) => k > 0)];
  const results: Measured[] = [];
  for (const k of counts) results.push(await measure(k, opts));
  const baseline = results[0]!;
  const baseRss = median(baseline.idle.rssKiB);
  const baseLiveHeap = baseline.live.heapBytes;
  const figures: Figure[] = [];
  for (const r of results) {
    const label = `K=${r.k}`;
    const restarts = r.starts.slice(1);
    figures.push(
      figure(
        `${label}: spawn → /health 200`,
        "ms",
        r.starts.map((s) => s.healthMs),
        "≤ 500 ms",
      ),
      figure(
        `${label}: spawn → /ready 200`,
        "ms",
        r.starts.map((s) => s.readyMs),
        "",
      ),
      figure(
        `${label}: bridge CPU until /health 200`,
        "ms",
        r.starts.map((s) => s.healthCpuMs),
        // Both threads: once the port is bound the main thread is already loading the libraries.
        "(reference)",
      ),
      figure(
        `${label}: idle RSS`,
        "MiB",
        r.idle.rssKiB.map((x) => x / 1024),
        r.k === 10_000 ? "≤ 400 MiB" : "",
      ),
      figure(
        `${label}: idle V8 heap used, garbage included`,
        "MiB",
        r.idle.heapBytes.map((x) => x / 1024 / 1024),
      ),
      figure(
        `${label}: idle V8 young generation, committed`,
        "MiB",
        r.idle.youngBytes.map((x) => x / 1024 / 1024),
      ),
      figure(`${label}: live heap (after a full GC)`, "MiB", [r.live.heapBytes / 1024 / 1024]),
      // Whether the GC gives the young generation back: idle RSS above stays what a bridge holds.
      figure(`${label}: RSS right after that full GC`, "MiB", [r.live.rssKiB / 1024]),
      figure(`${label}: idle CPU (1 s windows)`, "% core", r.idle.cpuPercent, "< 5 %"),
    );
    if (r.k === 0) continue;
    figures.push(
      figure(
        `${label}: RSS per puppet over K=0`,
        "KiB",
        r.idle.rssKiB.map((x) => (x - baseRss) / r.k),
        "≤ 30 KiB",
      ),
      figure(`${label}: live heap per puppet over K=0`, "KiB", [
        (r.live.heapBytes - baseLiveHeap) / 1024 / r.k,
      ]),
      figure(`${label}: first start, all logged in`, "s", [r.starts[0]!.allLoggedInMs / 1000]),
      figure(
        `${label}: restart, all logged in`,
        "s",
        restarts.map((s) => s.allLoggedInMs / 1000),
        r.k === 10_000 ? "≤ 60 s" : "",
      ),
      figure(
        `${label}: restart, bridge CPU until all logged in`,
        "s",
        restarts.map((s) => s.allLoggedInCpuMs / 1000),
      ),
      figure(
        `${label}: max logins in progress (MSN side)`,
        "logins",
        r.starts.map((s) => s.maxConcurrentLogins),
        `≤ ${LOGIN_CONCURRENCY} (configured)`,
      ),
      figure(
        `${label}: homeserver requests per puppet, restart`,
        "req",
        r.restartRequestsPerPuppet,
        "0 ideal",
      ),
      figure(
        `${label}: SIGTERM → exit`,
        "s",
        r.stopMs.map((x) => x / 1000),
      ),
      figure(`${label}: MSN→Matrix, first message (new portal)`, "ms", r.firstMs),
      figure(`${label}: MSN→Matrix, warm message`, "ms", r.warmMs),
    );
  }
  // What one more puppet costs, between two measured K: fixed costs cancel out.
  const measured = results.filter((r) => r.k > 0);
  for (let i = 1; i < measured.length; i++) {
    const [a, b] = [measured[i - 1]!, measured[i]!];
    figures.push(
      figure(`K=${a.k}→${b.k}: RSS per added puppet (slope)`, "KiB", [
        (median(b.idle.rssKiB) - median(a.idle.rssKiB)) / (b.k - a.k),
      ]),
      figure(`K=${a.k}→${b.k}: live heap per added puppet (slope)`, "KiB", [
        (b.live.heapBytes - a.live.heapBytes) / 1024 / (b.k - a.k),
      ]),
    );
  }
  return figures;
}
