/**
 * The appservice: matrix-appservice-bridge's Bridge with its stores disabled (we own the store),
 * events queued per room so each room is handled in order, and every request resolved or
 * rejected so the queue never stalls.
 */
import {
  Bridge,
  Logger,
  type AppServiceRegistration,
  type Request,
  type WeakEvent,
} from "matrix-appservice-bridge";
import type { GhostIds } from "../bridge/ghost-ids.js";
import type { Log } from "../bridge/log.js";
import type { EventRouter } from "./router.js";

export interface AppserviceOptions {
  homeserverUrl: string;
  domain: string;
  registration: AppServiceRegistration | string;
  ghosts: GhostIds;
  log: Log;
  /** Level for matrix-appservice-bridge's own console log. */
  libraryLogLevel: "debug" | "info" | "warn" | "error" | "off";
  json: boolean;
}

export function createAppservice(opts: AppserviceOptions, router: () => EventRouter): Bridge {
  Logger.configure({ console: opts.libraryLogLevel, json: opts.json, colorize: false });
  const settle = (req: Request<unknown>, work: Promise<void>, what: string): void => {
    work.then(
      () => req.resolve(undefined),
      (e: unknown) => {
        opts.log.error(`failed to handle ${what}`, {
          error: e instanceof Error ? (e.stack ?? e.message) : String(e),
        });
        req.reject(e);
      },
    );
  };
  return new Bridge({
    homeserverUrl: opts.homeserverUrl,
    domain: opts.domain,
    registration: opts.registration,
    disableStores: true,
    suppressEcho: true,
    networkName: "MSN",
    queue: { type: "per_room", perRequest: true },
    controller: {
      onEvent: (req: Request<WeakEvent>) => settle(req, router().onEvent(req.getData()), "event"),
      onEphemeralEvent: (req) =>
        settle(req as Request<unknown>, router().onEphemeral(req.getData()), "ephemeral event"),
    },
    intentOptions: { clients: { dontCheckPowerLevel: true } },
  });
}
