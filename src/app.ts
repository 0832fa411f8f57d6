/**
 * Composition root: builds the store, the MSN session factory, the core and the appservice from a
 * validated config, and takes them down again in order.
 */
import { readFileSync, rmSync } from "node:fs";
import { AppServiceRegistration } from "matrix-appservice-bridge";
import YAML from "yaml";
import type { BridgeConfig } from "./config/schema.js";
import { BridgeCore } from "./bridge/core.js";
import { GhostIds } from "./bridge/ghost-ids.js";
import type { NotificationFactory } from "./bridge/msn-ports.js";
import { createAppservice, pingFromHomeserver } from "./matrix/appservice.js";
import { healthHandlers } from "./matrix/health.js";
import type { EarlyListener } from "./matrix/early-listener.js";
import { registerBridgeMetrics, type BridgeGaugeSource } from "./matrix/prometheus.js";
import { noMetrics, type BridgeMetrics } from "./bridge/metrics.js";
import { MatrixGateway } from "./matrix/gateway.js";
import { EventSender } from "./matrix/event-sender.js";
import { MediaLinks, PUBLIC_MEDIA_PATH } from "./matrix/public-media.js";
import { EventRouter } from "./matrix/router.js";
import { permissionFor } from "./config/permissions.js";
import { getLogger } from "./logging.js";
import { loadOrCreateKeyFile } from "./store/credentials.js";
import { openStore } from "./store/open-store.js";
import { NotificationSession } from "./msnp/index.js";

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}

export interface RunningBridge {
  readonly core: BridgeCore;
  stop(): Promise<void>;
}

export function loadRegistration(file: string): AppServiceRegistration {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new StartupError(
      `cannot read the registration file ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)}); generate it with -r -u <url>`,
    );
  }
  const reg = AppServiceRegistration.fromObject(YAML.parse(text));
  if (!reg?.getHomeserverToken() || !reg.getAppServiceToken()) {
    throw new StartupError(`the registration file ${file} lacks hs_token or as_token`);
  }
  return reg;
}

export function msnSessionFactory(config: BridgeConfig): NotificationFactory {
  const log = getLogger("msnp");
  return ({ email, password }) =>
    new NotificationSession({
      host: config.msn.server.host,
      port: config.msn.server.port,
      email,
      password,
      versions: config.msn.protocol_versions,
      passportUrl: config.msn.passport_url,
      pingIntervalMs: config.msn.keepalive_interval_seconds * 1000,
      requestTimeoutMs: config.msn.request_timeout_seconds * 1000,
      logger: log,
    });
}

