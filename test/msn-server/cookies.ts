import { randomBytes } from "node:crypto";

/**
 * Single-use authentication cookies with a lifetime (Escargot: XFR and RNG cookies live 120 s and
 * are consumed by the first USR/ANS that presents them). Expiry is checked when a cookie is
 * presented, so no timer is needed and nothing outlives `stop()`.
 */
export class CookieJar<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  issue(value: T, ttlMs: number): string {
    this.sweep();
    let cookie: string;
    do cookie = randomBytes(10).toString("hex");
    while (this.entries.has(cookie));
    this.entries.set(cookie, { value, expiresAt: this.now() + ttlMs });
    return cookie;
  }

  /** Consumes a cookie: returns its value once, or undefined if unknown, used or expired. */
  take(cookie: string): T | undefined {
    const entry = this.entries.get(cookie);
    if (!entry) return undefined;
    this.entries.delete(cookie);
    return entry.expiresAt > this.now() ? entry.value : undefined;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [cookie, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(cookie);
  }
}
