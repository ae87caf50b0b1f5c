/**
 * Slim runs against real dbt-core, real Fusion and DuckDB: the kept state,
 * `--changed` (exactly the edited model and its descendants, deferred refs,
 * new content), what dbt's own `state:modified` selects for an added model,
 * a deleted one and a changed macro, `--state-from cloud` through the dbt
 * Cloud stand-in (downloaded once, then cached), and the refusals.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "./_path.ts";
import { copyExample, ROOT, runAgent, writeFile } from "./_helpers.ts";
import { cloudSetup } from "./cloud/setup.ts";
import { generateProject } from "../scripts/synthetic.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { cloudStateSource } from "../src/registry.ts";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { CloudConfigSchema } from "../src/config/config.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import { parseCli } from "../src/cli/args.ts";
import type { DbtRuntime, ProjectRef } from "../src/contract/runtime.ts";
import type { ProgressEvent, RunResult } from "../src/contract/schemas.ts";
import {
  jobStateDir,
  keepState,
  keptStateDir,
  readState,
} from "../src/dbt/state.ts";
import { changedSelect, stateRuntime } from "../src/wrappers/state.ts";
import { JobRequestSchema } from "../src/jobs/schemas.ts";
import { callRuntime } from "../src/jobs/steps.ts";
import type { Job } from "../src/jobs/schemas.ts";
import type { CallOptions, Selection } from "../src/contract/runtime.ts";
import { FakeRuntime } from "./_fake_runtime.ts";

const DBT = join(ROOT, ".venv", "dbt-core", "bin", "dbt");
const PYTHON = join(ROOT, ".venv", "dbt-core", "bin", "python");

/** A synthetic project with a macro used by m_0033 and a `ci` target. */
async function slimProject(models: number) {
  const dir = await Deno.makeTempDir({ prefix: "floe-slim-test-" });
  await generateProject(dir, models);
  await writeFile(
    dir,
    "macros/plus_one.sql",
    "{% macro plus_one(x) %}({{ x }} + 1){% endmacro %}\n",
  );
  if (models >= 33) {
    await writeFile(
      dir,
      "models/m_0033.sql",
      "select id, name, {{ plus_one('value') }} as value from {{ ref('m_0032') }}\n",
    );
  }
  await writeFile(
    dir,
    "profiles.yml",
    `synthetic:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: .floe/synthetic.duckdb\n      threads: 2\n    ci:\n      type: duckdb\n      path: .floe/synthetic.duckdb\n      schema: ci\n      threads: 2\n`,
  );
  return {
    dir,
    ref: { projectDir: dir, profilesDir: dir } as ProjectRef,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Unique ids dbt executed in a result. */
async function executed(r: RunResult): Promise<string[]> {
  const rr = JSON.parse(await Deno.readTextFile(r.run_results_path));
  return (rr.results as { unique_id: string }[]).map((x) => x.unique_id)
    .sort();
}

/** `id` and every model downstream of it, from a manifest's child_map. */
function withDescendants(manifestPath: string, id: string): string[] {
  const m = JSON.parse(Deno.readTextFileSync(manifestPath));
  const childMap = m.child_map as Record<string, string[]>;
  const seen = new Set<string>([id]);
  const todo = [id];
  while (todo.length) {
    for (const c of childMap[todo.pop()!] ?? []) {
      if (c.startsWith("model.") && !seen.has(c)) {
        seen.add(c);
        todo.push(c);
      }
    }
  }
  return [...seen].sort();
}

/** What real dbt-core's `dbt ls` selects (models), as unique ids. */
async function dbtLs(dir: string, select: string, state: string) {
  const out = await new Deno.Command(DBT, {
    args: [
      "ls",
      "--select",
      select,
      "--state",
      state,
      "--resource-type",
      "model",
      "--output",
      "json",
      "--output-keys",
      "unique_id",
      "--project-dir",
      dir,
      "--profiles-dir",
      dir,
      "--target-path",
      join(dir, ".floe", "ls-target"),
      "--quiet",
    ],
    cwd: dir,
    env: { DBT_SEND_ANONYMOUS_USAGE_STATS: "false" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, `dbt ls failed: ${text}`);
  return text.split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l).unique_id as string
  ).sort();
}

/** One value of a DuckDB query (through the dbt-core venv's duckdb). */
async function duck(dir: string, sql: string): Promise<string> {
  const out = await new Deno.Command(PYTHON, {
    args: [
      "-c",
      "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True); print(c.execute(sys.argv[2]).fetchone()[0])",
      join(dir, ".floe", "synthetic.duckdb"),
      sql,
    ],
    cwd: dir, // the sources read data/*.csv relative to the project
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.ok(out.success, dec.decode(out.stderr));
  return dec.decode(out.stdout).trim();
}

function logs(events: ProgressEvent[]): string[] {
  return events.flatMap((e) => e.type === "log" ? [e.message] : []);
}

Deno.test("changedSelect() intersects state:modified+ with each selector", () => {
  assert.deepEqual(changedSelect(undefined), ["state:modified+"]);
  assert.deepEqual(changedSelect(["a+", "tag:x"]), [
    "a+,state:modified+",
    "tag:x,state:modified+",
  ]);
});

Deno.test("the CLI takes --changed, --state DIR and --state-from cloud, and refuses the rest", () => {
  const env = { get: () => undefined };
  const a = parseCli(["run", "--changed", "--state", "prod"], env);
  assert.equal(a.changed, true);
  assert.ok(a.state?.endsWith("/prod"));
  assert.equal(
    parseCli(["run", "--state-from", "cloud"], env).stateFrom,
    "cloud",
  );
  assert.throws(
    () => parseCli(["run", "--state-from", "s3"], env),
    (e) => e instanceof FloeDbtError && /'s3'/.test(e.message),
  );
  assert.throws(
    () => parseCli(["run", "--state", "x", "--state-from", "cloud"], env),
    (e) => e instanceof FloeDbtError && e.code === "FLOE-DBT-E010",
  );
});

Deno.test("a job's state must be inside its project", () => {
  assert.equal(jobStateDir("/p/proj", "prod"), "/p/proj/prod");
  assert.throws(
    () => jobStateDir("/p/proj", "../other"),
    (e) =>
      e instanceof FloeDbtError && e.code === "FLOE-DBT-E010" &&
      e.message.includes("../other"),
  );
});

Deno.test("a job request's changed, state and state_from reach the runtime with the job id", async () => {
  const request = JobRequestSchema.parse({
    command: "run",
    project_dir: "/p/proj",
    profiles_dir: "/p/proj",
    changed: true,
    state: "prod-state",
    state_from: undefined,
  });
  assert.throws(() =>
    JobRequestSchema.parse({
      command: "run",
      project_dir: "/p",
      state_from: "s3",
    })
  );
  const seen: { selection?: Selection; options?: CallOptions } = {};
  class Recording extends FakeRuntime {
    override execute(
      c: string,
      p: ProjectRef,
      s?: unknown,
      o: CallOptions = {},
    ): Promise<RunResult> {
      seen.selection = s as Selection;
      seen.options = o;
      return super.execute(c, p, s, o);
    }
  }
  await callRuntime(
    new Recording("local", false),
    { id: "job-1", request } as unknown as Job,
    {},
  );
  assert.equal(seen.selection?.changed, true);
  assert.equal(seen.selection?.state, "/p/proj/prod-state");
  assert.equal(seen.options?.jobId, "job-1");
});

Deno.test("the cloud runtime refuses --changed with E010 naming cloud", async () => {
  await using s = await cloudSetup();
  const rt: DbtRuntime = s.runtime;
  await assert.rejects(
    () => rt.execute("run", s.project, { changed: true }),
    (e) =>
      e instanceof FloeDbtError && e.code === "FLOE-DBT-E010" &&
      /cloud runtime/.test(e.message),
  );
  assert.equal(s.server.calls(/\/run\/$/, "POST").length, 0);
});

Deno.test("local: --changed on a 200-model project runs exactly the edit and its descendants, deferring the rest", async () => {
  await using p = await slimProject(200);
  const rt: DbtRuntime = stateRuntime(new LocalRuntime());
  try {
    // No state yet: everything selected runs, and it says so.
    assert.ok((await rt.execute("seed", p.ref)).success);
    const events: ProgressEvent[] = [];
    const first = await rt.execute("run", p.ref, { changed: true }, {
      onEvent: (e) => events.push(e),
    });
    assert.ok(first.success);
    assert.equal(first.models_run, 200);
    assert.equal(first.metadata.state, null);
    assert.equal(first.metadata.changed_nodes, null);
    assert.ok(logs(events).some((m) => /no kept state/.test(m)));

    // The run's manifest is kept, with its invocation id.
    const keptDir = keptStateDir(p.dir, "dev");
    const kept = await readState(keptDir);
    assert.ok(kept?.info);
    const manifest = JSON.parse(await Deno.readTextFile(first.manifest_path));
    assert.equal(kept.info.run_id, manifest.metadata.invocation_id);
    assert.equal(kept.info.command, "run");
    assert.equal(kept.info.runtime, "local");
    const firstRunId = kept.info.run_id;

    // Edit one model: exactly it and its descendants run.
    await writeFile(
      p.dir,
      "models/m_0013.sql",
      "select id, name, value + 1000 as value from {{ ref('m_0012') }}\n",
    );
    const expected = withDescendants(
      first.manifest_path,
      "model.synthetic.m_0013",
    );
    assert.ok(expected.length > 1 && expected.length < 20);
    const events2: ProgressEvent[] = [];
    const slim = await rt.execute("run", p.ref, { changed: true }, {
      onEvent: (e) => events2.push(e),
    });
    assert.ok(slim.success);
    assert.deepEqual(await executed(slim), expected);
    assert.ok(!(await executed(slim)).includes("model.synthetic.m_0012"));
    assert.deepEqual(
      [...(slim.metadata.changed_nodes as string[])].sort(),
      expected,
    );
    assert.deepEqual(slim.metadata.state, {
      source: "kept",
      run_id: firstRunId,
      path: keptDir,
      kept_at: kept.info.kept_at,
    });
    assert.ok(
      logs(events2).some((m) =>
        m.startsWith(`changed: ${expected.length} nodes`) &&
        m.includes("m_0013")
      ),
    );
    assert.equal(
      await duck(p.dir, "select min(value) >= 1000 from main.m_0013"),
      "True",
    );
    // The kept state moved on to this run.
    assert.notEqual((await readState(keptDir))?.info?.run_id, firstRunId);

    // Slim CI into another schema: the unbuilt upstream m_0012 is not in
    // `ci`, so m_0013 resolves only through --defer to the state.
    await writeFile(
      p.dir,
      "models/m_0013.sql",
      "select id, name, value + 2000 as value from {{ ref('m_0012') }}\n",
    );
    const ci = await rt.execute(
      "run",
      { ...p.ref, target: "ci" },
      { changed: true, state: keptDir },
    );
    assert.ok(ci.success, JSON.stringify(ci.metadata.errors));
    assert.equal((ci.metadata.state as { source: string }).source, "dir");
    assert.deepEqual(await executed(ci), expected);
    assert.equal(
      await duck(
        p.dir,
        "select count(*) from information_schema.tables where table_schema = 'ci' and table_name = 'm_0012'",
      ),
      "0",
    );
    assert.equal(
      await duck(p.dir, "select min(value) >= 2000 from ci.m_0013"),
      "True",
    );
    assert.ok(existsSync(keptStateDir(p.dir, "ci")), "ci's state is kept");
    // Bring dev's state up to date with the edit before the next cases.
    assert.ok((await rt.execute("run", p.ref, { changed: true })).success);

    // Added, deleted, macro-changed: the same as dbt's state:modified+.
    const cases: [string, () => Promise<void>, string[]][] = [
      ["added model", async () => {
        await writeFile(
          p.dir,
          "models/m_new.sql",
          "select * from {{ ref('m_0050') }}\n",
        );
      }, ["model.synthetic.m_new"]],
      ["deleted model", async () => {
        await Deno.remove(join(p.dir, "models", "m_new.sql"));
      }, []],
      ["changed macro", async () => {
        await writeFile(
          p.dir,
          "macros/plus_one.sql",
          "{% macro plus_one(x) %}({{ x }} + 2){% endmacro %}\n",
        );
      }, ["model.synthetic.m_0033"]],
    ];
    for (const [what, change, modified] of cases) {
      await change();
      const state = keptStateDir(p.dir, "dev");
      assert.deepEqual(
        await dbtLs(p.dir, "state:modified", state),
        modified,
        `${what}: dbt's own state:modified`,
      );
      const want = await dbtLs(p.dir, "state:modified+", state);
      const r = await rt.execute("run", p.ref, { changed: true });
      assert.ok(r.success, what);
      assert.deepEqual(await executed(r), want, what);
    }
  } finally {
    await rt.close();
    await p[Symbol.asyncDispose]();
  }
});

Deno.test("fusion: --changed runs exactly the edit and its descendants against the kept state", async () => {
  await using p = await slimProject(200);
  const rt: DbtRuntime = stateRuntime(new FusionRuntime());
  try {
    assert.ok((await rt.execute("seed", p.ref)).success);
    const first = await rt.execute("run", p.ref);
    assert.ok(first.success);
    const kept = await readState(keptStateDir(p.dir, "dev"));
    assert.equal(kept?.info?.runtime, "fusion");
    await writeFile(
      p.dir,
      "models/m_0042.sql",
      "select id, name, value + 3000 as value from {{ ref('m_0041') }}\n",
    );
    const expected = withDescendants(
      first.manifest_path,
      "model.synthetic.m_0042",
    );
    const slim = await rt.execute("run", p.ref, { changed: true });
    assert.ok(slim.success);
    assert.deepEqual(await executed(slim), expected);
    assert.equal(
      (slim.metadata.state as { run_id: string }).run_id,
      kept?.info?.run_id,
    );
    assert.equal(
      await duck(p.dir, "select min(value) >= 3000 from main.m_0042"),
      "True",
    );
  } finally {
    await rt.close();
  }
});

Deno.test("--state-from cloud takes the dbt Cloud job's newest manifest once, then from the cache", async () => {
  await using s = await cloudSetup();
  const run = await s.runtime.runModels(s.project);
  assert.ok(run.success);
  await using copy = await copyExample();
  const ref = { projectDir: copy.dir, profilesDir: copy.dir };
  const cloud = CloudConfigSchema.parse({
    account_id: 42,
    api_token_ref: s.ref,
    base_url: s.server.url,
    job_ids: { run: 101 },
  });
  const rt = stateRuntime(new LocalRuntime(), cloudStateSource(cloud));
  try {
    assert.ok((await rt.execute("build", ref)).success);
    await writeFile(
      copy.dir,
      "models/marts/customers.sql",
      (await Deno.readTextFile(join(copy.dir, "models/marts/customers.sql"))) +
        "\n-- edited\n",
    );
    const manifestGets = () =>
      s.server.calls(/\/artifacts\/manifest\.json$/).length;
    const before = manifestGets();
    const results: RunResult[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await rt.execute("run", ref, {
        changed: true,
        stateFrom: "cloud",
      });
      assert.ok(r.success);
      results.push(r);
    }
    assert.equal(manifestGets() - before, 1, "downloaded once, then cached");
    for (const r of results) {
      assert.deepEqual(r.metadata.state, {
        source: "cloud",
        run_id: String(run.metadata.run_id),
        path: join(copy.dir, ".floe", "cloud_state", "dev"),
        kept_at: (r.metadata.state as { kept_at: string }).kept_at,
      });
      // Against production's manifest, the edit selects customers only.
      assert.deepEqual(await executed(r), ["model.jaffle_duck.customers"]);
    }
  } finally {
    await rt.close();
  }
});

Deno.test("the CLI shows the state used and what changed", async () => {
  await using p = await slimProject(20);
  const base = ["--project-dir", p.dir];
  assert.equal((await runAgent(["seed", ...base, "-q"])).code, 0);
  const none = await runAgent(["run", "--changed", ...base]);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stderr, /changed: no kept state for target 'dev' yet/);
  await writeFile(
    p.dir,
    "models/m_0017.sql",
    "select id, name, value + 7 as value from {{ ref('m_0016') }}\n",
  );
  const slim = await runAgent(["run", "--changed", ...base]);
  assert.equal(slim.code, 0, slim.stderr);
  assert.match(
    slim.stderr,
    /state: --changed against kept state at .*\.floe\/state\/dev \(run [0-9a-f-]+/,
  );
  assert.match(
    slim.stderr,
    /changed: 4 nodes selected: m_0017, m_0018, m_0019, m_0020/,
  );
});

Deno.test("keepState() writes manifest.json and state.json whole, and refuses a linked .floe/state", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-slim-keep-" });
  const outside = await Deno.makeTempDir({ prefix: "floe-slim-outside-" });
  try {
    const project = {
      projectDir: dir,
      profilesDir: dir,
      target: "dev",
      project: {},
    };
    const manifest = join(dir, "target", "manifest.json");
    await writeFile(
      dir,
      "target/manifest.json",
      '{"metadata": {"dbt_schema_version": "v12", "invocation_id": "inv-1"}, "nodes": {}}',
    );
    const kept = await keepState(project, manifest, {
      job_id: "job-9",
      command: "build",
      dbt_version: "1.11.0",
      runtime: "local",
    });
    assert.equal(kept.dir, keptStateDir(dir, "dev"));
    assert.equal(
      await Deno.readTextFile(kept.manifestPath),
      await Deno.readTextFile(manifest),
    );
    const info = (await readState(kept.dir, dir))?.info;
    assert.equal(info?.run_id, "inv-1");
    assert.equal(info?.job_id, "job-9");
    const names = [...Deno.readDirSync(kept.dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["manifest.json", "state.json"], "no temp files");

    await Deno.remove(join(dir, ".floe", "state"), { recursive: true });
    await Deno.symlink(outside, join(dir, ".floe", "state"));
    await assert.rejects(
      () =>
        keepState(project, manifest, {
          job_id: null,
          command: "run",
          dbt_version: null,
          runtime: "local",
        }),
      (e) => e instanceof FloeDbtError && e.code === "FLOE-DBT-E003",
    );
    assert.deepEqual([...Deno.readDirSync(outside)], [], "nothing outside");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
