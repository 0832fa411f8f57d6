import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { MediaLinks, type MediaResponse } from "../../../src/matrix/public-media.js";

/** Collects what the handler writes, as express would send it. */
class FakeResponse extends PassThrough implements MediaResponse {
  code = 0;
  headers: Record<string, string> = {};
  jsonBody: unknown = undefined;
  chunks: Buffer[] = [];
  constructor() {
    super();
    this.on("data", (c: Buffer) => this.chunks.push(c));
  }
  get headersSent(): boolean {
    return this.code !== 0;
  }
  status(code: number): this {
    this.code = code;
    return this;
  }
  setHeader(name: string, value: string): this {
    this.headers[name] = value;
    return this;
  }
  json(body: unknown): this {
    this.jsonBody = body;
    this.end();
    return this;
  }
}

function links(fetchImpl: typeof fetch, externalUrl: string | null = "https://bridge.example/"): MediaLinks {
  return new MediaLinks({
    homeserverUrl: "http://hs.example/",
    asToken: "as-secret",
    externalUrl,
    fetch: fetchImpl,
  });
}

function paramsOf(url: string): { server: string; mediaId: string; signature: string } {
  const [server, mediaId, signature] = new URL(url).pathname.split("/").slice(3).map(decodeURIComponent);
  return { server: server!, mediaId: mediaId!, signature: signature! };
}

async function serve(l: MediaLinks, params: Record<string, string>): Promise<FakeResponse> {
  const res = new FakeResponse();
  await l.handle({ params }, res);
  return res;
}

const never: typeof fetch = () => Promise.reject(new Error("no fetch expected"));

describe("public media links", () => {
  test("without a public URL, links go to the homeserver's legacy download endpoint", () => {
    assert.equal(
      links(never, null).urlFor("mxc://example.org/abc_D-1"),
      "http://hs.example/_matrix/media/v3/download/example.org/abc_D-1",
    );
  });

  test("with one, links point at the bridge and carry a signature", () => {
    const url = links(never).urlFor("mxc://example.org:8448/abc")!;
    assert.match(
      url,
      /^https:\/\/bridge\.example\/_msn\/media\/example\.org%3A8448\/abc\/[A-Za-z0-9_-]{22}$/,
    );
  });

  test("URIs that are not plain mxc:// get no link at all", () => {
    for (const bad of [
      "http://x/y",
      "mxc://example.org/../x",
      "mxc://ex ample/abc",
      "mxc://e/a/b",
      "mxc://e/a?b",
    ]) {
      assert.equal(links(never).urlFor(bad), null, bad);
    }
  });

  test("a valid link streams the homeserver's answer with safe headers, authenticated as the bridge", async () => {
    const seen: { url: string; auth: string | null }[] = [];
    const l = links(async (input, init) => {
      seen.push({ url: String(input), auth: new Headers(init?.headers).get("authorization") });
      return new Response("file bytes", {
        status: 200,
        headers: { "content-type": "text/html", "content-disposition": "inline", "set-cookie": "x=y" },
      });
    });
    const res = await serve(l, paramsOf(l.urlFor("mxc://example.org/abc")!));
    assert.equal(res.code, 200);
    assert.equal(Buffer.concat(res.chunks).toString(), "file bytes");
    assert.deepEqual(seen, [
      {
        url: "http://hs.example/_matrix/client/v1/media/download/example.org/abc?allow_redirect=true",
        auth: "Bearer as-secret",
      },
    ]);
    assert.equal(res.headers["content-type"], "text/html");
    assert.equal(res.headers["set-cookie"], undefined, "only known headers are passed on");
    assert.match(res.headers["content-security-policy"]!, /sandbox/);
    assert.equal(res.headers["x-content-type-options"], "nosniff");
  });

  test("a homeserver without authenticated media is asked on the legacy endpoint", async () => {
    const urls: string[] = [];
    const l = links(async (input) => {
      urls.push(String(input));
      return urls.length === 1
        ? Response.json({ errcode: "M_UNRECOGNIZED" }, { status: 404 })
        : new Response("old", { status: 200 });
    });
    const res = await serve(l, paramsOf(l.urlFor("mxc://example.org/abc")!));
    assert.equal(res.code, 200);
    assert.equal(urls[1], "http://hs.example/_matrix/media/v3/download/example.org/abc");
  });

  test("wrong signatures, other media IDs and odd parameters get the same 404 without asking the homeserver", async () => {
    const l = links(never);
    const good = paramsOf(l.urlFor("mxc://example.org/abc")!);
    for (const params of [
      { ...good, signature: "A".repeat(22) },
      { ...good, signature: good.signature.slice(1) },
      { ...good, mediaId: "abd" },
      { ...good, server: "evil.org" },
      { ...good, mediaId: "../abc" },
      {},
    ]) {
      const res = await serve(l, params);
      assert.equal(res.code, 404, JSON.stringify(params));
    }
    const off = links(never, null);
    assert.equal((await serve(off, good)).code, 404, "nothing is served when public media is off");
  });

  test("missing media is 404, homeserver failures are 502", async () => {
    let answer: () => Promise<Response> = async () =>
      Response.json({ errcode: "M_NOT_FOUND" }, { status: 404 });
    const l = links(() => answer());
    const params = paramsOf(l.urlFor("mxc://example.org/abc")!);
    assert.equal((await serve(l, params)).code, 404);
    answer = async () => new Response("", { status: 500 });
    assert.equal((await serve(l, params)).code, 502);
    answer = () => Promise.reject(new TypeError("fetch failed"));
    assert.equal((await serve(l, params)).code, 502);
  });
});
