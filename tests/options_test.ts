/**
 * The everyday dbt options and commands (issue 15, item 1): `--vars`,
 * `--threads`, `--fail-fast`, `--selector`, `--indirect-selection`,
 * `snapshot`, `docs generate`, `retry`, `source freshness` on the CLI, in job
 * requests, and through the local (dbt-core) and fusion runtimes against
 * real DuckDB; the cloud runtime's steps and refusals.
 */
import assert from "node:assert/strict";
import { parseCli } from "../src/cli/args.ts";
import { optionArgs, parseVars, varsArgs } from "../src/dbt/dbt_options.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import { type Job, JobRequestSchema } from "../src/jobs/schemas.ts";
import { callRuntime } from "../src/jobs/steps.ts";
import type {
  DbtRuntime,
  ProjectRef,
  Selection,
} from "../src/contract/runtime.ts";
import type { DbtCommand, RunResult } from "../src/contract/schemas.ts";
import { dbtStep, needsOverride } from "../runtimes/cloud/steps.ts";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { copyExample, ROOT, runAgent, writeFile } from "./_helpers.ts";
import { staticExecutor } from "./cloud/executors.ts";
import { cloudSetup } from "./cloud/setup.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const PYTHON = join(ROOT, ".venv", "dbt-core", "bin", "python");
const env = { get: (_: string) => undefined };
const isUsage = (re: RegExp) => (e: unknown) =>
  e instanceof FloeDbtError && e.code === "FLOE-DBT-E010" && re.test(e.message);

// ---------------------------------------------------------------- parsing

Deno.test("CLI: --vars takes YAML or JSON and becomes one JSON argument", () => {
  const yaml = parseCli(["run", "--vars", "start: 2026-01-01\nn: 3"], env);
  assert.deepEqual(yaml.vars, { start: "2026-01-01", n: 3 });
  const json = parseCli(["run", "--vars", '{"a": "x y", "b": [1, 2]}'], env);
  assert.deepEqual(json.vars, { a: "x y", b: [1, 2] });
  // One argv item, whatever the values hold (spaces, dashes, quotes).
  const args = varsArgs({ a: "--target-path /tmp x", q: "'\"" });
  assert.equal(args.length, 2);
  assert.equal(args[0], "--vars");
  assert.deepEqual(JSON.parse(args[1]!), {
    a: "--target-path /tmp x",
    q: "'\"",
  });
});

Deno.test("CLI: bad --vars, --threads, --selector, --indirect-selection are E010 naming the value", () => {
  const bad: [string[], RegExp][] = [
    [["run", "--vars", "[1, 2]"], /--vars must be a mapping/],
    [["run", "--vars", "a: [unclosed"], /--vars is not valid YAML or JSON/],
    [["run", "--vars", '{"a\\nb": 1}'], /key "a\\nb".*U\+000a/],
    [["run", "--vars", '{"ok": {"x\\u0000": 1}}'], /vars\.ok.*U\+0000/],
    [["run", "--threads", "0"], /--threads must be a whole number.*'0'/],
    [["run", "--threads", "2.5"], /'2\.5'/],
    [["run", "--selector=--target-path"], /selector value "--target-path"/],
    [["run", "--selector", "a b"], /not a YAML selector name/],
    [
      ["run", "--indirect-selection", "lazy"],
      /eager, cautious, buildable, empty, not 'lazy'/,
    ],
    [["docs", "serve"], /'docs' needs 'generate'.*not 'serve'/],
    [["source"], /'source' needs 'freshness'/],
  ];
  for (const [argv, re] of bad) {
    assert.throws(() => parseCli(argv, env), isUsage(re), argv.join(" "));
  }
});

