/**
 * The real Dockerfile, built with rootful podman (scripts/container-build.sh) and run as an
 * operator would: the first-run flow on an empty /data volume, then the containerised bridge
 * against the end-to-end tier's real Synapse and MSN test server (host networking, so loopback
 * reaches both): a Matrix user logs in to MSN through the bot, one message goes each way, the
 * image's HEALTHCHECK passes, and `podman stop` ends it with exit 0 after logging out of MSN.
 *
 * Needs root (podman, Synapse's chroot). Environment: MSN_CONTAINER_CONTEXT builds another
 * checkout (default: this one); the image is tagged localhost/matrix-appservice-msn:test and kept,
 * so the next run's build reuses its layers.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { startSynapse, type SynapseHandle } from "../harness/synapse.js";
import { TestMatrixUser } from "../harness/matrix-client.js";
import { freePort } from "../harness/ports.js";
import { MsnContact, waitFor } from "../harness/msn-contact.js";
import { MsnTestServer } from "../msn-server/index.js";
import { repoRoot } from "../unit/config/repo-root.js";

const ROOT = repoRoot();
const IMAGE = "localhost/matrix-appservice-msn:test";
const NAME = `msn-container-test-${process.pid}`;
const PODMAN_ENV = {
  ...process.env,
  CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? join(ROOT, "scripts/container-base/containers.conf"),
};
/** The image's `node` user, which must own what the container writes to /data. */
const NODE_UID = 1000;
const DOMAIN = "msn.test";
const ALICE = { email: "alice@hotmail.test", password: "alice-pw" };
const BOB = { email: "bob@hotmail.test", password: "bob-pw" };
const STEP = { timeout: 120_000 };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function podman(args: string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      "podman",
      args,
      { env: PODMAN_ENV, timeout: timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code, stdout, stderr: withoutPodmanNoise(stderr) });
      },
    );
  });
}

/** podman 4.3 without systemd says so on every run of an image with a HEALTHCHECK; harmless. */
function withoutPodmanNoise(stderr: string): string {
  return stderr
    .split("\n")
    .filter((l) => !/unable to get systemd connection/.test(l))
    .join("\n");
}

