/**
 * The project's MSN test server: a Notification Server and Switchboard over real TCP that behave
 * like Escargot (see /work/shared/msnp.md), for integration tests, end-to-end tests, benchmarks
 * and demos. Its wire handling is deliberately independent of the client in src/msnp/.
 */
export {
  MsnTestServer,
  type AccountState,
  type CommandMatcher,
  type MsnTestServerEvents,
  type MsnTestServerOptions,
  type SwitchboardState,
} from "./server.js";
export {
  AccountSpecError,
  loadAccountsFile,
  validateAccountList,
  validateAccountSpec,
  type AccountSpec,
  type ListName,
  type PresenceStatus,
} from "./accounts.js";
export type { ReplyAction, ReplyContext, ReplyMatcher } from "./behaviour.js";
export type { CommandRecord, WireRecord } from "./transcript.js";
export type { ConnectionKind } from "./wire/connection.js";
