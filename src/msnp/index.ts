/**
 * MSN Messenger protocol client. Knows nothing about Matrix: typed events out, async methods in.
 * Entry point: {@link NotificationSession}.
 */
export { NotificationSession } from "./notification.js";
export type {
  NotificationCloseReason,
  NotificationEvents,
  NotificationSessionOptions,
  RingInvitation,
} from "./notification.js";
export { SwitchboardSession, stripEndpoint } from "./switchboard.js";
export type {
  AckMode,
  SendTextOptions,
  SwitchboardCloseReason,
  SwitchboardConnectOptions,
  SwitchboardEvents,
} from "./switchboard.js";
export type { Contact, ContactLists, ContactStatus, Group, ListName, OwnStatus } from "./types.js";
export { isContactStatus, isOwnStatus } from "./types.js";
export {
  FramingError,
  MsnArgumentError,
  MsnConnectionClosedError,
  MsnDeliveryError,
  MsnError,
  MsnNetworkError,
  MsnProtocolError,
  MsnServerError,
  MsnTimeoutError,
  serverErrorMeaning,
} from "./errors.js";
export type { FramingErrorKind } from "./errors.js";
export type { MsnLogger } from "./events.js";
export { decodeParam, encodeParam } from "./encoding.js";
export {
  buildTextFormat,
  classifyMessage,
  parseTextFormat,
  type MsnMessageContent,
  type MsnMessageKind,
  type TextFormat,
} from "./mime.js";
export { MAX_MSG_PAYLOAD_BYTES, splitMessageText } from "./split.js";
export { dialectFor, isSupportedVersion, type Dialect } from "./dialect.js";
export {
  DEFAULT_PASSPORT_URL,
  PassportAuthError,
  PassportError,
  fetchPassportTicket,
  validatePassportUrl,
  type PassportTicketOptions,
} from "./passport.js";
export { CommandDecoder, encodeCommand, type MsnCommand } from "./framing.js";
