/**
 * Mapping between MSN e-mail addresses and ghost Matrix IDs.
 *
 * The localpart is the prefix plus the lower-cased address with every character outside
 * `[a-z0-9._-]` written as `=` and two hex digits of each UTF-8 byte, so it is reversible and
 * always a valid Matrix localpart (`bob@example.com` → `msn_bob=40example.com`).
 */
const SAFE = /[a-z0-9._-]/;

export function escapeEmail(email: string): string {
  let out = "";
  for (const ch of email.toLowerCase()) {
    if (SAFE.test(ch)) {
      out += ch;
    } else {
      for (const byte of Buffer.from(ch, "utf8")) out += "=" + byte.toString(16).padStart(2, "0");
    }
  }
  return out;
}

/** Inverse of {@link escapeEmail}; null when the text is not a well-formed escape. */
export function unescapeEmail(escaped: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const ch = escaped[i]!;
    if (ch === "=") {
      const hex = escaped.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (SAFE.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      return null;
    }
  }
  const text = Buffer.from(bytes).toString("utf8");
  return Buffer.from(text, "utf8").equals(Buffer.from(bytes)) ? text : null;
}

export class GhostIds {
  constructor(
    private readonly prefix: string,
    private readonly domain: string,
  ) {}

  userId(email: string): string {
    return `@${this.localpart(email)}:${this.domain}`;
  }

  localpart(email: string): string {
    return this.prefix + escapeEmail(email);
  }

  /** The contact e-mail a ghost user ID stands for, or null if it is not one of our ghosts. */
  emailOf(userId: string): string | null {
    const m = /^@([^:]+):(.+)$/.exec(userId);
    if (!m || m[2] !== this.domain || !m[1]!.startsWith(this.prefix)) return null;
    return unescapeEmail(m[1]!.slice(this.prefix.length));
  }

  isGhost(userId: string): boolean {
    return this.emailOf(userId) !== null;
  }
}
