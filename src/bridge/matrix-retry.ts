/**
 * Retries a homeserver call that certainly did not take effect: the connection was refused or
 * unreachable, a proxy said the homeserver is down (502/503/504), or the homeserver said to slow
 * down (429). Anything that may have reached it (a timeout, a reset mid-request) is not retried,
 * since a second send would duplicate the message.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay, type BackoffOptions } from "./backoff.js";

const NOT_SENT_CODES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

function field(e: unknown, key: string): unknown {
  return typeof e === "object" && e !== null && key in e ? (e as Record<string, unknown>)[key] : undefined;
}

export function certainlyNotApplied(e: unknown): boolean {
  const code = field(e, "code") ?? field(field(e, "cause"), "code");
  if (typeof code === "string" && NOT_SENT_CODES.has(code)) return true;
  const status = field(e, "statusCode") ?? field(e, "status");
  if (status === 429 || status === 502 || status === 503 || status === 504) return true;
  return (
    field(e, "errcode") === "M_LIMIT_EXCEEDED" || field(field(e, "body"), "errcode") === "M_LIMIT_EXCEEDED"
  );
}

export interface RetryOptions extends BackoffOptions {
  /** Give up after this long in all; the caller then reports the loss. */
  totalMs: number;
}

export async function retryWhileNotApplied<T>(
  call: () => Promise<T>,
  opts: RetryOptions,
  onRetry: (e: unknown, attempt: number, delayMs: number) => void = () => undefined,
): Promise<T> {
  const deadline = Date.now() + opts.totalMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      const delay = backoffDelay(attempt, opts);
      if (!certainlyNotApplied(e) || Date.now() + delay > deadline) throw e;
      onRetry(e, attempt, delay);
      await sleep(delay);
    }
  }
}

/**
 * Transaction IDs for sends to the homeserver, one per message, kept across its retries: a
 * homeserver answers a repeated PUT with the same txnId with the event it already made. The
 * random run prefix keeps them unique across restarts; a reused one would make the homeserver
 * swallow a new message as a repeat of an old one.
 */
export const nextTransactionId: () => string = (() => {
  const run = `msn${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;
  let n = 0;
  return () => `${run}.${n++}`;
})();
