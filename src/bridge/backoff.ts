/**
 * Reconnect delays: exponential growth from `initialMs`, capped at `maxMs`, with ±`jitter`
 * spread so that many puppets dropped by one server restart do not come back in lock-step.
 * (Hand-written rather than a retry library because the loop must be cancellable mid-wait and
 * report each delay to the user; the arithmetic is the whole of it.)
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** 0..1: fraction of the delay that is randomised. */
  jitter: number;
}

export function backoffDelay(
  attempt: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
  const spread = base * opts.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}
