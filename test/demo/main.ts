#!/usr/bin/env node
/**
 * `npm run demo` entry: checks what the demo needs (root, the Synapse chroot), starts it, prints
 * how to connect, and stops everything on Ctrl-C (SIGINT) or SIGTERM.
 *
 *   npm run demo [-- --synapse-port 8008] [-- --exit-after-ready]
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { synapseChrootDir } from "../harness/synapse.js";
import { DEMO, startDemo, type DemoInfo } from "./demo.js";

const here = dirname(fileURLToPath(import.meta.url));
const CHROOT_SCRIPT = resolve(here, "../../../scripts/synapse-chroot.sh");

const USAGE = `usage: npm run demo [-- options]

Runs the MSN bridge on this machine with everything it needs: an MSN test server with a demo
account and a scripted contact, a local Synapse homeserver and the bridge. Needs root (Synapse
runs from a Debian chroot). Ctrl-C stops it all.

  --synapse-port PORT   Synapse's port on 127.0.0.1 (default: a free one)
  --exit-after-ready    print the instructions, then stop everything and exit (a smoke test)
  -h, --help            show this help`;

function loud(lines: string[]): void {
  const bar = "!".repeat(78);
  process.stderr.write(`\n${bar}\n${lines.map((l) => `!!! ${l}`).join("\n")}\n${bar}\n\n`);
}

function instructions(info: DemoInfo): string {
  return `
==============================================================================
 The MSN bridge demo is running.

 1. Connect a Matrix client (Element or any other) on this machine:
      Homeserver URL : ${info.homeserverUrl}
      Username       : ${DEMO.matrixUser}        (Matrix ID ${info.matrixUserId})
      Password       : ${DEMO.matrixPassword}

 2. A chat with the bridge bot ${info.botUserId} is already open
    (room ${info.managementRoomId}). Log in to the demo MSN server there by sending:
      login ${DEMO.you.email} ${DEMO.you.password}

 3. Echo (${DEMO.echo.email}), a scripted MSN contact, greets you: accept its
    chat invite and write to it; it answers every message. Try the bot's
    \`help\`, \`contacts\`, \`status\`, \`chat ${DEMO.echo.email}\`.

 MSN test server: ${info.msnServer} (Passport nexus ${info.passportUrl}).
 Processes: Synapse pid ${info.synapsePid}, bridge pid ${info.bridgePid}, this demo pid ${process.pid}.
 Logs: ${info.bridgeLog}
       ${info.synapseLog}
 (deleted on exit unless KEEP_TEST_DATA=1)

 Press Ctrl-C to stop everything.
==============================================================================
`;
}

async function main(argv: string[]): Promise<number> {
  let values: { "synapse-port"?: string; "exit-after-ready"?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        "synapse-port": { type: "string" },
        "exit-after-ready": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message.split("\n")[0]}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let synapsePort: number | undefined;
  if (values["synapse-port"] !== undefined) {
    const p = values["synapse-port"];
    if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) {
      process.stderr.write(`demo: --synapse-port must be a port number 1-65535, got "${p}"\n`);
      return 2;
    }
    synapsePort = Number(p);
  }

  if (process.getuid?.() !== 0) {
    loud([
      "npm run demo needs root.",
      "Synapse runs from a Debian chroot (chroot, mount namespaces), which only root may",
      "do. Run it as root, e.g. `sudo npm run demo`, or in a throw-away VM or container.",
    ]);
    return 1;
  }
  if (!existsSync(join(synapseChrootDir(), "usr/lib/python3/dist-packages/synapse/__init__.py"))) {
    process.stderr.write(
      "demo: no Synapse chroot yet; building it once (about a minute, needs the network)\n",
    );
    const built = spawnSync("bash", [CHROOT_SCRIPT, "ensure"], { stdio: "inherit" });
    if (built.status !== 0) {
      loud([`${CHROOT_SCRIPT} ensure failed (exit ${built.status}): see its output above.`]);
      return 1;
    }
  }

  const say = (line: string): void => void process.stdout.write(`demo: ${line}\n`);
  // Signals that arrive while starting are honoured once the start is over (or failed).
  let stopRequested: string | null = null;
  let wake: (() => void) | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) {
      process.stderr.write(
        `demo: ${signal} again: exiting now (Synapse and the bridge end with this process)\n`,
      );
      process.exit(130);
    }
    stopRequested = signal;
    wake?.();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const demo = await startDemo({ say, ...(synapsePort ? { synapsePort } : {}) });
  process.stdout.write(instructions(demo.info));
  let code = 0;
  if (!values["exit-after-ready"] && !stopRequested) {
    await new Promise<void>((done) => {
      wake = done;
      demo.bridgeExited.then((exitCode) => {
        if (stopRequested) return;
        loud([`the bridge exited on its own (code ${exitCode}); see ${demo.info.bridgeLog}`]);
        code = 1;
        done();
      });
    });
  }
  say(stopRequested ? `${stopRequested}: stopping everything` : "stopping everything");
  await demo.stop();
  say("stopped");
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    loud([`the demo failed: ${err instanceof Error ? err.message : String(err)}`]);
    process.exit(1);
  },
);
