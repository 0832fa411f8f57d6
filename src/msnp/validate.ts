/** Validation of values that end up as command arguments. */
import { MsnArgumentError } from "./errors.js";

/** Longest address we accept; real ones are far shorter, this only bounds garbage. */
const MAX_EMAIL_LENGTH = 254;
const EMAIL_PATTERN = /^[^\s@;]+@[^\s@;]+$/u;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Throws {@link MsnArgumentError} unless `email` looks like an MSN address (one `@`, no spaces/controls). */
export function validateEmail(email: string): void {
  if (typeof email !== "string" || email.length === 0) {
    throw new MsnArgumentError("address must not be empty");
  }
  if (email.length > MAX_EMAIL_LENGTH) {
    throw new MsnArgumentError(`address longer than ${MAX_EMAIL_LENGTH} characters`);
  }
  if (CONTROL.test(email) || !EMAIL_PATTERN.test(email)) {
    throw new MsnArgumentError(`invalid MSN address ${JSON.stringify(email)}`);
  }
}
