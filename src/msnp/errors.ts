/**
 * Typed errors of the MSN protocol client. Every failure the client reports is one of these, so
 * callers can `instanceof`-switch instead of parsing messages.
 */

/** Base class of every error raised by `src/msnp`. */
export class MsnError extends Error {
  override readonly name: string = "MsnError";
}

/** Meanings of the numeric error replies (msnp.md §10). Unknown codes fall back to a generic text. */
const SERVER_ERROR_MEANINGS: ReadonlyMap<number, string> = new Map([
  [200, "syntax error"],
  [201, "invalid parameter"],
  [204, "invalid network id"],
  [205, "invalid or nonexistent account"],
  [206, "domain name missing"],
  [207, "already logged in"],
  [208, "invalid account name"],
  [209, "friendly name not allowed"],
  [210, "list full"],
  [215, "already on that list, already in the session, or calling yourself"],
  [216, "not on that list"],
  [217, "principal not online"],
  [218, "already in that mode"],
  [219, "in the opposite list"],
  [223, "too many groups"],
  [224, "invalid group"],
  [225, "principal not in group"],
  [227, "group not empty"],
  [228, "group name already exists"],
  [229, "group name too long"],
  [230, "cannot remove group 0"],
  [231, "invalid group"],
  [240, "empty domain"],
  [241, "invalid list XML"],
  [280, "switchboard failed"],
  [281, "transfer to switchboard failed"],
  [282, "P2P error or malformed data message"],
  [300, "required field missing"],
  [302, "not logged in"],
  [402, "address book unavailable"],
  [403, "address book error"],
  [500, "internal server error"],
  [501, "database server error"],
  [502, "command disabled"],
  [510, "file operation failed"],
  [520, "memory allocation failed"],
  [540, "challenge response failed"],
  [600, "server busy"],
  [601, "server unavailable"],
  [602, "peer notification server down"],
  [603, "database connection failed"],
  [604, "server going down"],
  [605, "server unavailable"],
  [707, "could not create connection"],
  [710, "bad CVR parameters"],
  [711, "write is blocking"],
  [712, "session overload"],
  [713, "calling or acting too rapidly"],
  [714, "too many sessions"],
  [715, "not expected (command out of sequence)"],
  [717, "bad friend file"],
  [731, "badly formatted CVR"],
  [800, "changing too rapidly"],
  [910, "server too busy"],
  [911, "authentication failed"],
  [912, "server too busy"],
  [913, "not allowed while offline or hidden"],
  [914, "server unavailable"],
  [915, "server unavailable"],
  [916, "server unavailable"],
  [917, "authentication failed"],
  [918, "server too busy"],
  [919, "server too busy"],
  [920, "not accepting new users"],
  [921, "server too busy"],
  [922, "server too busy"],
  [923, "Kids Passport without parental consent"],
  [924, "Passport account not verified"],
  [928, "bad ticket"],
  [931, "account not on this server"],
  [933, "invalid circle membership"],
]);

/** Human-readable meaning of a numeric MSN error code. */
export function serverErrorMeaning(code: number): string {
  return SERVER_ERROR_MEANINGS.get(code) ?? "unknown server error";
}

/** The server answered a request with a numeric error (`217 4`). */
export class MsnServerError extends MsnError {
  override readonly name = "MsnServerError";
  readonly code: number;
  readonly meaning: string;
  /** The command that failed, e.g. `CAL`. */
  readonly command: string;
  readonly trId: number;

  constructor(code: number, command: string, trId: number) {
    const meaning = serverErrorMeaning(code);
    super(`${command} failed with server error ${code} (${meaning})`);
    this.code = code;
    this.meaning = meaning;
    this.command = command;
    this.trId = trId;
  }
}

/** A request, connect attempt or wait did not complete in time. */
export class MsnTimeoutError extends MsnError {
  override readonly name = "MsnTimeoutError";
  /** What was being waited for, e.g. `CAL` or `connect 127.0.0.1:1863`. */
  readonly operation: string;
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super(`${operation} timed out after ${timeoutMs} ms`);
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

export type FramingErrorKind =
  "line-too-long" | "payload-too-large" | "bad-length" | "invalid-utf8" | "malformed-line" | "decoder-failed";

/** The byte stream from the server cannot be parsed into commands; the connection is unusable. */
export class FramingError extends MsnError {
  override readonly name = "FramingError";
  readonly kind: FramingErrorKind;

  constructor(kind: FramingErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** A TCP-level failure: connection refused, reset, unreachable host… `code` is Node's (`ECONNREFUSED`). */
export class MsnNetworkError extends MsnError {
  override readonly name = "MsnNetworkError";
  readonly code: string | undefined;

  constructor(message: string, cause: unknown) {
    super(message, { cause });
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === "string" ? code : undefined;
  }
}

/** The connection closed (or was already closed) before the operation could complete. */
export class MsnConnectionClosedError extends MsnError {
  override readonly name = "MsnConnectionClosedError";
}

/** A caller passed a value that cannot be sent (bad address, CR/LF in an argument, …). */
export class MsnArgumentError extends MsnError {
  override readonly name = "MsnArgumentError";
}

/** The server sent something well-framed but unexpected (wrong reply shape, unsupported dialect, …). */
export class MsnProtocolError extends MsnError {
  override readonly name = "MsnProtocolError";
}

/** The switchboard reported that a message was not delivered (`NAK`). */
export class MsnDeliveryError extends MsnError {
  override readonly name = "MsnDeliveryError";
  readonly trId: number;

  constructor(trId: number) {
    super(`message ${trId} was not delivered (NAK)`);
    this.trId = trId;
  }
}
