/**
 * Bounded by construction (issue 13 item 6): progress events capped in
 * memory and replayed from the events file, pruning, max_queued, a paginated
 * job list, a capped traceparent, capped event streams. Over real sockets:
 * the daemon's app in-process with a fake runtime the test controls, and the
 * real daemon process (the serve flags) against the dbt Cloud stand-in.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createApp } from "../src/daemon/app.ts";
import { StreamCaps } from "../src/daemon/sse.ts";
import { JobRunner, type RunnerOptions } from "../src/jobs/runner.ts";
import type { Job } from "../src/jobs/schemas.ts";
import type { CallOptions, ProjectRef } from "../src/contract/runtime.ts";
import type { RunResult } from "../src/contract/schemas.ts";
import { startDaemonProcess, until, waitJob } from "./_daemon.ts";
import { FakeRuntime } from "./_fake_runtime.ts";
import { runAgent } from "./_helpers.ts";
import { cloudDaemonWorld } from "./cloud/daemon_world.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TOKEN = "bounded-test-token-0123456789abcdef";

/** A fake local runtime that logs `chatter` lines before its usual events. */
class ChattyRuntime extends FakeRuntime {
  chatter = 0;
  constructor() {
    super("local", false);
  }
  override execute(
    c: string,
    p: ProjectRef,
    s?: unknown,
    o: CallOptions = {},
  ): Promise<RunResult> {
    for (let i = 0; i < this.chatter; i++) {
      o.onEvent?.({
        v: 1,
        type: "log",
        level: "info",
        message: `line ${i}`,
        ts: new Date().toISOString(),
      });
    }
    return super.execute(c, p, s, o);
  }
}

interface World {
  dir: string;
  url: string;
  runner: JobRunner;
  rt: ChattyRuntime;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  submit(body?: Record<string, unknown>, key?: string): Promise<Response>;
  close(): Promise<void>;
}

