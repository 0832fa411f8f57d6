/**
 * Logging: winston underneath, a small typed per-module logger on top.
 *
 * Module loggers can be obtained at import time (before the config is read); they always write
 * through the logger installed by the latest `createLogger` call. Every meta object passes through
 * `redact`, so credentials never reach the log whatever a caller passes.
 */
import winston from "winston";
import type { LoggingConfig, LogLevel } from "./config/schema.js";

export interface Logger {
  error(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  info(msg: string, meta?: Record<string, unknown>): void;
  debug(msg: string, meta?: Record<string, unknown>): void;
}

export interface CreateLoggerOptions {
  /** Where lines go (default: stdout). Tests pass a stream to read the output. */
  stream?: NodeJS.WritableStream;
}

const LEVEL_RANK: Record<LogLevel, number> = winston.config.npm.levels as Record<LogLevel, number>;

interface State {
  root: winston.Logger;
  level: LogLevel;
  modules: Record<string, LogLevel>;
}

// Created on first use: until createLogger runs, modules log at info level as text to stdout.
let state: State | null = null;

function current(): State {
  state ??= makeState({ level: "info", format: "text", modules: {} });
  return state;
}

function makeState(config: LoggingConfig, options: CreateLoggerOptions = {}): State {
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  const root = winston.createLogger({
    levels: winston.config.npm.levels,
    // Filtering happens in the module loggers (per-module levels); winston passes everything.
    level: "silly",
    format: config.format === "json" ? jsonLine : textLine,
    transports: [transport],
  });
  return { root, level: config.level, modules: { ...config.modules } };
}

/** Installs the process-wide logger from the config's `logging` section. */
export function createLogger(config: LoggingConfig, options: CreateLoggerOptions = {}): void {
  const previous = state;
  state = makeState(config, options);
  previous?.root.close();
}

/** A logger for one module; its level comes from `logging.modules` (nearest dotted prefix) or `logging.level`. */
export function getLogger(module: string): Logger {
  const log = (level: LogLevel, msg: string, meta?: Record<string, unknown>): void => {
    const { root } = current();
    if (LEVEL_RANK[level] > LEVEL_RANK[levelFor(module)]) return;
    root.log({
      level,
      message: redactString(msg),
      module,
      meta: meta === undefined ? undefined : (redact(meta) as Record<string, unknown>),
    });
  };
  return {
    error: (msg, meta) => log("error", msg, meta),
    warn: (msg, meta) => log("warn", msg, meta),
    info: (msg, meta) => log("info", msg, meta),
    debug: (msg, meta) => log("debug", msg, meta),
  };
}

function levelFor(module: string): LogLevel {
  const { modules, level: globalLevel } = current();
  // "msnp.sb" falls back to "msnp", then to the global level.
  for (
    let name = module;
    name !== "";
    name = name.includes(".") ? name.slice(0, name.lastIndexOf(".")) : ""
  ) {
    const level = modules[name];
    if (level !== undefined) return level;
  }
  return globalLevel;
}

// ---- redaction ----------------------------------------------------------------------------

export const REDACTED = "[redacted]";

const SECRET_KEYS = new Set([
  "password",
  "pass",
  "passwd",
  "token",
  "as_token",
  "hs_token",
  "access_token",
  "authorization",
  "hash",
  "secret",
  "ticket",
  "cookie",
]);

function isSecretKey(key: string): boolean {
  const k = key.toLowerCase();
  return SECRET_KEYS.has(k) || k.endsWith("token") || k.endsWith("password") || k.endsWith("secret");
}

/** Masks secrets that travel inside strings: URL query tokens and bearer headers. */
export function redactString(s: string): string {
  return s
    .replace(/(access_token=)[^&\s"']+/gi, `$1${REDACTED}`)
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, `$1${REDACTED}`);
}

const MAX_DEPTH = 8;
const ERROR_MARK = Symbol("serialized error");

/**
 * A copy of `value` that is safe to log: values under secret-looking keys are masked (at any depth,
 * key match case-insensitive), errors become plain objects, cycles and deep nesting are cut.
 */
export function redact(value: unknown): unknown {
  return redactInner(value, 0, new WeakSet());
}

function redactInner(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === "string") return redactString(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "function" || typeof value === "symbol") return `[${typeof value}]`;
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[too deep]";
  seen.add(value);
  try {
    if (value instanceof Date) return value.toISOString();
    if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
    if (value instanceof Error) {
      const out: Record<string | symbol, unknown> = {
        name: value.name,
        message: redactString(value.message),
      };
      const code = (value as NodeJS.ErrnoException).code;
      if (code !== undefined) out.code = code;
      if (value.stack) out.stack = redactString(value.stack);
      out[ERROR_MARK] = true;
      return out;
    }
    if (Array.isArray(value)) return value.map((v) => redactInner(v, depth + 1, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) ? REDACTED : redactInner(v, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

// ---- formats --------------------------------------------------------------------------------

interface LogInfo {
  level: string;
  message: unknown;
  module?: string;
  meta?: Record<string, unknown>;
}

function isSerializedError(
  v: unknown,
): v is { name: string; message: string; code?: unknown; stack?: string } {
  return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[ERROR_MARK] === true;
}

/** Keeps one event on one line: peers' text may contain CR/LF that would forge log lines. */
function escapeLine(s: string): string {
  return s.replace(/[\r\n\t\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));
}

function textValue(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=\\]+$/.test(v) ? v : JSON.stringify(v);
  if (isSerializedError(v)) {
    return JSON.stringify(`${v.name}: ${v.message}${v.code === undefined ? "" : ` (${String(v.code)})`}`);
  }
  if (v === undefined) return "undefined";
  return JSON.stringify(v) ?? String(v);
}

const textLine = winston.format.printf((raw) => {
  const info = raw as unknown as LogInfo;
  const parts = [
    new Date().toISOString(),
    info.level.toUpperCase().padEnd(5),
    `[${info.module ?? "-"}]`,
    escapeLine(String(info.message)),
  ];
  const stacks: string[] = [];
  for (const [k, v] of Object.entries(info.meta ?? {})) {
    parts.push(`${k}=${textValue(v)}`);
    // Stack traces are the one multi-line thing worth keeping; indented so they read as one event.
    if (isSerializedError(v) && v.stack && info.level === "error") {
      stacks.push(
        ...v.stack
          .split("\n")
          .slice(1)
          .map((l) => `    ${escapeLine(l.trim())}`),
      );
    }
  }
  return [parts.join(" "), ...stacks].join("\n");
});

const RESERVED = new Set(["timestamp", "level", "module", "message"]);

const jsonLine = winston.format.printf((raw) => {
  const info = raw as unknown as LogInfo;
  const out: Record<string, unknown> = {
    timestamp: new Date().toISOString(),
    level: info.level,
    module: info.module ?? null,
    message: String(info.message),
  };
  for (const [k, v] of Object.entries(info.meta ?? {})) {
    out[RESERVED.has(k) ? `meta_${k}` : k] = v;
  }
  return JSON.stringify(out);
});
