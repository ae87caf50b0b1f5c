import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { copyExample, writeFile } from "./_helpers.ts";
import { startDaemonProcess, waitJob } from "./_daemon.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TOKEN = "test-token-0123456789abcdef";

Deno.test(
  "daemon: bearer auth (missing, wrong, right), probes open, a generated token when none is given",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/token`, TOKEN);
    const d = await startDaemonProcess([
      "--project-root",
      dir,
      "--state-dir",
      `${dir}/state`,
      "--token-file",
      `${dir}/token`,
    ]);
    try {
      assert.ok(d.url, d.logs());
      assert.equal((await d.fetch(`/healthz`)).status, 200);
      const missing = await fetch(`${d.url}/v1/jobs`);
      assert.equal(missing.status, 401);
      assert.equal((await missing.json()).code, "FLOE-DBT-E011");
      const wrong = await d.fetch(`/v1/jobs`, {
        headers: { authorization: "Bearer nope" },
      });
      assert.equal(wrong.status, 401);
      await wrong.body?.cancel();
      const right = await d.fetch(`/v1/jobs`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(right.status, 200);
      assert.deepEqual(await right.json(), { jobs: [], next_cursor: null });
      const doc = await (await d.fetch(`/openapi.json`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })).json();
      assert.equal(doc.openapi, "3.1.0");
      assert.ok(doc.components.schemas.JobRequest.properties.command);
      assert.doesNotMatch(
        d.logs(),
        new RegExp(TOKEN),
        "the token is never logged",
      );
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
    }
    // No token given, even off loopback: the daemon generates one and
    // requires it.
    const open = await startDaemonProcess([
      "--host",
      "0.0.0.0",
      "--project-root",
      dir,
      "--state-dir",
      `${dir}/state2`,
    ]);
    try {
      assert.ok(open.url, open.logs());
      assert.match(open.token ?? "", /^[0-9a-f]{64}$/);
      const denied = await fetch(`${open.url}/v1/jobs`);
      assert.equal(denied.status, 401);
      await denied.body?.cancel();
      assert.equal((await open.fetch("/v1/jobs")).status, 200);
      assert.doesNotMatch(open.logs(), new RegExp(open.token!));
    } finally {
      open.child.kill("SIGTERM");
      assert.equal(await open.exit(), 0);
    }
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "daemon: every bad body is a 400 with a message, a huge one 413, escapes from the roots 403",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    await Deno.mkdir(`${dir}/root/proj`, { recursive: true });
    await Deno.symlink("/etc", `${dir}/root/sneaky`);
    const d = await startDaemonProcess([
      "--project-root",
      `${dir}/root`,
      "--state-dir",
      `${dir}/state`,
    ]);
    const post = (body: string) =>
      d.fetch("/v1/jobs", { method: "POST", body });
    try {
      const bad = [
        "not json",
        "[]",
        "null",
        "{}",
        JSON.stringify({ command: "drop", project_dir: `${dir}/root/proj` }),
        JSON.stringify({ command: "run" }),
        JSON.stringify({ command: "run", project_dir: 42 }),
        JSON.stringify({
          command: "run",
          project_dir: `${dir}/root/proj`,
          full_refresh: "yes",
        }),
        JSON.stringify({
          command: "run",
          project_dir: `${dir}/root/proj`,
          select: [1, 2],
        }),
        JSON.stringify({
          command: "run",
          project_dir: `${dir}/root/proj`,
          surprise: true,
        }),
        JSON.stringify({
          command: "run",
          project_dir: `${dir}/root/proj`,
          runtime: "spark",
        }),
      ];
      for (const body of bad) {
        const res = await post(body);
        const json = await res.json();
        assert.equal(
          res.status,
          400,
          `${body} -> ${res.status} ${JSON.stringify(json)}`,
        );
        assert.equal(json.code, "FLOE-DBT-E010");
        assert.ok(json.message.length > 10, json.message);
      }
      const huge = await post(
        JSON.stringify({ command: "run", project_dir: "x".repeat(100_000) }),
      );
      assert.equal(huge.status, 413);
      await huge.body?.cancel();
      for (
        const escape of [
          "/etc",
          `${dir}/root/../`,
          `${dir}/root/proj/../../`,
          `${dir}/root/sneaky`,
        ]
      ) {
        const res = await post(
          JSON.stringify({ command: "run", project_dir: escape }),
        );
        const json = await res.json();
        assert.equal(res.status, 403, `${escape}: ${JSON.stringify(json)}`);
        assert.match(json.message, /outside the allowed project roots/);
        assert.doesNotMatch(json.hint, new RegExp(dir), "no roots in the hint");
        assert.match(json.hint, /ask the operator, or see the daemon log/);
      }
      const unknown = await d.fetch("/v1/jobs/nope");
      assert.equal(unknown.status, 404);
      await unknown.body?.cancel();
    } finally {
      d.child.kill("SIGTERM");
      await d.exit();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "daemon: a real build job, SSE replay for a late subscriber, artifacts, cancel",
  opts,
  async () => {
    await using copy = await copyExample();
    const state = await Deno.makeTempDir();
    const d = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
    ]);
    try {
      const res = await d.fetch(`/v1/jobs`, {
        method: "POST",
        body: JSON.stringify({ command: "build", project_dir: copy.dir }),
      });
      assert.equal(res.status, 202);
      const { id } = await res.json() as Job;
      const done = await waitJob(d, id, ["succeeded", "failed"]);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      assert.equal((done.result as { models_run: number }).models_run, 5);
      // A subscriber arriving after the end gets every event from the start.
      const text = await (await d.fetch(`/v1/jobs/${id}/events`)).text();
      const events = text.split("\n").filter((l) => l.startsWith("data:")).map((
        l,
      ) => JSON.parse(l.slice(5)));
      assert.equal(events[0].type, "job_started");
      assert.equal(events.at(-1).type, "job_finished");
      assert.equal(events.filter((e) => e.type === "node_finished").length, 20);
      const manifest =
        await (await d.fetch(`/v1/jobs/${id}/artifacts/manifest`)).json();
      assert.ok(manifest.nodes["model.jaffle_duck.customers"]);
      const catalog = await d.fetch(`/v1/jobs/${id}/artifacts/catalog`);
      assert.equal(catalog.status, 404);
      await catalog.body?.cancel();

      await writeFile(
        copy.dir,
        "models/slow.sql",
        "select sum(a.range * b.range) as n from range(100000) a cross join range(100000) b\n",
      );
      const slow = await (await d.fetch(`/v1/jobs`, {
        method: "POST",
        body: JSON.stringify({
          command: "run",
          project_dir: copy.dir,
          select: "slow",
        }),
      })).json() as Job;
      // Follow it live; cancel once dbt has started the slow model.
      const stream = (await d.fetch(`/v1/jobs/${slow.id}/events`)).body!
        .pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!/"type":"node_started"[^}]*"name":"slow"/.test(seen)) {
        const { value, done } = await stream.read();
        assert.ok(!done, "the stream stays open while the job runs");
        seen += value;
      }
      const cancel = await d.fetch(`/v1/jobs/${slow.id}/cancel`, {
        method: "POST",
      });
      assert.equal(cancel.status, 202);
      await cancel.body?.cancel();
      const cancelled = await waitJob(d, slow.id, [
        "cancelled",
        "failed",
        "succeeded",
      ]);
      assert.equal(cancelled.status, "cancelled");
      // The live stream ends with the job.
      for (;;) {
        const { value, done } = await stream.read();
        if (done) break;
        seen += value;
      }
      assert.match(seen, /"type":"job_finished","success":false/);
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
      await Deno.remove(state, { recursive: true });
    }
  },
);
