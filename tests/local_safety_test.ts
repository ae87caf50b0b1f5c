import assert from "node:assert/strict";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import type { ProgressEvent } from "../src/contract/schemas.ts";
import { copyExample, runAgent, writeFile } from "./_helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** A model that keeps DuckDB busy for half a minute or more. */
const SLOW_MODEL =
  "select sum(a.range * b.range) as n from range(100000) a cross join range(100000) b\n";

type Interval = { start: number; end: number; label: string };

function intervalOf(events: ProgressEvent[], label: string): Interval {
  const ts = events.filter((e) =>
    e.type === "node_started" || e.type === "node_finished"
  )
    .map((e) => Date.parse(e.ts));
  assert.ok(ts.length > 0, `${label} produced node events`);
  return { start: Math.min(...ts), end: Math.max(...ts), label };
}

function assertNoOverlap(intervals: Interval[]): void {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(
      sorted[i]!.start >= sorted[i - 1]!.end,
      `${sorted[i]!.label} started before ${sorted[i - 1]!.label} ended`,
    );
  }
}

/** Processes whose process group is `pgid` (Linux /proc). */
async function groupMembers(pgid: number): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) out.push(Number(e.name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function waitForNode(events: ProgressEvent[], name: string): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (events.some((e) => e.type === "node_started" && e.name === name)) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
  });
}

Deno.test(
  "serialization: 10 concurrent runModels in one process never overlap",
  opts,
  async () => {
    await using copy = await copyExample();
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    // Two runtime instances: the lock is shared by every instance in a process.
    const a = new LocalRuntime();
    const b = new LocalRuntime();
    try {
      await a.execute("seed", project);
      const calls = Array.from({ length: 10 }, (_, i) => {
        const events: ProgressEvent[] = [];
        const rt = i % 2 === 0 ? a : b;
        return rt.runModels(project, {
          select: ["stg_orders", "stg_customers"],
        }, {
          onEvent: (e) => events.push(e),
        }).then((r) => ({ r, events, i }));
      });
      const done = await Promise.all(calls);
      for (const { r } of done) {
        assert.equal(r.success, true);
        assert.equal(r.models_run, 2);
      }
      assertNoOverlap(
        done.map(({ events, i }) => intervalOf(events, `call ${i}`)),
      );
    } finally {
      await a.close();
      await b.close();
    }
  },
);

Deno.test(
  "serialization: 3 agent processes started at once never overlap",
  opts,
  async () => {
    await using copy = await copyExample();
    const runs = await Promise.all([0, 1, 2].map((i) =>
      runAgent([
        "build",
        "--project-dir",
        copy.dir,
        "--log-format",
        "json",
        "--json",
      ]).then((r) => ({ r, i }))
    ));
    const intervals: Interval[] = [];
    for (const { r, i } of runs) {
      assert.equal(r.code, 0, r.stderr);
      const events = r.stderr.split("\n").filter((l) => l.startsWith("{")).map((
        l,
      ) => JSON.parse(l) as ProgressEvent);
      intervals.push(intervalOf(events, `process ${i}`));
      assert.equal(JSON.parse(r.stdout).models_run, 5);
    }
    assertNoOverlap(intervals);
  },
);

Deno.test(
  "lock: a stale lock file from a dead process never blocks",
  opts,
  async () => {
    await using copy = await copyExample();
    await writeFile(
      copy.dir,
      ".floe/dbt.lock",
      JSON.stringify({
        pid: 999999,
        started_at: "2020-01-01T00:00:00Z",
        command: "dbt run",
      }),
    );
    const rt = new LocalRuntime({ lock_timeout_seconds: 5 });
    try {
      const r = await rt.execute("seed", {
        projectDir: copy.dir,
        profilesDir: copy.dir,
      });
      assert.equal(r.success, true);
    } finally {
      await rt.close();
    }
  },
);

