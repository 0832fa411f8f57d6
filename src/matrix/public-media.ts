/**
 * Links to Matrix media that an MSN contact can open.
 *
 * MSN has no media upload the bridge can use, so an image or file sent from Matrix reaches the MSN
 * contact as a URL. Since Matrix 1.11 homeservers serve media only to authenticated clients
 * (Synapse enables it by default), so the plain `/_matrix/media/v3/download` link a contact gets
 * answers 404 or 401. As mautrix bridges do ("public media"), the bridge serves those files itself:
 * the link points at the bridge, carries an HMAC of the media ID so nobody can enumerate the
 * homeserver's media through it, and the bridge fetches the file from the homeserver with its own
 * as_token and streams it through without holding it in memory.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { Readable } from "node:stream";
import type { Writable } from "node:stream";

/** The path the bridge serves signed media links under (on the appservice port). */
export const PUBLIC_MEDIA_PATH = "/_msn/media/:server/:mediaId/:signature";

// Server names and media IDs as the spec allows them; anything else never reaches a URL.
const MXC_RE = /^mxc:\/\/([A-Za-z0-9.:[\]-]+)\/([A-Za-z0-9_-]+)$/;
const SERVER_RE = /^[A-Za-z0-9.:[\]-]+$/;
const MEDIA_ID_RE = /^[A-Za-z0-9_-]+$/;
const SIGNATURE_CHARS = 22; // 132 bits of the HMAC, base64url

/** Headers of the homeserver's answer that are passed on to the contact's browser. */
const FORWARDED_HEADERS = ["content-type", "content-length", "content-disposition", "last-modified"] as const;

export interface PublicMediaOptions {
  homeserverUrl: string;
  /** The bridge's as_token: authenticates media downloads and keys the link signatures. */
  asToken: string;
  /** Base URL under which the appservice port is reachable by MSN contacts; null serves nothing. */
  externalUrl: string | null;
  /** How long to wait for the homeserver to start answering. Default 30 s. */
  timeoutMs?: number;
  /** Injectable for tests. */
  fetch?: typeof fetch;
}

/** The part of an express request/response the handler uses. */
export interface MediaRequest {
  params: Record<string, string | undefined>;
}
export interface MediaResponse extends Writable {
  status(code: number): MediaResponse;
  setHeader(name: string, value: string): unknown;
  json(body: unknown): unknown;
  readonly headersSent: boolean;
}

export class MediaLinks {
  private readonly key: Buffer;
  private readonly homeserverUrl: string;
  private readonly externalUrl: string | null;

  constructor(private readonly opts: PublicMediaOptions) {
    // Derived rather than configured: one secret less to manage. Rotating the as_token
    // invalidates links already sent, which is the behaviour a leaked token calls for anyway.
    this.key = createHmac("sha256", opts.asToken).update("matrix-appservice-msn public media").digest();
    this.homeserverUrl = opts.homeserverUrl.replace(/\/+$/, "");
    this.externalUrl = opts.externalUrl?.replace(/\/+$/, "") ?? null;
  }

  /** The URL an MSN contact gets for an mxc:// URI, or null when the URI is not one. */
  urlFor(mxc: string): string | null {
    const m = MXC_RE.exec(mxc);
    if (!m?.[1] || !m[2]) return null;
    const [server, mediaId] = [m[1], m[2]];
    if (this.externalUrl === null) {
      // Homeservers without authenticated media still serve this link to anyone.
      return `${this.homeserverUrl}/_matrix/media/v3/download/${server}/${mediaId}`;
    }
    return `${this.externalUrl}/_msn/media/${encodeURIComponent(server)}/${mediaId}/${this.sign(server, mediaId)}`;
  }

  /** Serves GET {@link PUBLIC_MEDIA_PATH}: checks the signature, then streams the file. */
  async handle(req: MediaRequest, res: MediaResponse): Promise<void> {
    const { server, mediaId, signature } = req.params;
    if (
      this.externalUrl === null ||
      !server ||
      !mediaId ||
      !signature ||
      !SERVER_RE.test(server) ||
      !MEDIA_ID_RE.test(mediaId) ||
      !this.verify(server, mediaId, signature)
    ) {
      // One answer for every refusal, so a prober learns nothing about which part was wrong.
      res.status(404).json({ errcode: "M_NOT_FOUND", error: "Not found" });
      return;
    }
    let upstream: Response;
    try {
      upstream = await this.download(server, mediaId);
    } catch {
      res.status(502).json({ errcode: "M_UNKNOWN", error: "The homeserver did not answer" });
      return;
    }
    if (!upstream.ok || !upstream.body) {
      await upstream.body?.cancel().catch(() => undefined);
      const code = upstream.status === 404 ? 404 : 502;
      res.status(code).json({ errcode: code === 404 ? "M_NOT_FOUND" : "M_UNKNOWN", error: "Not available" });
      return;
    }
    res.status(200);
    for (const name of FORWARDED_HEADERS) {
      const value = upstream.headers.get(name);
      if (value !== null) res.setHeader(name, value);
    }
    // The file is served from the bridge's origin: never let a browser run it as a page there.
    res.setHeader("content-security-policy", "sandbox; default-src 'none'");
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("cache-control", "public, max-age=86400, immutable");
    const body = Readable.fromWeb(upstream.body as import("node:stream/web").ReadableStream<Uint8Array>);
    await new Promise<void>((resolve) => {
      body.once("error", () => {
        res.destroy();
        resolve();
      });
      res.once("close", () => {
        body.destroy();
        resolve();
      });
      body.pipe(res);
    });
  }

  private sign(server: string, mediaId: string): string {
    return createHmac("sha256", this.key)
      .update(`${server}/${mediaId}`)
      .digest("base64url")
      .slice(0, SIGNATURE_CHARS);
  }

  private verify(server: string, mediaId: string, signature: string): boolean {
    const expected = Buffer.from(this.sign(server, mediaId));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** Authenticated media (Matrix 1.11) first; the legacy endpoint for homeservers without it. */
  private async download(server: string, mediaId: string): Promise<Response> {
    const doFetch = this.opts.fetch ?? fetch;
    const path = `${encodeURIComponent(server)}/${mediaId}`;
    const get = async (url: string): Promise<Response> => {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), this.opts.timeoutMs ?? 30_000);
      try {
        // The timer only guards the wait for headers; a large file may then take as long as it takes.
        return await doFetch(url, {
          headers: { authorization: `Bearer ${this.opts.asToken}` },
          signal: abort.signal,
          redirect: "follow",
        });
      } finally {
        clearTimeout(timer);
      }
    };
    const res = await get(
      `${this.homeserverUrl}/_matrix/client/v1/media/download/${path}?allow_redirect=true`,
    );
    if (res.status !== 404 && res.status !== 405) return res;
    const unrecognised = await res
      .clone()
      .json()
      .then((b: unknown) => (b as { errcode?: unknown } | null)?.errcode === "M_UNRECOGNIZED")
      .catch(() => false);
    if (!unrecognised) return res;
    await res.body?.cancel().catch(() => undefined);
    return get(`${this.homeserverUrl}/_matrix/media/v3/download/${path}`);
  }
}