Deno.test("CLI: dbt's command words and flag names", () => {
  const a = parseCli([
    "docs",
    "generate",
    "--threads",
    "4",
    "-x",
    "--selector",
    "nightly.v2",
    "--indirect-selection",
    "cautious",
  ], env);
  assert.equal(a.command, "docs-generate");
  assert.equal(a.threads, 4);
  assert.equal(a.failFast, true);
  assert.equal(a.selector, "nightly.v2");
  assert.equal(a.indirectSelection, "cautious");
  assert.equal(
    parseCli(["source", "freshness"], env).command,
    "source-freshness",
  );
  assert.equal(parseCli(["snapshot"], env).command, "snapshot");
  assert.equal(parseCli(["retry"], env).command, "retry");
  const s = parseCli(["submit", "source", "freshness"], env);
  assert.deepEqual(s.positionals, ["source-freshness"]);
});

Deno.test("optionArgs(): --full-refresh only where dbt takes it; fail fast and threads", () => {
  const sel: Selection = { select: ["a+"], fullRefresh: true, failFast: true };
  assert.deepEqual(optionArgs("run", sel, { threads: 2 }), [
    "--select",
    "a+",
    "--full-refresh",
    "--fail-fast",
    "--threads",
    "2",
  ]);
  for (const c of ["test", "snapshot", "docs-generate", "source-freshness"]) {
    assert.ok(
      !optionArgs(c as DbtCommand, sel).includes("--full-refresh"),
      c,
    );
  }
  assert.throws(
    () => parseVars("just text"),
    isUsage(/--vars must be a mapping.*"just text"/),
  );
});

Deno.test("job requests: the options are validated like the CLI's", () => {
  const ok = JobRequestSchema.parse({
    command: "source-freshness",
    project_dir: "/p",
    vars: "greeting: hi",
    threads: 3,
    fail_fast: true,
    selector: "nightly",
    indirect_selection: "buildable",
  });
  assert.deepEqual(ok.vars, { greeting: "hi" });
  assert.deepEqual(
    JobRequestSchema.parse({
      command: "run",
      project_dir: "/p",
      vars: { a: { b: 1 } },
    }).vars,
    { a: { b: 1 } },
  );
  for (
    const [field, value, re] of [
      ["vars", "[1]", /vars must be a mapping/],
      ["vars", { "a\tb": 1 }, /U\+0009/],
      ["threads", 0, /threads/],
      [
        "selector",
        "-x",
        /Unsafe selector value .*-x.*not a YAML selector name/,
      ],
      ["indirect_selection", "all", /indirect_selection/],
      ["command", "docs", /command/],
    ] as const
  ) {
    const r = JobRequestSchema.safeParse({
      command: "run",
      project_dir: "/p",
      [field]: value,
    });
    assert.equal(r.success, false, field);
    assert.match(JSON.stringify(r.error!.issues), re, field);
  }
});

Deno.test("cloud steps: the commands and options as one dbt step; vars refused naming cloud, retry never a step", () => {
  assert.equal(
    dbtStep("snapshot", { select: ["snap_a"] }),
    "dbt snapshot --select snap_a",
  );
  assert.equal(dbtStep("docs-generate"), "dbt docs generate");
  assert.equal(
    dbtStep("source-freshness", { select: ["source:raw+"] }),
    "dbt source freshness --select source:raw+",
  );
  assert.equal(
    dbtStep("build", {
      selector: "nightly",
      indirectSelection: "cautious",
      failFast: true,
      fullRefresh: true,
    }),
    "dbt build --selector nightly --indirect-selection cautious --full-refresh --fail-fast",
  );
  assert.equal(needsOverride({ failFast: true }, true), true);
  assert.equal(needsOverride({}, true), false);
  assert.throws(
    () => dbtStep("run", { vars: { a: 1 } }),
    isUsage(/cloud runtime cannot pass --vars/),
  );
  assert.throws(
    () => dbtStep("retry"),
    isUsage(/dbt retry is never a step of a dbt Cloud run/),
  );
  assert.throws(
    () => dbtStep("run", { selector: "a;b" }),
    isUsage(/Unsafe selector value "a;b"/),
  );
});