/** The daemon's app over a real socket, on a runner with a fake runtime. */
async function world(
  o: Partial<RunnerOptions> = {},
  caps?: StreamCaps,
  stateDir?: string,
): Promise<World> {
  const dir = stateDir ?? await Deno.makeTempDir({ prefix: "floe-bounded-" });
  await Deno.mkdir(join(dir, "proj"), { recursive: true });
  // Its own profiles.yml: a daemon job never falls back to ~/.dbt.
  await Deno.writeTextFile(join(dir, "proj", "profiles.yml"), "");
  const rt = new ChattyRuntime();
  const runner = await JobRunner.open({
    stateDir: join(dir, "state"),
    defaultRuntime: "local",
    factory: () => rt,
    maxParallel: () => 1,
    retentionMs: 3600_000,
    ...o,
  });
  let port = 0;
  const app = createApp({
    runner,
    projectRoots: [dir],
    token: TOKEN,
    defaultRuntime: "local",
    runtimeNames: ["local"],
    maxBodyBytes: 65536,
    streams: new Set(),
    ...(caps ? { streamCaps: caps } : {}),
    boundary: {
      loopback: true,
      port: () => port,
      allowHosts: [],
      allowOrigins: [],
      log: () => {},
    },
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    app.fetch,
  );
  port = server.addr.port;
  const url = `http://127.0.0.1:${port}`;
  const fetchIt = (path: string, init: RequestInit = {}) =>
    fetch(`${url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        "content-type": "application/json",
        ...(init.headers as Record<string, string>),
      },
    });
  return {
    dir,
    url,
    runner,
    rt,
    fetch: fetchIt,
    submit: (body = {}, key) =>
      fetchIt("/v1/jobs", {
        method: "POST",
        body: JSON.stringify({
          command: "run",
          project_dir: join(dir, "proj"),
          ...body,
        }),
        headers: key ? { "idempotency-key": key } : {},
      }),
    async close() {
      rt.release();
      await runner.shutdown(1000);
      await server.shutdown();
      if (!stateDir) await Deno.remove(dir, { recursive: true });
    },
  };
}

/** SSE events of a finished stream: [id, type, data]. */
function parseSse(
  text: string,
): { id: number; type: string; data: Record<string, unknown> }[] {
  return text.split("\n\n").filter((c) => c.includes("data:")).map((c) => {
    const line = (k: string) =>
      c.split("\n").find((l) => l.startsWith(`${k}:`))!.slice(k.length + 1)
        .trim();
    return {
      id: Number(line("id")),
      type: line("event"),
      data: JSON.parse(line("data")),
    };
  });
}

/** Read an SSE body until `enough` says so (or it ends); returns the text. */
async function readUntil(
  body: ReadableStream<Uint8Array>,
  enough: (text: string) => boolean,
): Promise<{ text: string; reader: ReadableStreamDefaultReader<string> }> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!enough(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  return { text, reader };
}

function eventsFile(w: World, id: string): string {
  return join(w.dir, "state", "events", `${id}.jsonl`);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test(
  "bounded: a running job keeps only the newest events in memory; SSE replays the rest from its file with stable ids",
  opts,
  async () => {
    const w = await world({ eventsInMemory: 20 });
    try {
      w.rt.chatter = 500;
      w.rt.hold = true;
      const job = await (await w.submit()).json() as Job;
      // job_started + 500 log lines + node_started, then the runtime waits.
      await until(
        () => Promise.resolve(w.rt.running === 1 ? true : undefined),
        "the job to run",
      );
      await until(async () => {
        const lines = await Deno.readTextFile(eventsFile(w, job.id)).catch(
          () => "",
        );
        return lines.split("\n").length - 1 === 502 ? true : undefined;
      }, "502 events on disk");
      assert.ok(
        w.runner.events.inMemory <= 20,
        `in memory: ${w.runner.events.inMemory}`,
      );
      // A subscriber from the start gets all of it, live, in order.
      const live = await readUntil(
        (await w.fetch(`/v1/jobs/${job.id}/events`)).body!,
        (t) => t.includes("id: 501\n"),
      );
      const seen = parseSse(live.text);
      assert.deepEqual(seen.map((e) => e.id), [...Array(502).keys()]);
      assert.equal(seen[0]!.type, "job_started");
      assert.equal(seen[1]!.data.message, "line 0");
      assert.equal(seen[500]!.data.message, "line 499");
      w.rt.release();
      let rest = "";
      for (;;) {
        const { value, done } = await live.reader.read();
        if (done) break;
        rest += value;
      }
      assert.deepEqual(parseSse(rest).map((e) => [e.id, e.type]), [
        [502, "node_finished"],
        [503, "job_finished"],
      ]);
      await waitJob(w, job.id, ["succeeded"]);
      await until(
        () => Promise.resolve(w.runner.events.liveJobs === 0 || undefined),
        "the job's events to leave memory",
      );
      assert.equal(w.runner.events.inMemory, 0);
      // After the end: from the file alone, whole or resumed.
      const all = parseSse(
        await (await w.fetch(`/v1/jobs/${job.id}/events`)).text(),
      );
      assert.equal(all.length, 504);
      assert.deepEqual(all.map((e) => e.id), [...Array(504).keys()]);
      const resumed = parseSse(
        await (await w.fetch(`/v1/jobs/${job.id}/events`, {
          headers: { "last-event-id": "499" },
        })).text(),
      );
      assert.deepEqual(resumed.map((e) => e.id), [500, 501, 502, 503]);
      assert.equal(resumed[0]!.data.message, "line 499");
      // The dbt.log excerpt has every line, not only the in-memory tail.
      const log = await (await w.fetch(`/v1/jobs/${job.id}/artifacts/dbt_log`))
        .text();
      assert.equal(log.match(/\[info \] line \d+/g)?.length, 500);
      assert.match(log, /line 0\n/);
    } finally {
      await w.close();
    }
  },
);

Deno.test(
  "bounded: after a restart the events file still replays every event with the same ids",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-bounded-" });
    const first = await world({ eventsInMemory: 5 }, undefined, dir);
    first.rt.chatter = 50;
    const job = await (await first.submit()).json() as Job;
    await waitJob(first, job.id, ["succeeded"]);
    const before = await (await first.fetch(`/v1/jobs/${job.id}/events`))
      .text();
    await first.close();
    const second = await world({ eventsInMemory: 5 }, undefined, dir);
    try {
      const after = await (await second.fetch(`/v1/jobs/${job.id}/events`))
        .text();
      assert.equal(parseSse(after).length, 54);
      assert.equal(after, before);
    } finally {
      await second.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "bounded: pruning removes a job's events file and frees its idempotency key",
  opts,
  async () => {
    const w = await world({ retentionMs: 1 });
    try {
      const res = await w.submit({ select: "a" }, "key-1");
      assert.equal(res.status, 202);
      const job = await res.json() as Job;
      await waitJob(w, job.id, ["succeeded"]);
      await until(
        () => Promise.resolve(w.runner.events.liveJobs === 0 || undefined),
        "the job's log to close",
      );
      assert.ok(await exists(eventsFile(w, job.id)));
      await new Promise((r) => setTimeout(r, 5));
      // Another body with the same key: the first job is gone, so a new one.
      const again = await w.submit({ select: "b" }, "key-1");
      assert.equal(again.status, 202, await again.clone().text());
      assert.notEqual((await again.json() as Job).id, job.id);
      assert.equal((await w.fetch(`/v1/jobs/${job.id}`)).status, 404);
      await until(
        async () => (await exists(eventsFile(w, job.id))) ? undefined : true,
        "the events file to go",
      );
    } finally {
      await w.close();
    }
  },
);

Deno.test(
  "bounded: a submit past max_queued is 429 with Retry-After and an E013 body; an idempotent retry still answers",
  opts,
  async () => {
    const w = await world({ maxQueued: 2 });
    try {
      w.rt.hold = true;
      const running = await (await w.submit({ select: "r" })).json() as Job;
      await waitJob(w, running.id, ["running"]);
      const q1 = await w.submit({ select: "q1" }, "k-q1");
      assert.equal(q1.status, 202);
      // A subscriber that comes while the job waits gets ids from 0.
      const waiting = (await w.fetch(
        `/v1/jobs/${(await q1.json() as Job).id}/events`,
      )).text();
      assert.equal((await w.submit({ select: "q2" })).status, 202);
      const full = await w.submit({ select: "q3" });
      assert.equal(full.status, 429);
      assert.equal(full.headers.get("retry-after"), "5");
      const body = await full.json();
      assert.equal(body.code, "FLOE-DBT-E013");
      assert.match(body.message, /queue is full: 2 jobs wait.*max_queued 2/);
      assert.match(body.hint, /Retry-After/);
      assert.equal(w.runner.list().length, 3, "the refused job was not kept");
      // The same key and body: the earlier job, not a refusal.
      assert.equal((await w.submit({ select: "q1" }, "k-q1")).status, 200);
      w.rt.release();
      await until(
        () =>
          Promise.resolve(
            w.runner.list().every((j) => j.status === "succeeded") || undefined,
          ),
        "the queue to drain",
      );
      const ids = parseSse(await waiting).map((e) => e.id);
      assert.deepEqual(ids, [0, 1, 2, 3]);
      assert.equal((await w.submit({ select: "q4" })).status, 202);
    } finally {
      await w.close();
    }
  },
);

Deno.test(
  "bounded: /v1/jobs pages with limit and cursor (stable under inserts), filters by status, lists no results",
  opts,
  async () => {
    const w = await world();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) {
        ids.push(
          (await (await w.submit({ select: `m${i}` })).json() as Job).id,
        );
      }
      await until(
        () =>
          Promise.resolve(
            w.runner.list().every((j) => j.status === "succeeded") || undefined,
          ),
        "every job to finish",
      );
      const page = async (q: string) => {
        const res = await w.fetch(`/v1/jobs${q}`);
        assert.equal(res.status, 200);
        return await res.json() as {
          jobs: Record<string, unknown>[];
          next_cursor: string | null;
        };
      };
      const first = await page("?limit=10");
      assert.equal(first.jobs.length, 10);
      assert.ok(first.jobs.every((j) => !("result" in j)), "no results");
      assert.ok(first.jobs.every((j) => typeof j.request === "object"));
      assert.ok(first.next_cursor);
      // A job added between pages sorts first: the next pages are unchanged.
      w.rt.hold = true;
      const late = (await (await w.submit({ select: "late" })).json() as Job)
        .id;
      const seen = first.jobs.map((j) => j.id as string);
      let cursor: string | null = first.next_cursor;
      while (cursor) {
        const p = await page(`?limit=10&cursor=${cursor}`);
        seen.push(...p.jobs.map((j) => j.id as string));
        cursor = p.next_cursor;
      }
      assert.equal(seen.length, 25);
      assert.deepEqual(new Set(seen), new Set(ids), "each job once");
      assert.deepEqual(seen, [...ids].reverse(), "newest first");
      const whole = await page("");
      assert.equal(whole.jobs.length, 26, "default limit 100");
      assert.equal(whole.jobs[0]!.id, late);
      assert.equal(whole.next_cursor, null);
      const done = await page("?status=succeeded&limit=1000");
      assert.equal(done.jobs.length, 25);
      const pending = await page("?status=running");
      assert.deepEqual(pending.jobs.map((j) => j.id), [late]);
      for (
        const [q, what] of [
          ["?status=done", "status 'done'"],
          ["?limit=0", "limit '0'"],
          ["?limit=1001", "limit '1001'"],
          ["?limit=ten", "limit 'ten'"],
          ["?cursor=!!", "cursor '!!'"],
          [`?cursor=${btoa("[1,2]")}`, "cursor"],
        ]
      ) {
        const res = await w.fetch(`/v1/jobs${q}`);
        assert.equal(res.status, 400, q);
        const body = await res.json();
        assert.equal(body.code, "FLOE-DBT-E010");
        assert.ok(body.message.includes(`Invalid ${what}`), body.message);
        assert.ok(body.hint, "a hint");
      }
    } finally {
      await w.close();
    }
  },
);

Deno.test(
  "bounded: a traceparent over 512 characters is ignored; a valid short one is kept",
  opts,
  async () => {
    const w = await world();
    try {
      const tp = "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      const long = `${tp}-${"a".repeat(600)}`;
      const a = await (await w.fetch("/v1/jobs", {
        method: "POST",
        headers: { traceparent: long },
        body: JSON.stringify({
          command: "run",
          project_dir: join(w.dir, "proj"),
        }),
      })).json() as Job;
      assert.equal(a.traceparent, undefined);
      const b = await (await w.fetch("/v1/jobs", {
        method: "POST",
        headers: { traceparent: tp },
        body: JSON.stringify({
          command: "run",
          project_dir: join(w.dir, "proj"),
        }),
      })).json() as Job;
      assert.equal(b.traceparent, tp);
    } finally {
      await w.close();
    }
  },
);

Deno.test(
  "bounded: event streams are capped per job (429) and in all (503), with Retry-After; a closed stream frees its place",
  opts,
  async () => {
    const caps = new StreamCaps({ perJob: 2, total: 3 });
    const w = await world({}, caps);
    try {
      w.rt.hold = true;
      const a = await (await w.submit({ select: "a" })).json() as Job;
      const b = await (await w.submit({ select: "b" })).json() as Job;
      const open = async (id: string) => {
        const res = await w.fetch(`/v1/jobs/${id}/events`);
        assert.equal(res.status, 200);
        return res.body!.getReader();
      };
      const a1 = await open(a.id);
      await open(a.id);
      const third = await w.fetch(`/v1/jobs/${a.id}/events`);
      assert.equal(third.status, 429);
      assert.equal(third.headers.get("retry-after"), "5");
      const tb = await third.json();
      assert.equal(tb.code, "FLOE-DBT-E013");
      assert.match(tb.message, /Too many event streams for job .*2 open/);
      await open(b.id);
      const total = await w.fetch(`/v1/jobs/${b.id}/events`);
      assert.equal(total.status, 503);
      assert.ok(total.headers.get("retry-after"));
      assert.match((await total.json()).message, /3 open \(at most 3/);
      assert.equal(caps.open, 3);
      await a1.cancel();
      await until(
        () => Promise.resolve(caps.open === 2 || undefined),
        "the cancelled stream to free its place",
      );
      (await open(b.id)).cancel();
    } finally {
      await w.close();
    }
  },
);

Deno.test(
  "bounded: 3000 jobs keep no finished job's events in memory; memory holds at most the cap per running job; the CLI lists every page",
  opts,
  async () => {
    const w = await world({ eventsInMemory: 20, maxQueued: 100_000 });
    try {
      w.rt.chatter = 30;
      let peak = 0;
      const sample = setInterval(() => {
        peak = Math.max(peak, w.runner.events.inMemory);
      }, 1);
      const proj = join(w.dir, "proj");
      for (let i = 0; i < 3000; i += 100) {
        await Promise.all(
          Array.from(
            { length: 100 },
            (_, k) =>
              w.runner.submit({
                command: "run",
                project_dir: proj,
                select: [`m${i + k}`],
              }),
          ),
        );
        peak = Math.max(peak, w.runner.events.inMemory);
      }
      await until(
        () =>
          Promise.resolve(
            w.runner.list().every((j) => j.status === "succeeded") || undefined,
          ),
        "3000 jobs to finish",
        6000,
      );
      clearInterval(sample);
      await until(
        () => Promise.resolve(w.runner.events.liveJobs === 0 || undefined),
        "every job's log to close",
      );
      assert.equal(w.runner.events.inMemory, 0);
      // One local job runs at a time (the previous one's log may not be
      // closed yet): each holds at most the cap plus what waits to be
      // written (a job's 33 events come in one burst), whatever the count.
      assert.ok(peak <= 2 * (20 + 33), `peak events in memory: ${peak}`);
      const files = await Array.fromAsync(
        Deno.readDir(join(w.dir, "state", "events")),
      );
      assert.equal(files.length, 3000);
      const tokenFile = join(w.dir, "token");
      await Deno.writeTextFile(tokenFile, TOKEN);
      const out = await runAgent([
        "jobs",
        "--json",
        "--url",
        w.url,
        "--token-file",
        tokenFile,
      ]);
      assert.equal(out.code, 0, out.stderr);
      const listed = JSON.parse(out.stdout) as { id: string }[];
      assert.equal(listed.length, 3000);
      assert.equal(new Set(listed.map((j) => j.id)).size, 3000);
    } finally {
      await w.close();
    }
  },
);

Deno.test(
  "bounded: serve --max-queued and --max-streams bound the real daemon",
  opts,
  async () => {
    await using w = await cloudDaemonWorld("bounded", {
      cloud: ["max_parallel: 1"],
    });
    const { server, dir } = w;
    server.holdRunning = true;
    const d = await startDaemonProcess([
      ...w.args,
      "--max-queued",
      "1",
      "--max-streams",
      "1",
    ], w.env);
    try {
      const post = () =>
        d.fetch("/v1/jobs", {
          method: "POST",
          body: JSON.stringify({ command: "run", project_dir: `${dir}/proj` }),
        });
      const a = await (await post()).json() as Job;
      await until(async () => {
        const j = await (await d.fetch(`/v1/jobs/${a.id}`)).json() as Job;
        return j.remote_run_id ? j : undefined;
      }, "the first job's remote run");
      const b = await post();
      assert.equal(b.status, 202);
      const c = await post();
      assert.equal(c.status, 429);
      assert.ok(c.headers.get("retry-after"));
      assert.equal((await c.json()).code, "FLOE-DBT-E013");
      const stream = await d.fetch(`/v1/jobs/${a.id}/events`);
      assert.equal(stream.status, 200);
      const second = await d.fetch(
        `/v1/jobs/${(await b.json() as Job).id}/events`,
      );
      assert.equal(second.status, 503);
      await second.body?.cancel();
      server.holdRunning = false;
      // The open stream ends with the job.
      const events = parseSse(await stream.text());
      assert.equal(events.at(-1)!.type, "job_finished");
      const listed = await until(async () => {
        const l = await (await d.fetch("/v1/jobs?status=succeeded"))
          .json() as { jobs: Job[] };
        return l.jobs.length === 2 ? l : undefined;
      }, "both accepted jobs to succeed");
      assert.ok(listed.jobs.every((j) => !("result" in j)));
    } finally {
      d.child.kill("SIGTERM");
      await d.exit();
    }
  },
);
