/**
 * The bridge's configuration schema. YAML key names are kept as-is (snake_case) in the TypeScript
 * type so there is no mapping layer between what an operator writes and what the code reads.
 *
 * Every object is strict: an unknown key is an error, because a misspelt key that is silently
 * ignored is the most common way a config "does nothing".
 */
import { z } from "zod";

/** Levels of winston's npm level set, most severe first. */
export const LOG_LEVELS = ["error", "warn", "info", "http", "verbose", "debug", "silly"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * MSNP dialects the bridge's client implements and may offer in `VER`. MSNP13+ keep the contact
 * list in SOAP web services the client does not speak, so they are refused here rather than at
 * connect time.
 */
export const MSNP_VERSIONS = [
  "MSNP2",
  "MSNP3",
  "MSNP4",
  "MSNP5",
  "MSNP6",
  "MSNP7",
  "MSNP8",
  "MSNP9",
  "MSNP10",
  "MSNP11",
  "MSNP12",
] as const;
export type MsnpVersion = (typeof MSNP_VERSIONS)[number];

/** Default port of an MSN Notification Server. */
export const MSN_DEFAULT_PORT = 1863;

// Matrix user ID localpart grammar (spec: "User Identifiers").
const LOCALPART_RE = /^[a-z0-9._=\-/+]+$/;
// Matrix server name grammar: IPv4 / [IPv6] / DNS name, optional port.
const DNS_NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$/;
const IPV6_LITERAL_RE = /^\[[0-9A-Fa-f:.]+\]$/;

export function isValidLocalpart(s: string): boolean {
  return s.length > 0 && s.length <= 255 && LOCALPART_RE.test(s);
}

function isValidHost(host: string): boolean {
  return DNS_NAME_RE.test(host) || IPV6_LITERAL_RE.test(host);
}

function parsePort(s: string): number | null {
  if (!/^[0-9]{1,5}$/.test(s)) return null;
  const port = Number(s);
  return port >= 1 && port <= 65535 ? port : null;
}

/** Splits `host[:port]`; an IPv6 host must be bracketed. Returns null when malformed. */
export function splitHostPort(s: string): { host: string; port: string | null } | null {
  const m = /^(\[[^\]]*\]|[^:[\]]+)(?::([^:]*))?$/.exec(s);
  if (!m || m[1] === undefined) return null;
  return { host: m[1], port: m[2] ?? null };
}

/** A Matrix server name such as `example.org`, `example.org:8448` or `[::1]:8448`. */
export function isValidServerName(s: string): boolean {
  const parts = splitHostPort(s);
  if (!parts || !isValidHost(parts.host)) return false;
  return parts.port === null || parsePort(parts.port) !== null;
}

/** A full Matrix user ID. Localparts are checked leniently: historical IDs may hold other characters. */
export function isValidUserId(s: string): boolean {
  const m = /^@([^:]+):(.+)$/.exec(s);
  return m !== null && m[2] !== undefined && isValidServerName(m[2]);
}

function isHttpUrl(s: string): boolean {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return false;
  }
  return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
}

function isHttpsOrLoopback(s: string): boolean {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return false; // already reported as not a URL
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return (
    url.protocol === "https:" || host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host)
  );
}

const httpUrl = z
  .string()
  .refine(isHttpUrl, { error: "must be an http:// or https:// URL, e.g. http://127.0.0.1:8008" });

const positiveInt = z.number().int().min(1);

const HomeserverSchema = z.strictObject({
  url: httpUrl,
  domain: z.string().refine(isValidServerName, {
    error: "must be a Matrix server name (the part after ':' in user IDs), e.g. example.org",
  }),
});

const AppserviceSchema = z.strictObject({
  hostname: z
    .string()
    .refine(isValidHost, { error: "must be a host name or IP address to listen on, e.g. 0.0.0.0" })
    .default("0.0.0.0"),
  port: z.number().int().min(1).max(65535).default(8090),
  registration: z.string().min(1).default("registration.yaml"),
  url: httpUrl.optional(),
});

export type PermissionLevel = "user" | "admin";

const PermissionsSchema = z
  .record(
    z.string().refine((k) => k === "*" || isValidUserId(k) || isValidServerName(k), {
      error: 'must be "*", a server name (example.org) or a full user ID (@alice:example.org)',
    }),
    z.enum(["user", "admin"]),
  )
  .refine((p) => Object.keys(p).length > 0, {
    error: 'must grant at least one entry, e.g. "example.org": user',
  });

const BridgeSchema = z.strictObject({
  bot_username: z
    .string()
    .refine(isValidLocalpart, {
      error: "must be a Matrix localpart (lower-case letters, digits and ._=-/+)",
    })
    .default("msnbot"),
  bot_displayname: z.string().min(1).max(256).optional(),
  user_prefix: z
    .string()
    .refine(isValidLocalpart, {
      error: "must be a non-empty Matrix localpart prefix (lower-case letters, digits and ._=-/+)",
    })
    .default("msn_"),
  permissions: PermissionsSchema,
  credentials_key_file: z.string().min(1).default("msn-bridge.key"),
  forward_presence: z.boolean().default(false),
  forward_displayname: z.boolean().default(false),
  login_concurrency: positiveInt.max(1000).default(8),
  typing_timeout_ms: positiveInt.default(6000),
  public_media_url: httpUrl.nullish(),
});

