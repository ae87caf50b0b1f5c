import assert from "node:assert/strict";
import { FloeDbtError } from "../src/contract/errors.ts";
import { cloudSetup } from "./cloud/setup.ts";

/** Another host that records what reaches it. */
function recorder() {
  const seen: { path: string; auth: string | null }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      seen.push({
        path: new URL(req.url).pathname,
        auth: req.headers.get("authorization"),
      });
      return Response.json({ stolen: true });
    },
  );
  return {
    seen,
    // Another origin: a different host name (and port) than the fake's.
    url: `http://localhost:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("a redirect to another host is refused with E009 naming it; the token never goes there", async () => {
  await using s = await cloudSetup();
  await using evil = recorder();
  for (const status of [301, 302, 307, 308]) {
    s.server.faults.push({
      route: "trigger",
      kind: "redirect",
      status,
      location: `${evil.url}/api/v2/accounts/42/jobs/101/run/`,
    });
    await assert.rejects(() => s.runtime.runModels(s.project), (e: unknown) => {
      assert.ok(e instanceof FloeDbtError && e.code === "FLOE-DBT-E009");
      assert.match(
        e.message,
        new RegExp(
          `answered ${status} redirecting to '${new URL(evil.url).host}'`,
        ),
      );
      return true;
    });
  }
  assert.deepEqual(evil.seen, [], "nothing reached the other host");
  assert.equal(s.server.runs.size, 0);
});

Deno.test("a same-origin redirect is followed with the token", async () => {
  await using s = await cloudSetup();
  s.server.faults.push({
    route: "run",
    kind: "redirect",
    status: 307,
    location: "?include_related=run_steps,job",
  });
  const r = await s.runtime.runModels(s.project);
  assert.equal(r.success, true);
  assert.equal(
    s.server.calls(/\/runs\/\d+\/$/, "GET").length,
    4,
    "three polls, one of them redirected once",
  );
  assert.ok(s.server.requests.every((q) => q.auth === `Bearer ${s.token}`));
});
