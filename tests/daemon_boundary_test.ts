/**
 * The daemon's trust boundary over real sockets: JSON-only bodies, Origin
 * and Host checks, a token always (generated and reused), probes that say
 * only ready or not, idempotency mismatches, re-confinement after a restart.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { copyExample, ROOT, writeFile } from "./_helpers.ts";
import {
  type DaemonProcess,
  rawRequest,
  startDaemonProcess,
  waitJob,
} from "./_daemon.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

async function world(extra: string[] = []): Promise<{
  dir: string;
  d: DaemonProcess;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const dir = await Deno.makeTempDir({ prefix: "floe-boundary-" });
  await Deno.mkdir(join(dir, "root", "proj"), { recursive: true });
  // Its own profiles.yml: a daemon job never falls back to ~/.dbt.
  await Deno.writeTextFile(join(dir, "root", "proj", "profiles.yml"), "");
  const d = await startDaemonProcess([
    "--project-root",
    join(dir, "root"),
    "--state-dir",
    join(dir, "state"),
    ...extra,
  ]);
  assert.ok(d.url, d.logs());
  return {
    dir,
    d,
    async [Symbol.asyncDispose]() {
      d.child.kill("SIGTERM");
      await d.exit();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function corsHeaders(h: Headers | Record<string, string>): string[] {
  const keys = h instanceof Headers ? [...h.keys()] : Object.keys(h);
  return keys.filter((k) => k.toLowerCase().startsWith("access-control-"));
}

async function jobCount(d: DaemonProcess): Promise<number> {
  return ((await (await d.fetch("/v1/jobs")).json()) as { jobs: Job[] })
    .jobs.length;
}

Deno.test(
  "boundary: a body that is not JSON is 415 (text/plain, form, multipart, none), even with the token; no job is made",
  opts,
  async () => {
    await using w = await world();
    const { d } = w;
    const body = JSON.stringify({
      command: "compile",
      project_dir: join(w.dir, "root", "proj"),
    });
    const auth = { authorization: `Bearer ${d.token}` };
    const form = new FormData();
    form.set("command", "compile");
    for (
      const [what, init] of [
        ["text/plain", {
          body,
          headers: { ...auth, "content-type": "text/plain" },
        }],
        ["urlencoded", {
          body: new URLSearchParams({ command: "compile" }),
          headers: auth,
        }],
        ["multipart", { body: form, headers: auth }],
        ["json in a text/plain disguise", {
          body,
          headers: { ...auth, "content-type": "text/plain;charset=UTF-8" },
        }],
        ["no content type", {
          body: new TextEncoder().encode(body),
          headers: auth,
        }],
      ] as const
    ) {
      const res = await fetch(`${d.url}/v1/jobs`, { method: "POST", ...init });
      const json = await res.json();
      assert.equal(res.status, 415, `${what}: ${JSON.stringify(json)}`);
      assert.equal(json.code, "FLOE-DBT-E010");
      assert.match(json.message, /json/i);
    }
    // A POST without a body needs no Content-Type (it reaches the route:
    // no job x), but one it declares must still be JSON (an HTML form's).
    const cancel = await fetch(`${d.url}/v1/jobs/x/cancel`, {
      method: "POST",
      headers: auth,
    });
    assert.equal(cancel.status, 404);
    await cancel.body?.cancel();
    const formCancel = await fetch(`${d.url}/v1/jobs/x/cancel`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(formCancel.status, 415);
    await formCancel.body?.cancel();
    // A GET that carries a body is held to the same rule.
    const getWithBody = await rawRequest(d.url, "GET", "/v1/jobs", {
      host: new URL(d.url).host,
      ...auth,
      "content-type": "text/plain",
    }, "x=1");
    assert.equal(getWithBody.status, 415);
    assert.equal(await jobCount(d), 0);
    assert.match(
      d.logs(),
      /refused request: content type not JSON .*method=POST path=\/v1\/jobs/,
    );
    // JSON with a charset is fine.
    const ok = await d.fetch("/v1/jobs", {
      method: "POST",
      body,
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    assert.equal(ok.status, 202, await ok.text());
    assert.equal(await jobCount(d), 1);
  },
);

Deno.test(
  "boundary: a request with an Origin is 403 without CORS headers unless the origin is allowed; allowed ones get CORS and a preflight",
  opts,
  async () => {
    await using w = await world(["--allow-origin", "http://app.example:3000"]);
    const { d } = w;
    const evil = await d.fetch("/v1/jobs", {
      method: "POST",
      headers: { origin: "http://evil.example" },
      body: JSON.stringify({
        command: "build",
        project_dir: join(w.dir, "root", "proj"),
        full_refresh: true,
      }),
    });
    const json = await evil.json();
    assert.equal(evil.status, 403);
    assert.equal(json.code, "FLOE-DBT-E011");
    assert.deepEqual(corsHeaders(evil.headers), []);
    for (
      const origin of ["null", "http://app.example:3001", "http://127.0.0.1"]
    ) {
      const res = await d.fetch("/v1/jobs", { headers: { origin } });
      assert.equal(res.status, 403, origin);
      assert.deepEqual(corsHeaders(res.headers), [], origin);
      await res.body?.cancel();
    }
    const preflightEvil = await fetch(`${d.url}/v1/jobs`, {
      method: "OPTIONS",
      headers: {
        origin: "http://evil.example",
        "access-control-request-method": "POST",
      },
    });
    assert.equal(preflightEvil.status, 403);
    assert.deepEqual(corsHeaders(preflightEvil.headers), []);
    await preflightEvil.body?.cancel();
    // No Origin, no CORS grant either.
    const plain = await d.fetch("/v1/jobs");
    assert.deepEqual(corsHeaders(plain.headers), []);
    await plain.body?.cancel();
    assert.equal(await jobCount(d), 0);
    assert.match(
      d.logs(),
      /refused request: origin not allowed .*method=POST path=\/v1\/jobs origin=http:\/\/evil\.example/,
    );

    const app = "http://app.example:3000";
    const pre = await fetch(`${d.url}/v1/jobs`, {
      method: "OPTIONS",
      headers: {
        origin: app,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    await pre.body?.cancel();
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), app);
    assert.match(
      pre.headers.get("access-control-allow-headers")!,
      /authorization/,
    );
    assert.match(pre.headers.get("access-control-allow-methods")!, /POST/);
    const listed = await d.fetch("/v1/jobs", { headers: { origin: app } });
    assert.equal(listed.status, 200);
    assert.equal(listed.headers.get("access-control-allow-origin"), app);
    await listed.body?.cancel();
    // Errors carry the grant too, so the allowed page can read them.
    const bad = await d.fetch("/v1/jobs", {
      method: "POST",
      headers: { origin: app },
      body: "{}",
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get("access-control-allow-origin"), app);
    await bad.body?.cancel();
    // Allowed origins still need the token.
    const noToken = await fetch(`${d.url}/v1/jobs`, {
      headers: { origin: app },
    });
    assert.equal(noToken.status, 401);
    await noToken.body?.cancel();
  },
);

Deno.test(
  "boundary: a loopback daemon answers only loopback Host headers with its port, or --allow-host names (DNS rebinding)",
  opts,
  async () => {
    await using w = await world(["--allow-host", "floe.test"]);
    const { d } = w;
    const port = new URL(d.url).port;
    const auth = { authorization: `Bearer ${d.token}` };
    for (
      const host of [
        `evil.example:${port}`,
        "evil.example",
        `127.0.0.1:${Number(port) + 1}`,
        `localhost.evil.example:${port}`,
        `127.0.0.1.nip.io:${port}`,
        "",
      ]
    ) {
      for (const path of ["/v1/jobs", "/healthz", "/readyz"]) {
        const res = await rawRequest(d.url, "GET", path, { host, ...auth });
        assert.equal(res.status, 403, `Host '${host}' ${path}`);
        assert.equal(JSON.parse(res.body).code, "FLOE-DBT-E011");
      }
    }
    assert.match(
      d.logs(),
      new RegExp(
        `refused request: host not allowed .*method=GET path=/v1/jobs .*host=evil\\.example:${port}`,
      ),
    );
    for (
      const host of [
        `localhost:${port}`,
        `127.0.0.1:${port}`,
        `127.1.2.3:${port}`,
        `LOCALHOST:${port}`,
        `floe.test:${port}`,
        "floe.test",
      ]
    ) {
      const res = await rawRequest(d.url, "GET", "/v1/jobs", { host, ...auth });
      assert.equal(res.status, 200, `Host '${host}': ${res.body}`);
    }
  },
);

Deno.test(
  "boundary: the generated token is 0600, required on loopback, reused after a restart, and the CLI finds it",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-token-" });
    const state = join(dir, "state");
    const args = ["--project-root", dir, "--state-dir", state];
    const d1 = await startDaemonProcess(args);
    let first: string;
    try {
      assert.ok(d1.url, d1.logs());
      const info = await Deno.lstat(join(state, "token"));
      assert.ok(info.isFile);
      assert.equal(info.mode! & 0o777, 0o600);
      first = (await Deno.readTextFile(join(state, "token"))).trim();
      assert.match(first, /^[0-9a-f]{64}$/);
      assert.doesNotMatch(d1.logs(), new RegExp(first), "never logged");
      for (
        const auth of [
          {},
          { authorization: "Bearer wrong-token-0123456789" },
          { authorization: `Bearer ${first}x` },
        ] as Record<string, string>[]
      ) {
        const res = await fetch(`${d1.url}/v1/jobs`, { headers: auth });
        assert.equal(res.status, 401);
        assert.equal(res.headers.get("www-authenticate"), "Bearer");
        assert.equal((await res.json()).code, "FLOE-DBT-E011");
      }
      // The probes stay open and say only whether the agent is ready.
      const health = await fetch(`${d1.url}/healthz`);
      assert.deepEqual(await health.json(), { status: "ok" });
      const ready = await fetch(`${d1.url}/readyz`);
      const body = await ready.json();
      assert.deepEqual(Object.keys(body), ["ready"]);
      assert.equal(ready.status, body.ready ? 200 : 503);
      // The CLI on this machine reads the token itself: --state-dir or
      // FLOE_STATE_DIR.
      const cli = (extra: string[], env: Record<string, string>) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "--quiet",
            join(ROOT, "main.ts"),
            "jobs",
            "--url",
            d1.url,
            ...extra,
          ],
          env: { NO_COLOR: "1", ...env },
          stdout: "piped",
          stderr: "piped",
        }).output();
      const path = {};
      for (
        const out of [
          await cli(["--state-dir", state], path),
          await cli([], { ...path, FLOE_STATE_DIR: state }),
        ]
      ) {
        const text = new TextDecoder().decode(out.stdout) +
          new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, text);
        assert.match(text, /\(no jobs\)/);
      }
      // Elsewhere (no token anywhere) the CLI gets the 401 with a hint.
      const lost = await cli([], { FLOE_STATE_DIR: join(dir, "nowhere") });
      assert.equal(lost.code, 2);
      assert.match(
        new TextDecoder().decode(lost.stderr),
        /Daemon answered 401: Missing bearer token/,
      );
    } finally {
      d1.child.kill("SIGTERM");
      assert.equal(await d1.exit(), 0);
    }
    const d2 = await startDaemonProcess(args);
    try {
      assert.equal(d2.token, first, "the same token after a restart");
      assert.equal((await d2.fetch("/v1/jobs")).status, 200);
    } finally {
      d2.child.kill("SIGTERM");
      assert.equal(await d2.exit(), 0);
    }
    // A token file others can read, or a link, is refused at start.
    await Deno.chmod(join(state, "token"), 0o644);
    const loose = await startDaemonProcess(args);
    assert.equal(loose.url, "");
    assert.equal(await loose.exit(), 2);
    assert.match(
      loose.logs(),
      /FLOE-DBT-E003 The token file .* is readable by other users \(mode 644\)/,
    );
    assert.match(loose.logs(), /chmod 600/);
    await Deno.rename(join(state, "token"), join(dir, "elsewhere"));
    await Deno.chmod(join(dir, "elsewhere"), 0o600);
    await Deno.symlink(join(dir, "elsewhere"), join(state, "token"));
    const linked = await startDaemonProcess(args);
    assert.equal(linked.url, "");
    assert.equal(await linked.exit(), 2);
    assert.match(
      linked.logs(),
      /FLOE-DBT-E003 The token file .* is not a regular file/,
    );
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "boundary: an Idempotency-Key reused with a different body is 422; the same body returns the first job",
  opts,
  async () => {
    await using w = await world();
    const { d } = w;
    const proj = join(w.dir, "root", "proj");
    const post = (body: Record<string, unknown>) =>
      d.fetch("/v1/jobs", {
        method: "POST",
        headers: { "idempotency-key": "nightly-2026-11-23" },
        body: JSON.stringify(body),
      });
    const first = await post({ command: "compile", project_dir: proj });
    assert.equal(first.status, 202);
    const job = await first.json() as Job;
    // Same request, keys in another order and an equivalent path: same job.
    const again = await post({ project_dir: `${proj}/`, command: "compile" });
    assert.equal(again.status, 200);
    assert.equal((await again.json() as Job).id, job.id);
    for (
      const other of [
        { command: "build", project_dir: proj },
        { command: "compile", project_dir: proj, target: "prod" },
        { command: "compile", project_dir: proj, runtime: "fusion" },
      ]
    ) {
      const res = await post(other);
      const json = await res.json();
      assert.equal(res.status, 422, JSON.stringify(other));
      assert.equal(json.code, "FLOE-DBT-E010");
      assert.match(
        json.message,
        new RegExp(
          `Idempotency-Key 'nightly-2026-11-23' was already used for a different request \\(job ${job.id}\\)`,
        ),
      );
    }
    assert.equal(await jobCount(d), 1);
  },
);

Deno.test(
  "boundary: a queued job whose project left the roots while the daemon was down fails E011 at start; the log names the roots, the body does not",
  opts,
  async () => {
    await using copy = await copyExample();
    const dir = await Deno.makeTempDir({ prefix: "floe-reconfine-" });
    const state = join(dir, "state");
    const other = join(dir, "other");
    await Deno.mkdir(other);
    await Deno.writeTextFile(join(other, "profiles.yml"), "");
    await writeFile(
      copy.dir,
      "models/slow.sql",
      "select sum(a.range * b.range) as n from range(100000) a cross join range(100000) b\n",
    );
    // One local job at a time, so the second job stays queued behind the
    // slow one (different projects would otherwise run side by side).
    const config = join(dir, "manifest.yaml");
    await Deno.writeTextFile(
      config,
      "plugins:\n  dbt_runtime: local\n  dbt_runtime_config:\n    local:\n      max_workers: 1\n",
    );
    const d1 = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--project-root",
      other,
      "--state-dir",
      state,
      "--grace-seconds",
      "0",
      "--config",
      config,
    ]);
    const submit = async (body: Record<string, unknown>) => {
      const res = await d1.fetch("/v1/jobs", {
        method: "POST",
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 202);
      return await res.json() as Job;
    };
    const slow = await submit({
      command: "run",
      project_dir: copy.dir,
      select: "slow",
    });
    const queued = await submit({ command: "compile", project_dir: other });
    await waitJob(d1, slow.id, ["running"]);
    d1.child.kill("SIGTERM");
    assert.equal(await d1.exit(), 0);

    // Restart with the roots narrowed to the example copy only.
    const d2 = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
      "--config",
      config,
    ]);
    try {
      const failed = await waitJob(d2, queued.id, [
        "succeeded",
        "failed",
        "cancelled",
        "interrupted",
      ]);
      assert.equal(failed.status, "failed");
      assert.equal(failed.error?.code, "FLOE-DBT-E011");
      assert.match(
        failed.error!.message,
        /Refused when the job started: project_dir '.*other' is outside the allowed project roots/,
      );
      assert.doesNotMatch(failed.error!.message, new RegExp(copy.dir));
      assert.match(
        d2.logs(),
        /job refused at start: outside the project roots .*project_roots=/,
      );
      assert.ok(d2.logs().includes(copy.dir), "the log names the roots");
      // And a new submission outside: 403 naming no roots.
      const res = await d2.fetch("/v1/jobs", {
        method: "POST",
        body: JSON.stringify({ command: "compile", project_dir: other }),
      });
      const text = await res.text();
      assert.equal(res.status, 403);
      assert.ok(!text.includes(copy.dir), text);
      assert.match(text, /ask the operator, or see the daemon log/);
    } finally {
      d2.child.kill("SIGTERM");
      assert.equal(await d2.exit(), 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "boundary: serve refuses an --allow-origin that is not an origin and an --allow-host that is not a name",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-flags-" });
    for (
      const [flag, value, message] of [
        ["--allow-origin", "evil.example", /--allow-origin must be an origin/],
        ["--allow-origin", "http://app.example/path", /--allow-origin must be/],
        ["--allow-host", "floe.test:8686", /--allow-host must be a host name/],
        ["--allow-host", "http://floe.test", /--allow-host must be/],
      ] as const
    ) {
      const d = await startDaemonProcess([
        "--project-root",
        dir,
        "--state-dir",
        join(dir, "state"),
        flag,
        value,
      ]);
      assert.equal(d.url, "");
      assert.equal(await d.exit(), 2);
      assert.match(d.logs(), /FLOE-DBT-E010/);
      assert.match(d.logs(), message);
    }
    await Deno.remove(dir, { recursive: true });
  },
);