/** Host and port of an MSN Notification Server. */
export interface HostPort {
  host: string;
  port: number;
}

const HostPortSchema = z.string().transform((s, ctx): HostPort => {
  const parts = splitHostPort(s.trim());
  const port = parts?.port === null ? MSN_DEFAULT_PORT : parsePort(parts?.port ?? "");
  if (!parts || !isValidHost(parts.host) || port === null) {
    ctx.addIssue({
      code: "custom",
      message: `must be host:port (port 1-65535), e.g. 127.0.0.1:${MSN_DEFAULT_PORT}`,
      input: s,
    });
    return z.NEVER;
  }
  // Sockets want the bare address, not the bracketed URL form.
  const host = parts.host.startsWith("[") ? parts.host.slice(1, -1) : parts.host;
  return { host, port };
});

const ReconnectSchema = z
  .strictObject({
    initial_delay_ms: positiveInt.default(1000),
    max_delay_ms: positiveInt.default(300_000),
    jitter: z.number().min(0).max(1).default(0.3),
    // How long a Matrix message written while the login is reconnecting waits before it gets a
    // not-delivered notice instead.
    message_wait_ms: positiveInt.max(3_600_000).default(60_000),
  })
  .refine((r) => r.max_delay_ms >= r.initial_delay_ms, {
    error: "max_delay_ms must not be smaller than initial_delay_ms",
    path: ["max_delay_ms"],
  });

const MsnSchema = z.strictObject({
  server: HostPortSchema,
  protocol_versions: z
    .array(z.enum(MSNP_VERSIONS))
    .min(1)
    .refine((v) => new Set(v).size === v.length, { error: "must not list a version twice" })
    // VER lists the client's dialects highest first; accept any order and normalise.
    .transform((v) => [...v].sort((a, b) => msnpNumber(b) - msnpNumber(a)))
    .default(["MSNP12", "MSNP11", "MSNP10", "MSNP9", "MSNP8", "MSNP7"]),
  // Passport nexus for TWN login (MSNP8+). The password travels in a request header, so plain
  // http is only accepted on loopback (a local test server).
  passport_url: httpUrl
    .refine(isHttpsOrLoopback, {
      error: "must be https:// (plain http:// only on 127.0.0.1, ::1 or localhost)",
    })
    .default("https://nexus.passport.com/rdr/pprdr.asp"),
  keepalive_interval_seconds: positiveInt.max(3600).default(50),
  request_timeout_seconds: positiveInt.max(600).default(15),
  // Per message chunk: how long the switchboard server may take to acknowledge it before the
  // switchboard counts as stalled and the chunk is sent again on a fresh one.
  ack_timeout_seconds: positiveInt.max(600).default(15),
  // How long an invited contact may take to join a switchboard the bridge opened.
  join_timeout_seconds: positiveInt.max(600).default(60),
  reconnect: ReconnectSchema.prefault({}),
});

function msnpNumber(v: MsnpVersion): number {
  return Number(v.slice(4));
}

function isValidDatabaseUri(s: string): boolean {
  if (s.startsWith("sqlite:")) return s.length > "sqlite:".length;
  if (s.startsWith("postgres://") || s.startsWith("postgresql://")) {
    try {
      new URL(s);
      return true;
    } catch {
      return false;
    }
  }
  return false;
}

const DatabaseSchema = z.strictObject({
  uri: z
    .string()
    .refine(isValidDatabaseUri, {
      error: 'must be "sqlite:<path>" or a "postgres://user:pass@host/db" URL',
    })
    .default("sqlite:msn-bridge.db"),
});

const LogLevelSchema = z.enum(LOG_LEVELS);

const LoggingSchema = z.strictObject({
  level: LogLevelSchema.default("info"),
  format: z.enum(["text", "json"]).default("text"),
  modules: z.record(z.string().min(1), LogLevelSchema).default({}),
});

const MetricsSchema = z.strictObject({
  enabled: z.boolean().default(false),
});

export const ConfigSchema = z.strictObject({
  homeserver: HomeserverSchema,
  appservice: AppserviceSchema.prefault({}),
  bridge: BridgeSchema,
  msn: MsnSchema,
  database: DatabaseSchema.prefault({}),
  logging: LoggingSchema.prefault({}),
  metrics: MetricsSchema.prefault({}),
});

/** The validated config with defaults applied. Paths are absolute after `loadConfig`. */
export type BridgeConfig = z.output<typeof ConfigSchema>;
export type HomeserverConfig = BridgeConfig["homeserver"];
export type AppserviceConfig = BridgeConfig["appservice"];
export type BridgeSectionConfig = BridgeConfig["bridge"];
export type MsnConfig = BridgeConfig["msn"];
export type ReconnectConfig = MsnConfig["reconnect"];
export type DatabaseConfig = BridgeConfig["database"];
export type LoggingConfig = BridgeConfig["logging"];
export type MetricsConfig = BridgeConfig["metrics"];
