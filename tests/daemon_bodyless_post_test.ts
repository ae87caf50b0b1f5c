/**
 * A POST without a body (what curl -X POST, a generated client or any HTTP
 * tool sends to `POST /v1/jobs/{id}/cancel`) needs no Content-Type; a body,
 * or a Content-Type on a POST, must still be JSON (415). Over real sockets:
 * fetch with no body, and raw HTTP/1.1 requests with and without
 * Content-Length.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { copyExample } from "./_helpers.ts";
import { rawRequest, startDaemonProcess, waitJob } from "./_daemon.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "body-less POST: cancel without a body or Content-Type works (fetch, raw with and without Content-Length: 0); a non-JSON body or Content-Type is still 415",
  opts,
  async () => {
    await using copy = await copyExample("floe-bodyless-");
    const state = await Deno.makeTempDir({ prefix: "floe-bodyless-state-" });
    const d = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
    ]);
    try {
      assert.ok(d.url, d.logs());
      const auth = { authorization: `Bearer ${d.token}` };
      const host = { host: new URL(d.url).host };
      const submit = async () => {
        const res = await d.fetch("/v1/jobs", {
          method: "POST",
          body: JSON.stringify({ command: "compile", project_dir: copy.dir }),
        });
        assert.equal(res.status, 202);
        return (await res.json() as Job).id;
      };

      // fetch with no body and no Content-Type.
      const first = await submit();
      const viaFetch = await fetch(`${d.url}/v1/jobs/${first}/cancel`, {
        method: "POST",
        headers: auth,
      });
      assert.equal(viaFetch.status, 202, await viaFetch.clone().text());
      assert.equal((await viaFetch.json() as Job).id, first);
      assert.equal(
        (await waitJob(d, first, ["cancelled", "succeeded", "failed"]))
          .status,
        "cancelled",
      );

      // As curl -X POST sends it: no Content-Length, no Content-Type.
      const second = await submit();
      const bare = await rawRequest(
        d.url,
        "POST",
        `/v1/jobs/${second}/cancel`,
        {
          ...host,
          ...auth,
        },
      );
      assert.equal(bare.status, 202, bare.body);
      assert.equal(JSON.parse(bare.body).id, second);

      // Content-Length: 0 and no Content-Type (what httpx sends).
      const zero = await rawRequest(
        d.url,
        "POST",
        `/v1/jobs/${second}/cancel`,
        {
          ...host,
          ...auth,
          "content-length": "0",
        },
      );
      assert.equal(zero.status, 202, zero.body);
      assert.equal(
        (await waitJob(d, second, ["cancelled", "succeeded", "failed"]))
          .status,
        "cancelled",
      );

      // Still 415: a Content-Type that is not JSON (an HTML form's, even
      // empty), a body without a JSON type.
      for (
        const [what, headers, body] of [
          ["an empty form", {
            "content-type": "application/x-www-form-urlencoded",
            "content-length": "0",
          }, ""],
          ["a text body", { "content-type": "text/plain" }, "x=1"],
          ["a body without a type", {}, "{}"],
        ] as const
      ) {
        const res = await rawRequest(
          d.url,
          "POST",
          `/v1/jobs/${second}/cancel`,
          { ...host, ...auth, ...headers },
          body,
        );
        assert.equal(res.status, 415, `${what}: ${res.body}`);
        assert.equal(JSON.parse(res.body).code, "FLOE-DBT-E010", what);
      }

      // A streamed (chunked) body without a type.
      const chunked = await fetch(`${d.url}/v1/jobs/${second}/cancel`, {
        method: "POST",
        headers: auth,
        body: new Blob(["{}"]).stream(),
      });
      assert.equal(chunked.status, 415, await chunked.clone().text());
      await chunked.body?.cancel();

      // A body-less submit reaches the route: 400 (a JSON object is needed),
      // never 415 or 500.
      const empty = await rawRequest(d.url, "POST", "/v1/jobs", {
        ...host,
        ...auth,
      });
      assert.equal(empty.status, 400, empty.body);
      assert.match(JSON.parse(empty.body).message, /not valid JSON/);
      // And a body-less POST still needs the token.
      const anonymous = await rawRequest(
        d.url,
        "POST",
        `/v1/jobs/${second}/cancel`,
        host,
      );
      assert.equal(anonymous.status, 401);
    } finally {
      d.child.kill("SIGTERM");
      await d.exit();
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
);