describe(
  "container image (podman): first run, then the bridge against Synapse and MSN",
  // Generous: on a new machine the build also makes the base images (≈2.5 min idle, 20 min when
  // the machine was loaded) unless scripts/container-base-images.sh ran first.
  { timeout: 2_400_000 },
  () => {
    let work = "";
    let build: { buildSeconds: number; baseSeconds: number; sizeBytes: number } | undefined;
    let msn: MsnTestServer | undefined;
    let synapse: SynapseHandle | undefined;
    let user: TestMatrixUser | undefined;
    let bob: MsnContact | undefined;
    let bridge: ChildProcess | undefined;
    let bridgeExit: Promise<number | null> | undefined;
    let bridgeLog = "";
    let data = "";
    let hsPort = 0;
    let asPort = 0;
    const started = Date.now();

    before(async () => {
      assert.equal(process.getuid?.(), 0, "the container test needs root (rootful podman, Synapse's chroot)");
      work = mkdtempSync(join("/var/tmp", "msn-container-test-"));
      const out = await new Promise<string>((resolve, reject) => {
        const child = execFile(
          "bash",
          [join(ROOT, "scripts/container-build.sh")],
          {
            env: { ...PODMAN_ENV, IMAGE, CONTEXT: process.env.MSN_CONTAINER_CONTEXT ?? ROOT },
            timeout: 2_100_000,
            maxBuffer: 64 << 20,
          },
          (err, stdout, stderr) =>
            err
              ? reject(new Error(`scripts/container-build.sh failed: ${err.message}\n${stderr.slice(-6000)}`))
              : resolve(stdout),
        );
        child.stderr?.on("data", (c: Buffer) =>
          process.stderr.write(`# ${c.toString().trimEnd().split("\n").join("\n# ")}\n`),
        );
      });
      build = JSON.parse(out.trim().split("\n").at(-1) ?? "") as typeof build;

      msn = new MsnTestServer({ accounts: [ALICE, BOB] });
      await msn.start();
      msn.befriend(ALICE.email, BOB.email);
      msn.befriend(BOB.email, ALICE.email);
      hsPort = await freePort();
      asPort = await freePort();
    });

    after(async () => {
      if (bridge && bridge.exitCode === null) await podman(["rm", "-f", "-t", "0", NAME]);
      await podman(["rm", "-f", NAME]);
      user?.stop();
      await bob?.logout().catch(() => undefined);
      await synapse?.stop();
      await msn?.stop();
      if (work && !process.env.KEEP_TEST_DATA) rmSync(work, { recursive: true, force: true });
      if (build) {
        process.stderr.write(
          `# container: image ${(build.sizeBytes / 1e6).toFixed(0)} MB, build ${build.buildSeconds} s ` +
            `(base images ${build.baseSeconds} s), whole test ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
        );
      }
    });

    /** A fresh /data on the host, owned by the image's node user as the README asks. */
    function freshData(name: string): string {
      const dir = join(work, name);
      // 0700: the volume comes to hold the registration's tokens and the credentials key.
      mkdirSync(dir, { mode: 0o700 });
      chownSync(dir, NODE_UID, NODE_UID);
      return dir;
    }

    function runOnce(dir: string, env: Record<string, string> = {}): Promise<Run> {
      const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
      return podman(["run", "--rm", "--network", "host", "-v", `${dir}:/data`, ...envArgs, IMAGE]);
    }

    test(
      "the image: non-root node user, /data volume, port 8090, HEALTHCHECK, production dependencies only",
      STEP,
      async () => {
        const inspect = await podman(["image", "inspect", IMAGE]);
        assert.equal(inspect.code, 0, inspect.stderr);
        const [image] = JSON.parse(inspect.stdout) as {
          Size: number;
          Config: {
            User: string;
            Volumes?: Record<string, unknown>;
            ExposedPorts?: Record<string, unknown>;
            Cmd: string[];
          };
          Healthcheck?: { Test: string[] };
        }[];
        assert.ok(image);
        assert.equal(image.Config.User, "node");
        assert.deepEqual(Object.keys(image.Config.Volumes ?? {}), ["/data"]);
        assert.deepEqual(Object.keys(image.Config.ExposedPorts ?? {}), ["8090/tcp"]);
        assert.deepEqual(image.Config.Cmd, ["--data-dir", "/data"]);
        assert.deepEqual(image.Healthcheck?.Test, [
          "CMD",
          "node",
          "/app/dist/src/healthcheck.js",
          "--data-dir",
          "/data",
        ]);
        assert.ok(image.Size < 400e6, `image is ${(image.Size / 1e6).toFixed(0)} MB`);
        const list = "ls /app/node_modules; ls /app/node_modules/@types | sed s,^,@types/,";
        const modules = await podman(["run", "--rm", "--entrypoint", "sh", IMAGE, "-c", list]);
        assert.equal(modules.code, 0, modules.stderr);
        const names = modules.stdout.split("\n");
        assert.ok(names.includes("matrix-appservice-bridge") && names.includes("better-sqlite3"));
        // Some @types/* are the libraries' own runtime dependencies; ours are dev-only.
        const ours = [
          "typescript",
          "eslint",
          "prettier",
          "matrix-js-sdk",
          "@types/better-sqlite3",
          "@types/pg",
        ];
        for (const dev of ours) {
          assert.ok(!names.includes(dev), `${dev} (a dev dependency) is not in the image`);
        }
      },
    );

    test(
      "first run: an empty /data gets the sample config.yaml (owned by node), exit 0 with what to edit",
      STEP,
      async () => {
        const dir = freshData("first");
        const res = await runOnce(dir);
        assert.equal(res.code, 0, res.stderr);
        assert.match(res.stdout, /^No config found: wrote the sample config to \/data\/config\.yaml\.\n/);
        assert.match(res.stdout, /MSN_HOMESERVER_URL/);
        assert.deepEqual(readdirSync(dir), ["config.yaml"], "nothing else is written");
        assert.equal(statSync(join(dir, "config.yaml")).uid, NODE_UID);
        const sample = readFileSync(join(ROOT, "config/config.sample.yaml"), "utf8");
        assert.equal(
          readFileSync(join(dir, "config.yaml"), "utf8"),
          sample.replace("\n  hostname: 127.0.0.1\n", "\n  hostname: 0.0.0.0\n"),
        );

        const again = await runOnce(dir);
        assert.equal(again.code, 1, "the unedited sample is refused");
        assert.match(again.stderr, /error: \/data\/config\.yaml is still the unedited sample: edit it/);
        assert.deepEqual(readdirSync(dir), ["config.yaml"]);
      },
    );

    test(
      "second run: with a config but no registration, registration.yaml is generated from MSN_* variables, exit 0",
      STEP,
      async () => {
        data = freshData("bridge");
        writeFileSync(
          join(data, "config.yaml"),
          YAML.stringify({
            // Wrong on purpose: MSN_HOMESERVER_URL must win, or the bridge never reaches Synapse.
            homeserver: { url: "http://homeserver.invalid:8008", domain: DOMAIN },
            appservice: { hostname: "127.0.0.1", port: asPort },
            bridge: { permissions: { [`@user:${DOMAIN}`]: "user" } },
            msn: {
              server: `127.0.0.1:${msn!.nsPort}`,
              protocol_versions: ["MSNP12"],
              passport_url: msn!.passportUrl,
            },
            logging: { level: "debug" },
          }),
        );
        chownSync(join(data, "config.yaml"), NODE_UID, NODE_UID);
        const res = await runOnce(data, { MSN_APPSERVICE_URL: `http://127.0.0.1:${asPort}` });
        assert.equal(res.code, 0, res.stderr);
        assert.match(
          res.stdout,
          /^No registration found: wrote \/data\/registration\.yaml \(the homeserver will reach the bridge at http:\/\/127\.0\.0\.1:\d+\)\.\n/,
        );
        assert.deepEqual(
          readdirSync(data).sort(),
          ["config.yaml", "registration.yaml"],
          "nothing else is written",
        );
        assert.equal(statSync(join(data, "registration.yaml")).uid, NODE_UID);
        const reg = YAML.parse(readFileSync(join(data, "registration.yaml"), "utf8")) as { url: string };
        assert.equal(reg.url, `http://127.0.0.1:${asPort}`, "appservice.url came from MSN_APPSERVICE_URL");
      },
    );

    test(
      "third run: the bridge serves Synapse (homeserver URL from MSN_HOMESERVER_URL) and answers its ping",
      STEP,
      async () => {
        assert.ok(data, "needs the previous step");
        synapse = await startSynapse({
          serverName: DOMAIN,
          port: hsPort,
          appserviceRegistrationFiles: [join(data, "registration.yaml")],
        });
        bridge = spawn(
          "podman",
          [
            "run",
            "--name",
            NAME,
            "--network",
            "host",
            "-v",
            `${data}:/data`,
            "-e",
            `MSN_HOMESERVER_URL=${synapse.baseUrl}`,
            IMAGE,
          ],
          { env: PODMAN_ENV, stdio: ["ignore", "pipe", "pipe"] },
        );
        const keep = (c: Buffer): void => {
          bridgeLog += c.toString("utf8");
          if (process.env.BRIDGE_LOG) process.stderr.write(c);
        };
        bridge.stdout!.on("data", keep);
        bridge.stderr!.on("data", keep);
        const child = bridge;
        bridgeExit = new Promise((done) => child.once("exit", (code) => done(code)));
        await waitFor(
          "the containerised bridge to listen",
          () => {
            if (child.exitCode !== null)
              throw new Error(`the container exited ${child.exitCode}:\n${bridgeLog.slice(-4000)}`);
            return bridgeLog.includes("appservice listening");
          },
          60_000,
        );
        assert.match(
          bridgeLog,
          /config keys set from the environment.*homeserver\.url \(MSN_HOMESERVER_URL\)/,
        );
        const reg = YAML.parse(readFileSync(join(data, "registration.yaml"), "utf8")) as {
          id: string;
          as_token: string;
        };
        await synapse.pingAppservice(reg.id, reg.as_token);
      },
    );

    test("through the container: log in to MSN via the bot, one message each way", STEP, async () => {
      assert.ok(synapse && bridge, "needs the running bridge");
      const creds = await synapse.registerUser("user", "user-password");
      user = await TestMatrixUser.start({ baseUrl: synapse.baseUrl, ...creds });
      bob = new MsnContact(
        BOB.email,
        BOB.password,
        { host: msn!.host, port: msn!.nsPort },
        {
          versions: ["MSNP12"],
          passportUrl: msn!.passportUrl,
        },
      );
      await bob.login();

      const mgmt = await user.createDirectRoom([`@msnbot:${DOMAIN}`]);
      await user.waitForMessage(
        mgmt,
        (body) => body.startsWith("Hello! I am the MSN Messenger bridge"),
        30_000,
      );
      await user.sendText(mgmt, `login ${ALICE.email} ${ALICE.password}`);
      await user.waitForMessage(
        mgmt,
        (body) => body.startsWith(`✅ Logged in to MSN as ${ALICE.email}`),
        30_000,
      );

      const sb = await bob.chatWith(ALICE.email);
      await sb.sendText("Hello from Bob, via a container");
      const room = await user.waitForInvite(`@msn_${BOB.email.replace("@", "=40")}:${DOMAIN}`, 30_000);
      await user.joinRoom(room);
      await user.waitForMessage(room, "Hello from Bob, via a container", 30_000);

      await user.sendText(room, "Hi Bob, from Matrix");
      await bob.waitForMessage((m) => m.text === "Hi Bob, from Matrix", 30_000);
    });

    test("the image's HEALTHCHECK reports healthy", STEP, async () => {
      assert.ok(bridge, "needs the running bridge");
      const check = await podman(["healthcheck", "run", NAME]);
      assert.equal(check.code, 0, `podman healthcheck run: ${check.stdout}${check.stderr}`);
      const inspect = await podman(["inspect", NAME]);
      const [state] = (
        JSON.parse(inspect.stdout) as {
          State: { Health?: { Status: string }; Healthcheck?: { Status: string } };
        }[]
      ).map((c) => c.State);
      assert.equal((state?.Health ?? state?.Healthcheck)?.Status, "healthy");
    });

    test("podman stop: SIGTERM, MSN logout (OUT), database closed cleanly, exit 0", STEP, async () => {
      assert.ok(bridge && bridgeExit, "needs the running bridge");
      const t0 = Date.now();
      const stop = await podman(["stop", "-t", "10", NAME]);
      const stopMs = Date.now() - t0;
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal(
        await bridgeExit,
        0,
        `container exit code (137 = ignored SIGTERM):\n${bridgeLog.slice(-3000)}`,
      );
      const inspect = await podman(["inspect", "--format", "{{.State.ExitCode}}", NAME]);
      assert.equal(inspect.stdout.trim(), "0");
      assert.ok(stopMs < 9_000, `stopped in ${stopMs} ms, within the 10 s grace period`);
      assert.match(bridgeLog, /received SIGTERM/);
      assert.ok(
        msn!.received(ALICE.email).some((c) => c.connection === "ns" && c.line === "OUT"),
        "the puppet said OUT to the Notification Server",
      );
      // SQLite removes the WAL when the last connection closes: the state is in the database file.
      assert.ok(existsSync(join(data, "msn-bridge.db")));
      assert.ok(!existsSync(join(data, "msn-bridge.db-wal")), "no WAL left behind");
      process.stderr.write(`# container: podman stop took ${stopMs} ms\n`);
    });
  },
);