export async function startBridge(
  config: BridgeConfig,
  opts: {
    configDir: string;
    registrationFile: string;
    port?: number | undefined;
    /** The appservice port, already bound (main.ts binds it before the libraries load). */
    listener?: EarlyListener | undefined;
  },
): Promise<RunningBridge> {
  const log = getLogger("bridge");
  const registration = loadRegistration(opts.registrationFile);
  const { cipher, created } = loadOrCreateKeyFile(config.bridge.credentials_key_file);
  let store: Awaited<ReturnType<typeof openStore>>;
  try {
    store = await openStore(config.database.uri, { configDir: opts.configDir, cipher });
  } catch (e) {
    // A first start that cannot open its database leaves no key file behind: nothing is stored
    // under it yet, and the operator should find the directory as they left it.
    if (created) rmSync(config.bridge.credentials_key_file, { force: true });
    throw e;
  }
  if (created) log.info("created a new credentials key file", { path: config.bridge.credentials_key_file });

  const ghosts = new GhostIds(config.bridge.user_prefix, config.homeserver.domain);
  let router: EventRouter | null = null;
  const libLevel = config.logging.modules["matrix-appservice-bridge"] ?? "warn";
  const appservice = createAppservice(
    {
      homeserverUrl: config.homeserver.url,
      domain: config.homeserver.domain,
      registration,
      ghosts,
      log: getLogger("matrix"),
      transactions: store,
      libraryLogLevel:
        libLevel === "error" || libLevel === "warn" || libLevel === "info" || libLevel === "debug"
          ? libLevel
          : "warn",
      json: config.logging.format === "json",
    },
    () => {
      if (!router) throw new Error("event before start-up finished");
      return router;
    },
  );
  const media = new MediaLinks({
    homeserverUrl: config.homeserver.url,
    asToken: registration.getAppServiceToken() ?? "",
    externalUrl: config.bridge.public_media_url ?? null,
  });
  const sender = new EventSender({
    homeserverUrl: config.homeserver.url,
    asToken: registration.getAppServiceToken() ?? "",
  });
  const gateway = new MatrixGateway(appservice, ghosts, media, sender);
  // Before initialise()/listen(): the library then adds its Matrix API counters and GET /metrics.
  const metrics: BridgeMetrics = config.metrics.enabled
    ? registerBridgeMetrics(appservice.getPrometheusMetrics(), (): BridgeGaugeSource => core)
    : noMetrics;
  const core = new BridgeCore(
    store,
    gateway,
    msnSessionFactory(config),
    {
      typingTimeoutMs: config.bridge.typing_timeout_ms,
      typingRepeatMs: 4000,
      joinTimeoutMs: config.msn.join_timeout_seconds * 1000,
      offlineGraceMs: 3000,
      reconnectWaitMs: config.msn.reconnect.message_wait_ms,
      ackTimeoutMs: config.msn.ack_timeout_seconds * 1000,
      // A homeserver restart takes seconds to a few minutes; messages wait that long, in order.
      homeserverRetry: { initialMs: 500, maxMs: 30_000, jitter: 0.2, totalMs: 10 * 60_000 },
      loginConcurrency: config.bridge.login_concurrency,
      reconnect: {
        initialMs: config.msn.reconnect.initial_delay_ms,
        maxMs: config.msn.reconnect.max_delay_ms,
        jitter: config.msn.reconnect.jitter,
      },
      forwardPresence: config.bridge.forward_presence,
      forwardDisplayname: config.bridge.forward_displayname,
    },
    getLogger("core"),
    metrics,
  );
  router = new EventRouter({
    core,
    matrix: gateway,
    store,
    ghosts,
    log: getLogger("matrix"),
    isPermitted: (userId) => permissionFor(config, userId) !== null,
    leave: async (email, roomId, reason) => {
      const intent = email === null ? appservice.getIntent() : appservice.getIntent(ghosts.userId(email));
      await intent.leave(roomId, reason);
    },
    joinAsBot: async (roomId) => {
      await appservice.getIntent().join(roomId);
    },
  });

  await appservice.initialise();
  opts.listener?.serve(appservice.transactional);
  await appservice.listen(opts.port ?? config.appservice.port, config.appservice.hostname);
  // The homeserver's ping (Matrix 1.7, POST /_matrix/app/v1/ping) lets operators and Synapse check
  // the bridge is reachable; a successful ping also makes Synapse retry backed-off transactions.
  appservice.addAppServicePath({
    method: "POST",
    path: "/_matrix/app/v1/ping",
    authenticate: true,
    handler: (_req, res) => {
      res.status(200).json({});
    },
  });
  // Unauthenticated: Docker HEALTHCHECK and Kubernetes probes carry no token. (GET /health is
  // matrix-appservice's own, 200 "OK".)
  const health = healthHandlers({ store, homeserverUrl: config.homeserver.url });
  appservice.addAppServicePath({ method: "GET", path: "/live", authenticate: false, handler: health.live });
  appservice.addAppServicePath({ method: "GET", path: "/ready", authenticate: false, handler: health.ready });
  if (config.bridge.public_media_url) {
    // Unauthenticated by design: MSN contacts open these links in a browser; the signature is the key.
    appservice.addAppServicePath({
      method: "GET",
      path: PUBLIC_MEDIA_PATH,
      authenticate: false,
      handler: (req, res) => media.handle(req, res),
    });
  }
  log.info("appservice listening", {
    hostname: config.appservice.hostname,
    port: opts.port ?? config.appservice.port,
  });
  if (config.bridge.bot_displayname) {
    // Not awaited: puppets must not wait for the homeserver (it may be down or slow at start).
    void appservice
      .getIntent()
      .ensureProfile(config.bridge.bot_displayname)
      .catch((e: unknown) => log.warn("could not set the bot's display name", { error: String(e) }));
  }
  await core.start();
  const resent = await router.resendOutbox();
  if (resent > 0) log.info("resending Matrix messages accepted before the restart", { count: resent });
  appservice.acceptTransactions();
  // Transactions held back while the bridge was down come now, not after the homeserver's backoff.
  void pingFromHomeserver(config.homeserver.url, registration).catch((e: unknown) =>
    log.info("the homeserver did not ping the appservice", { error: String(e) }),
  );

  return {
    core,
    async stop() {
      log.info("shutting down");
      await core.stop();
      sender.close();
      await appservice.close().catch(() => undefined);
      await store.close();
    },
  };
}
