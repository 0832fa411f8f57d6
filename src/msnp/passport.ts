/**
 * Passport 1.4 ticket fetch for TWN login (MSNP8–14, msnp.md §3.4): nexus → `DALogin` → login
 * service with the credentials and the server's challenge → `from-PP` ticket.
 *
 * Node's own http/https only, a deadline on every request, bounded redirects and bodies. The
 * password and the ticket are never logged and never appear in error messages.
 */
import http from "node:http";
import https from "node:https";
import { MsnArgumentError, MsnError, MsnNetworkError, MsnTimeoutError } from "./errors.js";
import { NULL_LOGGER, type MsnLogger } from "./events.js";

/** The historic Passport nexus; Escargot's login host serves the same path. */
export const DEFAULT_PASSPORT_URL = "https://nexus.passport.com/rdr/pprdr.asp";

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_REDIRECTS = 5;
/** Response bodies are not needed; anything larger than this is cut off. */
const MAX_BODY_BYTES = 64 * 1024;

/** The login service rejected the credentials (HTTP 401, `da-status=failed`). */
export class PassportAuthError extends MsnError {
  override readonly name = "PassportAuthError";
  /**
   * Same code as the NS's `911` so callers treat both logins alike (the bridge's auth-failure
   * check reads `code`).
   */
  readonly code = 911;
  readonly meaning = "authentication failed";
}

/** The Passport service answered something unusable (unexpected status, missing header, …). */
export class PassportError extends MsnError {
  override readonly name = "PassportError";
}

export interface PassportTicketOptions {
  /** Nexus URL; `http:` only for loopback hosts. Default {@link DEFAULT_PASSPORT_URL}. */
  passportUrl?: string;
  email: string;
  password: string;
  /** The whole challenge string from `USR … TWN S`. */
  challenge: string;
  /** Deadline of each HTTP request (default 15 s). */
  timeoutMs?: number;
  /** `302` hops followed at the login service (default 5). */
  maxRedirects?: number;
  logger?: MsnLogger;
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Parses and checks a Passport URL: https anywhere, plain http only on loopback (credentials
 * travel in a header). Throws {@link MsnArgumentError} otherwise.
 */
export function validatePassportUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new MsnArgumentError(`passport URL ${JSON.stringify(value)} is not a valid URL`);
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:") {
    if (isLoopbackHost(url.hostname)) return url;
    throw new MsnArgumentError(
      `passport URL ${url.origin} uses plain http, which is only allowed for loopback hosts (use https)`,
    );
  }
  throw new MsnArgumentError(`passport URL ${url.origin} must use https (or http on loopback)`);
}

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
}

/** One GET with a deadline on the whole exchange; the body is drained and discarded. */
function get(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<HttpAnswer> {
  const module = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null, answer?: HttpAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else if (answer) resolve(answer);
    };
    // No shared keep-alive agent: a lingering pooled socket would outlive the login.
    const request = module.get(url, { headers, agent: false }, (response) => {
      let received = 0;
      response.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_BODY_BYTES) response.destroy();
      });
      response.on("error", () => undefined);
      response.on("close", () =>
        finish(null, { status: response.statusCode ?? 0, headers: response.headers }),
      );
    });
    const timer = setTimeout(() => {
      finish(new MsnTimeoutError(`Passport request to ${url.host}`, timeoutMs));
      request.destroy();
    }, timeoutMs);
    request.on("error", (error) =>
      finish(new MsnNetworkError(`Passport request to ${url.host} failed: ${error.message}`, error)),
    );
  });
}

function header(headers: http.IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : (value ?? "");
}

/** `key=value` pairs of a Passport header (`PassportURLs`, `Authentication-Info`, …). */
function headerField(value: string, key: string): string | null {
  const lower = key.toLowerCase();
  for (const part of value.replace(/^Passport1\.4\s+/i, "").split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === lower) return part.slice(eq + 1).trim();
  }
  return null;
}

function encodeAuthValue(value: string): string {
  // encodeURIComponent leaves `'` `(` `)` `*` `!` alone; the header's own syntax needs `,` and
  // `'` escaped, and escaping the rest too is harmless.
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * GET that follows `302 Location` (relative or absolute, each target checked like the nexus URL)
 * at most `maxRedirects` times. Passport redirects both the nexus and the login service.
 */
async function getFollowing(
  start: URL,
  headers: Record<string, string>,
  timeoutMs: number,
  maxRedirects: number,
  logger: MsnLogger,
): Promise<HttpAnswer & { url: URL }> {
  let url = start;
  for (let hop = 0; ; hop += 1) {
    logger.debug("Passport request", { host: url.host, path: url.pathname, hop });
    const answer = await get(url, headers, timeoutMs);
    if (answer.status !== 302) return { ...answer, url };
    const location = header(answer.headers, "location");
    if (!location) throw new PassportError(`Passport service ${url.host} redirected nowhere`);
    if (hop >= maxRedirects) throw new PassportError(`more than ${maxRedirects} Passport redirects`);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new PassportError(`Passport service ${url.host} redirected to an invalid URL`);
    }
    url = validatePassportUrl(next.toString());
  }
}

/**
 * Fetches a Passport ticket for `USR … TWN S`. Rejects with {@link PassportAuthError} (bad
 * credentials), {@link PassportError}, `MsnTimeoutError`, `MsnNetworkError` or `MsnArgumentError`.
 * Tickets are short-lived (30 s on Escargot): call this right before sending it.
 */
export async function fetchPassportTicket(options: PassportTicketOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const logger = options.logger ?? NULL_LOGGER;
  const nexusUrl = validatePassportUrl(options.passportUrl ?? DEFAULT_PASSPORT_URL);

  const nexus = await getFollowing(nexusUrl, {}, timeoutMs, maxRedirects, logger);
  if (nexus.status !== 200) {
    throw new PassportError(`Passport nexus ${nexus.url.host} answered HTTP ${nexus.status}`);
  }
  const daLogin = headerField(header(nexus.headers, "passporturls"), "DALogin");
  if (!daLogin) throw new PassportError(`Passport nexus ${nexus.url.host} sent no DALogin URL`);
  // Historic nexus: `host/path`, meant as https (the nexus itself was https). Escargot: a full URL.
  const loginUrl = validatePassportUrl(
    /^[a-z][a-z0-9+.-]*:\/\//i.test(daLogin) ? daLogin : `${nexus.url.protocol}//${daLogin}`,
  );

  const authorization =
    "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom," +
    `sign-in=${encodeAuthValue(options.email)},pwd=${encodeAuthValue(options.password)},${options.challenge}`;
  const login = await getFollowing(
    loginUrl,
    { Authorization: authorization },
    timeoutMs,
    maxRedirects,
    logger,
  );
  if (login.status === 200) {
    const fromPp = headerField(header(login.headers, "authentication-info"), "from-PP");
    const ticket = fromPp?.replace(/^'(.*)'$/, "$1");
    if (!ticket) throw new PassportError(`Passport login at ${login.url.host} returned no ticket`);
    return ticket;
  }
  if (login.status === 401) {
    // da-status=failed: wrong credentials. Any other 401 is still a refusal to sign this user in.
    const status = headerField(header(login.headers, "www-authenticate"), "da-status");
    logger.info("Passport rejected the credentials", { host: login.url.host, daStatus: status });
    throw new PassportAuthError("Passport login failed: wrong e-mail address or password");
  }
  throw new PassportError(`Passport login at ${login.url.host} answered HTTP ${login.status}`);
}
