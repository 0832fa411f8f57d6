/** Errors the core raises for the user, and user-facing wording for protocol errors. */

/** A message could not be delivered; `reason` is shown to the Matrix user as is. */
export class NotDeliveredError extends Error {
  constructor(
    public readonly reason: string,
    /** Why, for metrics and callers that branch on it; `reason` is the sentence for the user. */
    public readonly kind: "not_connected" | "contact_offline" | "other" = "other",
  ) {
    super(reason);
    this.name = "NotDeliveredError";
  }
}

/** A command could not be carried out; the message is shown to the user as is. */
export class UserFacingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserFacingError";
  }
}

const CODE_TEXT: Readonly<Record<number, string>> = {
  201: "the MSN server rejected the address or parameter",
  205: "there is no MSN account with that address",
  208: "there is no MSN account with that address",
  209: "the MSN server does not allow that name",
  210: "your contact list is full",
  215: "that contact is already there",
  216: "that contact is not on your list",
  217: "the contact is offline",
  219: "that contact is on your block list",
  280: "the MSN switchboard failed",
  281: "the MSN switchboard failed",
  500: "the MSN server had an internal error",
  600: "the MSN server is busy",
  601: "the MSN server is unavailable",
  713: "you are doing that too often",
  800: "you are changing your status or name too often",
  911: "wrong e-mail address or password",
  913: "that is not possible while you appear offline",
};

function errorCode(e: unknown): number | null {
  if (typeof e === "object" && e !== null && "code" in e) {
    const code = (e as { code: unknown }).code;
    if (typeof code === "number") return code;
  }
  return null;
}

export function isAuthFailure(e: unknown): boolean {
  return errorCode(e) === 911;
}

/** A short sentence for the user; never includes stack traces or raw protocol lines. */
export function describeMsnError(e: unknown): string {
  if (e instanceof NotDeliveredError || e instanceof UserFacingError) return e.message;
  const code = errorCode(e);
  if (code !== null && CODE_TEXT[code]) return CODE_TEXT[code]!;
  if (code !== null) return `the MSN server answered error ${code}`;
  if (e instanceof Error) {
    if (e.name === "MsnDeliveryError") return "the MSN server could not deliver it";
    if (/timed? ?out/i.test(e.message) || e.name.includes("Timeout"))
      return "the MSN server did not answer in time";
    if (e.name.includes("Closed") || /closed/i.test(e.message)) return "the connection to MSN was lost";
    return e.message;
  }
  return String(e);
}
