/** The logging surface the core uses; `src/logging.ts` provides it (winston underneath). */
export interface Log {
  error(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  info(msg: string, meta?: Record<string, unknown>): void;
  debug(msg: string, meta?: Record<string, unknown>): void;
}

export const silentLog: Log = { error() {}, warn() {}, info() {}, debug() {} };
