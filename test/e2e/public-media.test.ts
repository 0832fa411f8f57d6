/**
 * An image sent from Matrix reaches the MSN contact as a link the contact can open, on a homeserver
 * with authenticated media (real Synapse's default): the bridge signs the link and serves the file.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventType, MsgType } from "matrix-js-sdk";
import type { SynapseHandle } from "../harness/synapse.js";
import { startBridgeWithSynapse } from "../harness/bridge-with-synapse.js";
import { TestMatrixUser } from "../harness/matrix-client.js";
import { BridgeProcess } from "../harness/bridge-process.js";
import { freePort } from "../harness/ports.js";
import { MsnContact } from "../harness/msn-contact.js";
import { MsnTestServer } from "../msn-server/index.js";

const DOMAIN = "msn.test";
const ALICE = { email: "alice@hotmail.test", password: "alice-pw" };
const BOB = { email: "bob@hotmail.test", password: "bob-pw" };
const ghost = (email: string): string => `@msn_${email.replace("@", "=40")}:${DOMAIN}`;
const STEP = { timeout: 60_000 };

describe(
  "media from Matrix reaches MSN as a working link (Synapse with authenticated media)",
  {
    timeout: 180_000,
  },
  () => {
    let msn: MsnTestServer;
    let synapse: SynapseHandle;
    let bridge: BridgeProcess;
    let user: TestMatrixUser;
    let bob: MsnContact;
    let bobRoom = "";
    let link = "";
    // Not valid image data on purpose: the bridge must pass bytes through untouched, not re-encode.
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7 + 3) % 256));

    before(async () => {
      msn = new MsnTestServer({ accounts: [ALICE, BOB].map((a) => ({ ...a, name: a.email })) });
      await msn.start();
      msn.befriend(ALICE.email, BOB.email);
      msn.befriend(BOB.email, ALICE.email);

      const appservicePort = await freePort();
      ({ bridge, synapse } = await startBridgeWithSynapse({
        domain: DOMAIN,
        appservicePort,
        msnHost: msn.host,
        msnPort: msn.nsPort,
        bridge: {
          permissions: { [`@user:${DOMAIN}`]: "user" },
          public_media_url: `http://127.0.0.1:${appservicePort}/`,
        },
        msn: { protocol_versions: ["MSNP7"] },
      }));
      const creds = await synapse.registerUser("user", "user-password");
      user = await TestMatrixUser.start({ baseUrl: synapse.baseUrl, ...creds });
      bob = new MsnContact(
        BOB.email,
        BOB.password,
        { host: msn.host, port: msn.nsPort },
        { versions: ["MSNP7"] },
      );
      await bob.login();
    });

    after(async () => {
      user?.stop();
      await bob?.logout().catch(() => undefined);
      await bridge?.stop();
      await synapse?.stop();
      await msn?.stop();
      bridge?.cleanup();
    });

    test("log in and get a portal with the contact", STEP, async () => {
      const mgmt = await user.createDirectRoom([`@msnbot:${DOMAIN}`]);
      await user.waitForMessage(
        mgmt,
        (body) => body.startsWith("Hello! I am the MSN Messenger bridge"),
        20_000,
      );
      await user.sendText(mgmt, `login ${ALICE.email} ${ALICE.password}`);
      await user.waitForMessage(mgmt, (body) => body.startsWith("✅ Logged in to MSN"), 20_000);
      const sb = await bob.chatWith(ALICE.email);
      await sb.sendText("send me a picture");
      bobRoom = await user.waitForInvite(ghost(BOB.email), 20_000);
      await user.joinRoom(bobRoom);
      await user.waitForMessage(bobRoom, "send me a picture");
    });

    test("an m.image arrives at the contact as a link to the bridge that serves the file", STEP, async () => {
      const upload = await user.client.uploadContent(bytes, { name: "cat.png", type: "image/png" });
      await user.client.sendEvent(bobRoom, EventType.RoomMessage, {
        msgtype: MsgType.Image,
        body: "cat.png",
        url: upload.content_uri,
        info: { mimetype: "image/png", size: bytes.length },
      });
      const got = await bob.waitForMessage((m) => m.text.includes("cat.png"));
      const m = /(http:\/\/\S+)/.exec(got.text);
      assert.ok(m?.[1], `a link in ${JSON.stringify(got.text)}`);
      link = m[1];
      assert.ok(
        link.startsWith(`http://127.0.0.1:${bridge.appservicePort}/_msn/media/`),
        `the link points at the bridge: ${link}`,
      );

      // What the contact's browser does: a plain GET, no Matrix credentials.
      const res = await fetch(link);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "image/png");
      assert.match(res.headers.get("content-security-policy") ?? "", /sandbox/);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
    });

    test("the homeserver's own link would not have opened for the contact", STEP, async () => {
      const [server, mediaId] = link.split("/").slice(-3, -1);
      const plain = await fetch(`${synapse.baseUrl}/_matrix/media/v3/download/${server}/${mediaId}`);
      await plain.arrayBuffer();
      assert.notEqual(plain.status, 200, "Synapse serves this media to authenticated clients only");
    });

    test("a forged or altered link serves nothing", STEP, async () => {
      const parts = link.split("/");
      const signature = parts.at(-1)!;
      const flipped = (signature[0] === "A" ? "B" : "A") + signature.slice(1);
      for (const bad of [
        [...parts.slice(0, -1), flipped].join("/"),
        [...parts.slice(0, -2), "someOtherMediaId", signature].join("/"),
        [...parts.slice(0, -1)].join("/"),
      ]) {
        const res = await fetch(bad);
        await res.arrayBuffer();
        assert.equal(res.status, 404, bad);
      }
    });
  },
);
