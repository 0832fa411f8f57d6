/**
 * Every timer the server starts goes through one registry, so `stop()` can cancel them all and a
 * test process never hangs on a forgotten handle.
 */
export class TimerRegistry {
  private readonly timers = new Set<NodeJS.Timeout>();

  /** Runs `fn` once after `ms`; the returned handle may be passed to `clear`. */
  set(fn: () => void, ms: number): NodeJS.Timeout {
    const handle = setTimeout(() => {
      this.timers.delete(handle);
      fn();
    }, ms);
    this.timers.add(handle);
    return handle;
  }

  clear(handle: NodeJS.Timeout | undefined): void {
    if (handle === undefined) return;
    clearTimeout(handle);
    this.timers.delete(handle);
  }

  clearAll(): void {
    for (const handle of this.timers) clearTimeout(handle);
    this.timers.clear();
  }

  get size(): number {
    return this.timers.size;
  }
}
