/** Errors the stores raise, the same for both engines so callers need not know which one runs. */

export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
  }
}

export type ConstraintKind = "unique" | "foreign_key" | "check" | "not_null";

/**
 * A write broke a schema rule, e.g. a room that is already another user's management room, or a
 * second portal for the same (login, conversation key). Nothing was written.
 */
export class StoreConstraintError extends StoreError {
  constructor(
    readonly constraint: ConstraintKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StoreConstraintError";
  }
}