// ------------------------------------------------------- real dbt, DuckDB

/** Query the project's DuckDB file with the duckdb module of the venv. */
async function query(projectDir: string, sql: string): Promise<unknown[][]> {
  const out = await new Deno.Command(PYTHON, {
    args: [
      "-c",
      "import duckdb, json, sys\n" +
      "con = duckdb.connect(sys.argv[1], read_only=True)\n" +
      "print(json.dumps(con.execute(sys.argv[2]).fetchall(), default=str))",
      join(projectDir, ".floe", "jaffle_duck.duckdb"),
      sql,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return JSON.parse(dec.decode(out.stdout));
}

/** The example plus a vars model, a snapshot, a stale source, a selector. */
async function addFixtures(dir: string): Promise<void> {
  await writeFile(
    dir,
    "models/with_var.sql",
    "{{ config(materialized='table') }}\nselect '{{ var(\"greeting\", \"none\") }}' as greeting\n",
  );
  await writeFile(
    dir,
    "snapshots/snap_var.sql",
    `{% snapshot snap_var %}
{{ config(target_schema='main', unique_key='id', strategy='check', check_cols=['v']) }}
select 1 as id, '{{ var("snap_value", "a") }}' as v
{% endsnapshot %}
`,
  );
  await writeFile(
    dir,
    "seeds/loads.csv",
    "id,loaded_at\n1,2020-01-01 00:00:00\n",
  );
  await writeFile(
    dir,
    "models/staging/_fresh.yml",
    `version: 2
sources:
  - name: fresh
    schema: main
    tables:
      - name: loads
        config:
          loaded_at_field: loaded_at
          freshness:
            warn_after: {count: 1, period: day}
`,
  );
  await writeFile(
    dir,
    "selectors.yml",
    `selectors:
  - name: only_var
    definition:
      method: fqn
      value: with_var
`,
  );
}

const BAD = "select x from table_that_does_not_exist\n";
const GOOD = "select 1 as x\n";

function ids(run: Record<string, unknown>): [string, string][] {
  return (run.results as { unique_id: string; status: string }[]).map((
    r,
  ) => [r.unique_id, r.status]);
}

async function runResults(r: RunResult): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(r.run_results_path));
}

/** The checks both runtimes pass; `local` adds the worker's manifest reuse. */
async function commonSteps(
  t: Deno.TestContext,
  rt: DbtRuntime,
  p: ProjectRef,
  local: boolean,
): Promise<void> {
  const dir = p.projectDir;
  const exec = (c: DbtCommand, s: Selection = {}, threads?: number) =>
    rt.execute(c, p, s, threads ? { threads } : {});

  await t.step(
    "build everything (the first snapshot has v = 'a')",
    async () => {
      const r = await exec("build");
      assert.equal(r.success, true, JSON.stringify(r.metadata.errors));
      assert.equal(r.metadata.snapshots_run, 1);
    },
  );

  await t.step(
    "vars reach a model; other vars, the new value lands",
    async () => {
      const a = await exec("run", {
        select: ["with_var"],
        vars: { greeting: "hello world" },
      });
      assert.equal(a.success, true);
      assert.deepEqual(await query(dir, "select greeting from with_var"), [[
        "hello world",
      ]]);
      const b = await exec("run", {
        select: ["with_var"],
        vars: { greeting: "bye" },
      });
      assert.equal(b.success, true);
      assert.deepEqual(b.metadata.vars, { greeting: "bye" });
      assert.deepEqual(await query(dir, "select greeting from with_var"), [[
        "bye",
      ]]);
      if (local) {
        // Different vars: the warm worker parsed again; same vars: reused.
        assert.equal(b.metadata.reused_manifest, false);
        const c = await exec("run", {
          select: ["with_var"],
          vars: { greeting: "bye" },
        });
        assert.equal(c.metadata.reused_manifest, true);
        assert.deepEqual(await query(dir, "select greeting from with_var"), [[
          "bye",
        ]]);
      }
    },
  );

  await t.step("--threads reaches dbt", async () => {
    const r = await exec("run", { select: ["with_var"] }, 3);
    assert.equal(r.success, true);
    assert.equal(r.metadata.threads, 3);
    // dbt-core records its args; Fusion's run_results carry no threads.
    if (local) {
      const args = (await runResults(r)).args as Record<string, unknown>;
      assert.equal(args.threads, 3);
    }
  });

  await t.step("--selector picks the YAML selector's nodes", async () => {
    const r = await exec("run", { selector: "only_var" });
    assert.equal(r.success, true);
    assert.deepEqual(ids(await runResults(r)), [[
      "model.jaffle_duck.with_var",
      "success",
    ]]);
  });

  await t.step(
    "--indirect-selection empty leaves the model's tests out",
    async () => {
      const eager = await exec("build", {
        select: ["stg_customers"],
      });
      assert.ok(eager.tests_run >= 2, String(eager.tests_run));
      const empty = await exec("build", {
        select: ["stg_customers"],
        indirectSelection: "empty",
      });
      assert.equal(empty.success, true);
      assert.equal(empty.tests_run, 0);
      assert.equal(empty.models_run, 1);
    },
  );

  await t.step("a snapshot captures a change between two runs", async () => {
    const r = await exec("snapshot", { vars: { snap_value: "b" } });
    assert.equal(r.success, true, JSON.stringify(r.metadata.errors));
    assert.equal(r.metadata.snapshots_run, 1);
    assert.deepEqual(
      await query(
        dir,
        "select v from snap_var where id = 1 order by dbt_valid_from",
      ),
      [["a"], ["b"]],
    );
  });

  await t.step(
    "docs generate: catalog_path is this run's catalog with the columns",
    async () => {
      const r = await exec("docs-generate");
      assert.equal(r.success, true);
      assert.equal(r.models_run, 0);
      assert.ok(r.catalog_path, "catalog_path");
      const catalog = JSON.parse(await Deno.readTextFile(r.catalog_path!));
      const cols = Object.keys(
        catalog.nodes["model.jaffle_duck.customers"].columns,
      )
        .map((c) => c.toLowerCase());
      assert.ok(
        cols.includes("customer_id") && cols.includes("lifetime_value"),
        cols.join(),
      );
      assert.ok(catalog.nodes["model.jaffle_duck.with_var"]);
    },
  );

  await t.step("source freshness reports the stale source", async () => {
    const r = await exec("source-freshness");
    assert.equal(r.success, true); // warn is not an error, as in dbt
    assert.equal(r.models_run, 0);
    assert.match(r.run_results_path, /sources\.json$/);
    const sources = r.metadata.sources as {
      unique_id: string;
      status: string;
    }[];
    const loads = sources.find((s) =>
      s.unique_id === "source.jaffle_duck.fresh.loads"
    );
    assert.equal(loads?.status, "warn");
    assert.match(
      String((loads as Record<string, unknown>).max_loaded_at),
      /^2020-01-01/,
    );
  });

  await t.step(
    "retry re-runs only the failed node once its cause is fixed",
    async () => {
      await writeFile(dir, "models/bad_a.sql", BAD);
      const failed = await exec("run", { select: ["bad_a", "stg_customers"] });
      assert.equal(failed.success, false);
      assert.equal(failed.failures, 1);
      await writeFile(dir, "models/bad_a.sql", GOOD);
      const r = await exec("retry");
      assert.equal(r.success, true, JSON.stringify(r.metadata.errors));
      assert.deepEqual(ids(await runResults(r)), [[
        "model.jaffle_duck.bad_a",
        "success",
      ]]);
      assert.deepEqual(await query(dir, "select x from bad_a"), [[1]]);
    },
  );
}

Deno.test(
  "local runtime: vars, threads, selector, indirect selection, fail-fast, snapshot, docs, freshness, retry",
  opts,
  async (t) => {
    await using copy = await copyExample("floe-options-local-");
    await addFixtures(copy.dir);
    const rt = new LocalRuntime();
    const p = { projectDir: copy.dir, profilesDir: copy.dir };
    try {
      await t.step(
        "retry with no previous run is E010 naming local",
        async () => {
          await assert.rejects(
            () => rt.execute("retry", p),
            isUsage(/local runtime has no previous run to retry/),
          );
          await assert.rejects(
            () => rt.execute("retry", p, { select: ["a"] }),
            isUsage(/dbt retry takes no selection/),
          );
        },
      );
      await commonSteps(t, rt, p, true);

      await t.step("--fail-fast stops after the first failure", async () => {
        await writeFile(copy.dir, "models/bad_a.sql", BAD);
        await writeFile(copy.dir, "models/bad_b.sql", BAD);
        const all = await rt.execute("run", p, { select: ["bad_a", "bad_b"] }, {
          threads: 1,
        });
        assert.equal(all.failures, 2);
        const fast = await rt.execute("run", p, {
          select: ["bad_a", "bad_b"],
          failFast: true,
        }, { threads: 1 });
        assert.equal(fast.success, false);
        assert.equal(fast.failures, 1);
        assert.equal(fast.metadata.fail_fast, true);
      });
    } finally {
      await rt.close();
    }
  },
);

Deno.test(
  "fusion runtime: vars, threads, selector, indirect selection, snapshot, docs, freshness, retry; fail-fast refused naming fusion",
  opts,
  async (t) => {
    await using copy = await copyExample("floe-options-fusion-");
    await addFixtures(copy.dir);
    const rt = new FusionRuntime({ fallback_to_core: false });
    const p = { projectDir: copy.dir, profilesDir: copy.dir };
    try {
      await t.step(
        "retry with no previous Fusion run is E010 naming fusion",
        async () => {
          await assert.rejects(
            () => rt.execute("retry", p),
            isUsage(/fusion runtime has no previous run to retry/),
          );
        },
      );
      await commonSteps(t, rt, p, false);
      await t.step("the CLI: dbt's words and flags reach Fusion", async () => {
        const out = await runAgent([
          "run",
          "--runtime",
          "fusion",
          "--project-dir",
          copy.dir,
          "-s",
          "with_var",
          "--vars",
          "greeting: from the cli",
          "--threads",
          "2",
          "--json",
        ]);
        assert.equal(out.code, 0, out.stderr);
        assert.equal(JSON.parse(out.stdout).metadata.threads, 2);
        assert.deepEqual(
          await query(copy.dir, "select greeting from with_var"),
          [[
            "from the cli",
          ]],
        );
        const fresh = await runAgent([
          "source",
          "freshness",
          "--runtime",
          "fusion",
          "--project-dir",
          copy.dir,
          "--json",
        ]);
        const docs = await runAgent([
          "docs",
          "generate",
          "--runtime",
          "fusion",
          "--project-dir",
          copy.dir,
        ]);
        assert.equal(docs.code, 0, docs.stderr);
        const catalog = JSON.parse(await Deno.readTextFile(docs.stdout.trim()));
        assert.ok(catalog.nodes["model.jaffle_duck.with_var"]);
        assert.equal(fresh.code, 0, fresh.stderr);
        assert.equal(
          JSON.parse(fresh.stdout).metadata.sources[0].status,
          "warn",
        );
      });
      await t.step(
        "--fail-fast is refused, naming the fusion runtime",
        async () => {
          await assert.rejects(
            () => rt.execute("run", p, { failFast: true }),
            isUsage(/fusion runtime cannot honour --fail-fast/),
          );
        },
      );
    } finally {
      await rt.close();
    }
  },
);

Deno.test("a job request's options reach the runtime", async () => {
  const seen: unknown[] = [];
  const rt = {
    execute: (...args: unknown[]) => {
      seen.push(args);
      return Promise.resolve({} as RunResult);
    },
  } as unknown as DbtRuntime;
  const request = JobRequestSchema.parse({
    command: "docs-generate",
    project_dir: "/p",
    profiles_dir: "/p",
    vars: '{"a": 1}',
    threads: 2,
    fail_fast: true,
    selector: "nightly",
    indirect_selection: "empty",
  });
  await callRuntime(rt, { request } as Job, {});
  const [command, , selection, options] = seen[0] as [
    string,
    unknown,
    Selection,
    { threads?: number },
  ];
  assert.equal(command, "docs-generate");
  assert.deepEqual(selection.vars, { a: 1 });
  // No operator policy: the runtime refuses Jinja in the vars.
  assert.equal(selection.allowJinjaVars, false);
  assert.equal(selection.failFast, true);
  assert.equal(selection.selector, "nightly");
  assert.equal(selection.indirectSelection, "empty");
  assert.equal(options.threads, 2);
});

Deno.test("cloud runtime: source freshness and docs generate through the dbt Cloud stand-in", async () => {
  await using s = await cloudSetup();
  const sources = {
    metadata: { invocation_id: "inv-1" },
    elapsed_time: 0.5,
    results: [
      {
        unique_id: "source.p.raw.orders",
        status: "error",
        max_loaded_at: "2020-01-01T00:00:00Z",
        snapshotted_at: "2026-11-01T00:00:00Z",
        max_loaded_at_time_ago_in_s: 1e8,
      },
      {
        unique_id: "source.p.raw.customers",
        status: "pass",
        max_loaded_at: "2026-11-01T00:00:00Z",
        snapshotted_at: "2026-11-01T00:00:00Z",
        max_loaded_at_time_ago_in_s: 10,
      },
    ],
  };
  s.server.executor = staticExecutor({
    "sources.json": JSON.stringify(sources),
    "manifest.json": s.artifacts["manifest.json"]!,
  }, false);
  const fresh = await s.runtime.execute("source-freshness", s.project, {
    select: ["source:raw"],
  }, { threads: 2 });
  const run = [...s.server.runs.values()].at(-1)!;
  assert.deepEqual(run.steps, ["dbt source freshness --select source:raw"]);
  assert.equal(run.threads, 2);
  assert.equal(fresh.success, false);
  assert.equal(fresh.failures, 1);
  assert.equal(fresh.models_run, 0);
  assert.deepEqual(
    (fresh.metadata.sources as { status: string }[]).map((x) => x.status),
    ["error", "pass"],
  );

  const catalog = JSON.stringify({ nodes: {}, sources: {} });
  s.server.executor = staticExecutor({
    ...s.artifacts,
    "catalog.json": catalog,
  });
  const docs = await s.runtime.execute("docs-generate", s.project);
  assert.deepEqual([...s.server.runs.values()].at(-1)!.steps, [
    "dbt docs generate",
  ]);
  assert.equal(docs.success, true);
  assert.ok(docs.catalog_path);
  assert.equal(await Deno.readTextFile(docs.catalog_path!), catalog);
  // Nothing reached dbt Cloud for what it cannot take.
  const before = s.server.requests.length;
  await assert.rejects(
    () => s.runtime.execute("run", s.project, { vars: { a: 1 } }),
    isUsage(/cloud runtime cannot pass --vars/),
  );
  await assert.rejects(
    () => s.runtime.execute("retry", s.project, { select: ["a"] }),
    isUsage(/dbt retry takes no selection/),
  );
  await assert.rejects(
    () => s.runtime.execute("retry", s.project, { vars: { a: 1 } }),
    isUsage(/cloud runtime's retry takes no --vars/),
  );
  assert.equal(s.server.requests.length, before);
});