Deno.test(
  "lock: waiting past the bound is E007 naming the holder's pid and start time",
  opts,
  async () => {
    await using copy = await copyExample();
    await Deno.mkdir(`${copy.dir}/.floe`, { recursive: true });
    // Another process holds the flock (as a second agent would) and says so in the file.
    const holder = new Deno.Command("python3", {
      args: [
        "-c",
        `
import fcntl, json, os, sys, time
f = open(sys.argv[1], "a+")
fcntl.flock(f, fcntl.LOCK_EX)
f.truncate(0); f.write(json.dumps({"pid": os.getpid(), "started_at": "2026-11-23T10:00:00Z", "command": "dbt run"})); f.flush()
print("locked", flush=True)
time.sleep(60)
`,
        `${copy.dir}/.floe/dbt.lock`,
      ],
      stdout: "piped",
    }).spawn();
    const reader = holder.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    assert.match((await reader.read()).value ?? "", /locked/);
    const rt = new LocalRuntime({ lock_timeout_seconds: 0.5 });
    try {
      await assert.rejects(
        () => rt.runModels({ projectDir: copy.dir, profilesDir: copy.dir }),
        (e: unknown) => {
          assert.ok(e instanceof FloeDbtError);
          assert.equal(e.code, "FLOE-DBT-E007");
          assert.match(
            e.message,
            new RegExp(`held by pid ${holder.pid} since 2026-11-23T10:00:00Z`),
          );
          return true;
        },
      );
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
      reader.releaseLock();
      await holder.stdout.cancel().catch(() => {});
      await rt.close();
    }
    // Once the holder is gone the kernel has dropped its lock.
    const rt2 = new LocalRuntime({ lock_timeout_seconds: 5 });
    try {
      assert.equal(
        (await rt2.execute("seed", {
          projectDir: copy.dir,
          profilesDir: copy.dir,
        })).success,
        true,
      );
    } finally {
      await rt2.close();
    }
  },
);

Deno.test(
  "crash: a worker killed mid-run fails that call with E002, releases the lock, and the next call starts a fresh worker",
  opts,
  async () => {
    await using copy = await copyExample();
    await writeFile(copy.dir, "models/slow.sql", SLOW_MODEL);
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    const rt = new LocalRuntime({ lock_timeout_seconds: 10 });
    try {
      const events: ProgressEvent[] = [];
      const running = rt.runModels(project, { select: ["slow"] }, {
        onEvent: (e) => events.push(e),
      });
      await waitForNode(events, "slow");
      const pid = rt.getRuntimeMetadata().worker_pid as number;
      Deno.kill(pid, "SIGKILL");
      await assert.rejects(() => running, (e: unknown) => {
        assert.ok(e instanceof FloeDbtError);
        assert.equal(e.code, "FLOE-DBT-E002");
        assert.match(
          e.message,
          /worker \(pid \d+\) died during the call \(killed by SIGKILL\)/,
        );
        return true;
      });
      const next = await rt.runModels(project, { select: ["stg_orders"] });
      assert.equal(next.success, true);
      const meta = rt.getRuntimeMetadata();
      assert.notEqual(meta.worker_pid, pid);
      assert.equal(meta.worker_starts, 2);
    } finally {
      await rt.close();
    }
  },
);

Deno.test(
  "cancel: aborting a run stops dbt and every process of its group",
  opts,
  async () => {
    await using copy = await copyExample();
    await writeFile(copy.dir, "models/slow.sql", SLOW_MODEL);
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    const rt = new LocalRuntime({ kill_grace_seconds: 2 });
    try {
      const events: ProgressEvent[] = [];
      const controller = new AbortController();
      const running = rt.runModels(project, { select: ["slow"] }, {
        onEvent: (e) => events.push(e),
        signal: controller.signal,
      });
      await waitForNode(events, "slow");
      const pid = rt.getRuntimeMetadata().worker_pid as number;
      assert.ok(
        (await groupMembers(pid)).length > 0,
        "the worker's group is alive",
      );
      controller.abort();
      await assert.rejects(
        () => running,
        (e: unknown) => e instanceof FloeDbtError && e.code === "FLOE-DBT-E008",
      );
      // stop() resolves only after the group is gone; give the kernel a moment to reap.
      for (let i = 0; i < 50 && (await groupMembers(pid)).length > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(
        await groupMembers(pid),
        [],
        "no process of the worker's group is left",
      );
      assert.equal(
        (await rt.runModels(project, { select: ["stg_orders"] })).success,
        true,
      );
    } finally {
      await rt.close();
    }
  },
);
