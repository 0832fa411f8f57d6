/**
 * Liveness and readiness for container orchestrators, on the appservice port and without the
 * hs_token (Docker HEALTHCHECK and Kubernetes probes carry none). `/health` itself is answered by
 * matrix-appservice (200 "OK") before any route of ours, so it is not registered here.
 *
 * Ready means the bridge can do its job: the homeserver answers and the store is open. Neither
 * check touches MSN: one user's MSN server being down must not take the whole bridge out of a
 * load balancer or make Kubernetes restart it.
 */

export interface ReadinessDeps {
  store: { ping(): Promise<void> };
  homeserverUrl: string;
  /** Per check; keep it below the probe's own timeout. Default 2000 ms. */
  timeoutMs?: number;
  /** Injectable for tests. */
  fetch?: typeof fetch;
}

export type Readiness = { ready: true } | { ready: false; reason: string };

/** The part of an express response the handlers use. */
export interface HealthResponse {
  status(code: number): { json(body: unknown): void };
}

export type HealthHandler = (req: unknown, res: HealthResponse) => Promise<void> | void;

const DEFAULT_TIMEOUT_MS = 2000;

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function checkHomeserver(deps: ReadinessDeps, timeoutMs: number): Promise<string | null> {
  const doFetch = deps.fetch ?? fetch;
  const url = new URL("/_matrix/client/versions", deps.homeserverUrl);
  try {
    const res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    // Drain the body so the connection is reused rather than left half-read.
    await res.arrayBuffer().catch(() => undefined);
    return res.ok ? null : `homeserver answered ${res.status} to /_matrix/client/versions`;
  } catch (e) {
    const name = e instanceof Error ? e.name : "";
    if (name === "TimeoutError" || name === "AbortError")
      return `homeserver did not answer within ${timeoutMs} ms`;
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e);
    return `homeserver unreachable: ${cause}`;
  }
}

async function checkStore(deps: ReadinessDeps, timeoutMs: number): Promise<string | null> {
  try {
    await withTimeout(deps.store.ping(), timeoutMs, "the database");
    return null;
  } catch (e) {
    return `store unavailable: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** Both checks run at once, so a probe takes at most one timeout. */
export async function checkReadiness(deps: ReadinessDeps): Promise<Readiness> {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const reasons = (await Promise.all([checkHomeserver(deps, timeoutMs), checkStore(deps, timeoutMs)])).filter(
    (r): r is string => r !== null,
  );
  return reasons.length === 0 ? { ready: true } : { ready: false, reason: reasons.join("; ") };
}

export function healthHandlers(deps: ReadinessDeps): { live: HealthHandler; ready: HealthHandler } {
  return {
    // The process answers HTTP: that is all liveness means. A failing dependency is readiness.
    live: (_req, res) => res.status(200).json({ status: "ok" }),
    ready: async (_req, res) => {
      const result = await checkReadiness(deps);
      if (result.ready) res.status(200).json({ status: "ready" });
      else res.status(503).json({ status: "unavailable", reason: result.reason });
    },
  };
}
