/**
 * CPU time of another process, read from /proc/<pid>/stat: `process.cpuUsage()` only covers the
 * calling process, and the bridge under test runs as its own child.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let ticksPerSecond: number | null = null;

/** USER_HZ: almost always 100 on Linux, but asked once rather than assumed. */
function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
      ticksPerSecond = Number.isInteger(value) && value > 0 ? value : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * User + system CPU milliseconds the process has used so far. The resolution is one clock tick
 * (10 ms), so callers measure over enough work that this rounding does not matter.
 */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) is in parentheses and may itself contain spaces or ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`unexpected /proc/${pid}/stat format`);
  }
  return ((utime + stime) * 1000) / clockTicks();
}

/** Resident set size in KiB (VmRSS from /proc/<pid>/status). */
export function processRssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match ? Number(match[1]) : Number.NaN;
}

/**
 * The pid of this process's child whose command line contains `needle`. The e2e harness that
 * starts the bridge does not expose its pid, and the kernel's children lists are the one place
 * that knows it without reaching into the harness's private state.
 */
export function findChildPid(needle: string): number {
  for (const task of readdirSync(`/proc/${process.pid}/task`)) {
    let children: string;
    try {
      children = readFileSync(`/proc/${process.pid}/task/${task}/children`, "utf8");
    } catch {
      continue;
    }
    for (const pid of children.trim().split(/\s+/).filter(Boolean)) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(needle)) return Number(pid);
      } catch {
        // Exited while we looked.
      }
    }
  }
  throw new Error(`no child process with ${needle} on its command line`);
}
