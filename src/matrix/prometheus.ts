/**
 * The bridge's own Prometheus metrics, registered on matrix-appservice-bridge's PrometheusMetrics
 * (prom-client's registry, served at GET /metrics on the appservice port next to the library's own
 * `bridge_*` and process metrics). Counters and histograms are fed by the core through
 * BridgeMetrics; gauges are read from the core at scrape time, so they cannot drift.
 */
import type { PrometheusMetrics } from "matrix-appservice-bridge";
import type { BridgeMetrics, MessageDirection, NotBridgedReason } from "../bridge/metrics.js";
import type { PuppetState } from "../bridge/puppet.js";

/** What the gauges read; BridgeCore satisfies it. */
export interface BridgeGaugeSource {
  readonly puppets: ReadonlyMap<string, { readonly state: PuppetState }>;
  readonly portalCount: number;
  readonly openSwitchboardCount: number;
}

// Every state gets a sample, 0 included, so "connected == 0" can be alerted on.
const PUPPET_STATES: Record<PuppetState, true> = {
  disconnected: true,
  connecting: true,
  connected: true,
  reconnecting: true,
  "logged-in-elsewhere": true,
  "bad-credentials": true,
  stopped: true,
};
const DIRECTIONS: readonly MessageDirection[] = ["msn_to_matrix", "matrix_to_msn"];
const NOT_BRIDGED: Record<NotBridgedReason, true> = {
  unsupported: true,
  not_logged_in: true,
  not_connected: true,
  contact_offline: true,
  delivery_failed: true,
};

const NAMESPACE = "msn";

export function registerBridgeMetrics(
  prom: PrometheusMetrics,
  source: () => BridgeGaugeSource,
): BridgeMetrics {
  prom.addGauge({
    namespace: NAMESPACE,
    name: "puppets",
    help: "MSN logins (puppets) by connection state",
    labels: ["state"],
    refresh: (gauge) => {
      const counts = new Map<string, number>(Object.keys(PUPPET_STATES).map((s) => [s, 0]));
      for (const p of source().puppets.values()) counts.set(p.state, (counts.get(p.state) ?? 0) + 1);
      for (const [state, n] of counts) gauge.set({ state }, n);
    },
  });
  prom.addGauge({
    namespace: NAMESPACE,
    name: "portals",
    help: "Portals (Matrix rooms for MSN conversations) active since the bridge started",
    refresh: (gauge) => gauge.set(source().portalCount),
  });
  prom.addGauge({
    namespace: NAMESPACE,
    name: "switchboards_open",
    help: "MSN switchboard sessions currently attached to portals",
    refresh: (gauge) => gauge.set(source().openSwitchboardCount),
  });
  const messages = prom.addCounter({
    namespace: NAMESPACE,
    name: "messages_bridged_total",
    help: "Messages bridged, by direction (msn_to_matrix: the homeserver accepted it; matrix_to_msn: sent on a switchboard)",
    labels: ["direction"],
  });
  const notBridged = prom.addCounter({
    namespace: NAMESPACE,
    name: "messages_not_bridged_total",
    help: "Matrix messages answered with a not-bridged notice, by reason",
    labels: ["reason"],
  });
  const lost = prom.addCounter({
    namespace: NAMESPACE,
    name: "msn_messages_lost_total",
    help: "MSN messages that never reached Matrix, by reason (buffer_full: the portal's buffer for an unreachable homeserver was full; homeserver_unreachable: unreachable for the whole retry window)",
    labels: ["reason"],
  });
  const reconnects = prom.addCounter({
    namespace: NAMESPACE,
    name: "reconnects_total",
    help: "Automatic reconnection attempts to the MSN Notification Server",
  });
  const sbSetup = prom.addTimer({
    namespace: NAMESPACE,
    name: "switchboard_setup_seconds",
    help: "Time to open a switchboard for a Matrix message and get the contact into it (XFR to JOI)",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  const latency = prom.addTimer({
    namespace: NAMESPACE,
    name: "msn_to_matrix_latency_seconds",
    help: "From a contact's MSG reaching the bridge to the homeserver accepting the Matrix event",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  // Zero samples up front, so rate() and absent() work before the first event.
  for (const direction of DIRECTIONS) messages.inc({ direction }, 0);
  for (const reason of Object.keys(NOT_BRIDGED)) notBridged.inc({ reason }, 0);
  for (const reason of ["buffer_full", "homeserver_unreachable"]) lost.inc({ reason }, 0);

  return {
    messageBridged: (direction) => messages.inc({ direction }),
    msnToMatrixLatency: (seconds) => latency.observe(seconds),
    notBridged: (reason) => notBridged.inc({ reason }),
    reconnectAttempt: () => reconnects.inc(),
    switchboardSetup: (seconds) => sbSetup.observe(seconds),
    msnMessageLost: (reason) => lost.inc({ reason }),
  };
}
