/**
 * The e2e tiers' usual start: a bridge process registered with a fresh Synapse on loopback ports,
 * the registration written by the bridge's own `-r` before Synapse reads it.
 */
import { BridgeProcess, type BridgeSetup } from "./bridge-process.js";
import { freePort } from "./ports.js";
import { startSynapse, type SynapseHandle } from "./synapse.js";

export type BridgeWithSynapseSetup = Omit<BridgeSetup, "homeserverUrl" | "appservicePort"> & {
  /** Chosen by the caller when the config must name it (e.g. a public URL); free port otherwise. */
  appservicePort?: number;
};

export async function startBridgeWithSynapse(
  setup: BridgeWithSynapseSetup,
): Promise<{ bridge: BridgeProcess; synapse: SynapseHandle }> {
  const hsPort = await freePort();
  const bridge = new BridgeProcess({
    ...setup,
    homeserverUrl: `http://127.0.0.1:${hsPort}`,
    appservicePort: setup.appservicePort ?? (await freePort()),
  });
  bridge.generateRegistration();
  const synapse = await startSynapse({
    serverName: setup.domain,
    port: hsPort,
    appserviceRegistrationFiles: [bridge.registrationPath],
  });
  await bridge.start();
  return { bridge, synapse };
}
