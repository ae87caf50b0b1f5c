/**
 * The pool of warm dbt-core workers (one per project, least recently used
 * evicted between runs) and the cached availability answers, with real
 * dbt-core, real Fusion and DuckDB.
 */
import assert from "node:assert/strict";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { defaultConfig } from "../src/config/config.ts";
import { startDaemon } from "../src/daemon/serve.ts";
import { spawnCount } from "../src/os/spawn.ts";
import { copyExample, ROOT } from "./_helpers.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type WorkerRow = { project_dir: string; pid: number; busy: boolean };

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function compile(rt: LocalRuntime, dir: string): Promise<number> {
  const r = await rt.execute("compile", { projectDir: dir, profilesDir: dir });
  assert.equal(r.success, true);
  return r.metadata.worker_pid as number;
}

Deno.test(
  "pool: max_workers 1 across two projects evicts the idle one between runs",
  opts,
  async () => {
    await using a = await copyExample("floe-pool-a-");
    await using b = await copyExample("floe-pool-b-");
    const rt = new LocalRuntime({ max_workers: 1 });
    try {
      const pidA = await compile(rt, a.dir);
      assert.equal(
        await compile(rt, a.dir),
        pidA,
        "a project keeps its worker",
      );
      const pidB = await compile(rt, b.dir);
      assert.notEqual(pidB, pidA);
      assert.equal(alive(pidA), false, "A's worker was stopped to make room");
      let meta = rt.getRuntimeMetadata();
      const rows = meta.workers as WorkerRow[];
      assert.deepEqual(rows.map((w) => w.pid), [pidB]);
      assert.equal(meta.evictions, 1);
      const log = meta.eviction_log as { project: string; reason: string }[];
      assert.equal(log[0]!.project, a.dir);
      assert.match(log[0]!.reason, /max_workers 1/);
      const pidA2 = await compile(rt, a.dir);
      assert.ok(pidA2 !== pidA && pidA2 !== pidB);
      assert.equal(alive(pidB), false);
      meta = rt.getRuntimeMetadata();
      assert.equal(meta.worker_starts, 3);
      assert.equal(meta.evictions, 2);
    } finally {
      await rt.close();
    }
  },
);

Deno.test(
  "pool: the least recently used project's worker is the one evicted",
  opts,
  async () => {
    await using a = await copyExample("floe-pool-lru-a-");
    await using b = await copyExample("floe-pool-lru-b-");
    await using c = await copyExample("floe-pool-lru-c-");
    const rt = new LocalRuntime({ max_workers: 2 });
    try {
      const pidA = await compile(rt, a.dir);
      const pidB = await compile(rt, b.dir);
      // A is used again: B is now the least recently used.
      assert.equal(await compile(rt, a.dir), pidA);
      const pidC = await compile(rt, c.dir);
      assert.equal(alive(pidB), false, "B (least recently used) was evicted");
      assert.equal(alive(pidA), true, "A stays warm");
      assert.equal(await compile(rt, a.dir), pidA, "A's worker is reused");
      const rows = rt.getRuntimeMetadata().workers as WorkerRow[];
      assert.deepEqual(
        rows.map((w) => w.pid).sort(),
        [pidA, pidC].sort(),
      );
    } finally {
      await rt.close();
    }
  },
);

Deno.test(
  "pool: a project stuck in a run does not hold up another project",
  opts,
  async () => {
    await using a = await copyExample("floe-pool-par-a-");
    await using b = await copyExample("floe-pool-par-b-");
    const fifo = join(a.dir, "never-written.fifo");
    assert.ok(
      (await new Deno.Command("mkfifo", { args: [fifo] }).output()).success,
    );
    await Deno.writeTextFile(
      join(a.dir, "models", "hang.sql"),
      `select * from read_csv('${fifo}', header = false, columns = {'a': 'INTEGER'})\n`,
    );
    const rt = new LocalRuntime({ max_workers: 2 });
    try {
      const cancel = new AbortController();
      let stuckEnded = false;
      const stuck = rt.execute(
        "run",
        { projectDir: a.dir, profilesDir: a.dir },
        { select: ["hang"] },
        { signal: cancel.signal },
      ).finally(() => (stuckEnded = true));
      stuck.catch(() => {});
      const rb = await rt.execute("compile", {
        projectDir: b.dir,
        profilesDir: b.dir,
      });
      assert.equal(rb.success, true);
      assert.equal(stuckEnded, false, "A is still in its run");
      cancel.abort();
      await assert.rejects(
        stuck,
        (e: unknown) => (e as { code?: string }).code === "FLOE-DBT-E008",
      );
    } finally {
      await rt.close();
    }
  },
);

Deno.test(
  "cached availability: asking again starts no process",
  opts,
  async () => {
    const local = new LocalRuntime();
    const l0 = spawnCount();
    assert.equal((await local.availability()).available, true);
    const l1 = spawnCount();
    assert.equal(l1 - l0, 1, "one import check");
    assert.equal((await local.availability()).available, true);
    assert.equal(spawnCount(), l1, "the second answer is cached");

    const fusion = new FusionRuntime();
    const f0 = spawnCount();
    const fa = await fusion.availability();
    assert.equal(fa.available, true, fa.reason);
    const f1 = spawnCount();
    assert.ok(f1 > f0, "detection ran --version (and lint --help)");
    assert.equal(fusion.supportsSqlLinting(), true);
    assert.ok(fusion.getRuntimeMetadata().binary_path);
    assert.equal((await fusion.availability()).available, true);
    assert.equal(spawnCount(), f1, "detection is cached");

    // A failed detection is cached too (for a short while).
    const core = new FusionRuntime({
      binary_path: join(ROOT, ".venv", "dbt-core", "bin", "dbt"),
    });
    const c0 = spawnCount();
    const ca = await core.availability();
    assert.equal(ca.available, false);
    assert.match(ca.reason, /is dbt-core/);
    const c1 = spawnCount();
    assert.equal(c1 - c0, 1);
    assert.equal((await core.availability()).available, false);
    assert.equal(core.supportsSqlLinting(), false);
    assert.equal(spawnCount(), c1, "the failure is cached");
  },
);

Deno.test(
  "cached availability: /readyz and a second /v1/runtimes start no process",
  opts,
  async () => {
    const state = await Deno.makeTempDir({ prefix: "floe-pool-state-" });
    const d = await startDaemon({
      host: "127.0.0.1",
      port: 0,
      projectRoots: [state],
      stateDir: state,
      graceSeconds: 5,
      maxBodyBytes: 1 << 20,
      retentionHours: 1,
      config: defaultConfig(),
      defaultRuntime: "local",
      log: () => {},
    });
    try {
      const token = (await Deno.readTextFile(join(state, "token"))).trim();
      const get = async (path: string) => {
        const res = await fetch(`http://127.0.0.1:${d.port}${path}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        return { status: res.status, body: await res.json() };
      };
      const first = await get("/v1/runtimes");
      assert.equal(first.status, 200);
      const rows = first.body.runtimes as {
        name: string;
        available: boolean;
      }[];
      assert.equal(rows.find((r) => r.name === "local")?.available, true);
      assert.equal(rows.find((r) => r.name === "fusion")?.available, true);
      const before = spawnCount();
      const second = await get("/v1/runtimes");
      assert.deepEqual(
        second.body.runtimes.map((r: { available: boolean }) => r.available),
        rows.map((r) => r.available),
      );
      assert.equal((await get("/readyz")).status, 200);
      assert.equal((await get("/readyz")).status, 200);
      assert.equal(spawnCount(), before, "answered from the cache");
    } finally {
      await d.shutdown();
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
);
