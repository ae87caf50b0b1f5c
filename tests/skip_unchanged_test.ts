/**
 * `--skip-unchanged` against real dbt-core and DuckDB: after an ordinary
 * build every node is reused (but the source with no data version's
 * descendants); editing a model, a macro, a seed, vars, appending rows to a
 * source (fingerprinted, or with a dbt freshness) or dropping a relation
 * rebuilds exactly what dbt's graph says is downstream of the change; a
 * seeded random sequence of changes leaves exactly the tables a full build
 * leaves on a copy of the warehouse; the refusals (cloud, full refresh,
 * other commands) and the wiring (CLI flag, job field).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "./_path.ts";
import {
  copyProject,
  downstream,
  duckdb,
  executedNodes,
  makeSkipProject,
  MODELS,
  random,
  rebuiltNodes,
  warehouseContents,
  writeCents,
  writeModel,
} from "./_skip_project.ts";
import { runAgent, writeFile } from "./_helpers.ts";
import { startPostgres } from "./_postgres.ts";
import { FakeRuntime } from "./_fake_runtime.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { skipRuntime } from "../src/skip/runtime.ts";
import { stateRuntime } from "../src/wrappers/state.ts";
import { parseCli } from "../src/cli/args.ts";
import { stateCommand } from "../src/cli/state_cmd.ts";
import { JobRequestSchema } from "../src/jobs/schemas.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import { ArtifactStore } from "../src/jobs/artifact_store.ts";
import type {
  DbtRuntime,
  ProjectRef,
  Selection,
} from "../src/contract/runtime.ts";
import type { ProgressEvent, RunResult } from "../src/contract/schemas.ts";

const AUDIT = "model.skipper.audit_copy";

function stack(): DbtRuntime {
  return stateRuntime(skipRuntime(new LocalRuntime()));
}

async function tempProject(prefix: string) {
  const dir = await Deno.makeTempDir({ prefix });
  await makeSkipProject(dir);
  return {
    dir,
    ref: { projectDir: dir, profilesDir: dir } as ProjectRef,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function build(
  rt: DbtRuntime,
  ref: ProjectRef,
  selection: Selection = {},
  events: ProgressEvent[] = [],
): Promise<RunResult> {
  const r = await rt.execute("build", ref, selection, {
    onEvent: (e) => events.push(e),
  });
  assert.ok(r.success, `build failed: ${JSON.stringify(r.metadata.errors)}`);
  return r;
}

/** Tests dbt's graph attaches to any of `ids`. */
function testsOf(dir: string, ids: string[]): string[] {
  const m = JSON.parse(
    Deno.readTextFileSync(join(dir, "target", "manifest.json")),
  );
  const childMap = m.child_map as Record<string, string[]>;
  return [
    ...new Set(
      ids.flatMap((id) =>
        (childMap[id] ?? []).filter((c) => c.startsWith("test."))
      ),
    ),
  ].sort();
}

function sorted(ids: Iterable<string>): string[] {
  return [...new Set(ids)].sort();
}

/** The rebuilt set must be what dbt's graph says, and dbt ran exactly it. */
async function assertRebuilt(
  dir: string,
  r: RunResult,
  changed: string[],
): Promise<void> {
  const want = sorted([...downstream(dir, changed), AUDIT]);
  assert.deepEqual(rebuiltNodes(r), want);
  assert.deepEqual(await executedNodes(r), want);
  const rebuilt = Object.keys(r.metadata.rebuilt as Record<string, string>);
  for (const t of testsOf(dir, want)) {
    assert.ok(rebuilt.includes(t), `test ${t} of a rebuilt node did not run`);
  }
  const reused = r.metadata.reused as string[];
  assert.equal(
    reused.filter((id) => want.includes(id)).length,
    0,
    "a node is both reused and rebuilt",
  );
}

Deno.test({
  name:
    "skip-unchanged: each kind of change rebuilds exactly its descendants in dbt's graph (dbt-core, DuckDB)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using p = await tempProject("floe-skip-test-");
    const rt = stack();
    try {
      await t.step("an ordinary build keeps the keys (0600)", async () => {
        const r = await build(rt, p.ref);
        assert.equal(r.metadata.reused, undefined);
        const st = await Deno.stat(
          join(p.dir, ".floe", "state", "dev", "skip.json"),
        );
        assert.equal(st.mode! & 0o777, 0o600);
        const kept = JSON.parse(
          await Deno.readTextFile(
            join(p.dir, ".floe", "state", "dev", "skip.json"),
          ),
        );
        assert.equal(
          Object.keys(kept.nodes).filter((id) => id.startsWith("model."))
            .length,
          Object.keys(MODELS).length,
        );
        assert.equal(
          (r.metadata.input_keys as { kept: number }).kept,
          Object.keys(kept.nodes).length,
        );
      });

      await t.step(
        "unchanged: everything is reused but the source with no signal's descendants",
        async () => {
          const events: ProgressEvent[] = [];
          const r = await build(rt, p.ref, { skipUnchanged: true }, events);
          assert.deepEqual(r.metadata.rebuilt, {
            [AUDIT]: "source has no freshness signal: source.skipper.ext.audit",
          });
          assert.deepEqual(await executedNodes(r), [AUDIT]);
          const reused = r.metadata.reused as string[];
          assert.equal(
            reused.filter((id) => id.startsWith("model.")).length,
            Object.keys(MODELS).length - 1,
          );
          assert.ok(reused.includes("seed.skipper.regions"));
          assert.ok(reused.some((id) => id.startsWith("test.")));
          assert.equal(r.models_run, 1);
          const lines = events.flatMap((e) =>
            e.type === "log" ? [e.message] : []
          );
          assert.ok(
            lines.some((l) => /^REUSED model stg_orders \(success at /.test(l)),
          );
          assert.ok(lines.includes(`skip: rebuilt 1, reused ${reused.length}`));
          const versions = (r.metadata.skip_unchanged as {
            data_versions: Record<string, { method: string }>;
          }).data_versions;
          assert.equal(
            versions["source.skipper.raw.orders"]!.method,
            "fingerprint",
          );
          assert.equal(
            versions["source.skipper.raw.events"]!.method,
            "freshness",
          );
        },
      );

      await t.step("a model edited: it and its descendants", async () => {
        await writeModel(p.dir, "stg_customers", 1);
        const r = await build(rt, p.ref, { skipUnchanged: true });
        await assertRebuilt(p.dir, r, ["model.skipper.stg_customers"]);
        assert.equal(
          (r.metadata.rebuilt as Record<string, string>)[
            "model.skipper.stg_customers"
          ],
          "code changed",
        );
        assert.equal(
          (r.metadata.rebuilt as Record<string, string>)[
            "model.skipper.customer_orders"
          ],
          "upstream rebuilt: model.skipper.stg_customers",
        );
      });

      await t.step(
        "a macro edited: its users and their descendants",
        async () => {
          await writeCents(p.dir, 1);
          const r = await build(rt, p.ref, { skipUnchanged: true });
          await assertRebuilt(p.dir, r, ["model.skipper.customer_orders"]);
          assert.equal(
            (r.metadata.rebuilt as Record<string, string>)[
              "model.skipper.customer_orders"
            ],
            "macro changed",
          );
        },
      );

      await t.step("rows appended to a fingerprinted source", async () => {
        await duckdb(p.dir, "insert into raw.orders values (5, 2, 60)");
        const r = await build(rt, p.ref, { skipUnchanged: true });
        await assertRebuilt(p.dir, r, ["source.skipper.raw.orders"]);
        assert.equal(
          (r.metadata.rebuilt as Record<string, string>)[
            "model.skipper.stg_orders"
          ],
          "source data changed: source.skipper.raw.orders",
        );
      });

      await t.step(
        "rows with a newer loaded_at in a source with freshness",
        async () => {
          await duckdb(
            p.dir,
            "insert into raw.events values (3, 'click', timestamp '2026-02-01 00:00:00')",
          );
          const r = await build(rt, p.ref, { skipUnchanged: true });
          await assertRebuilt(p.dir, r, ["source.skipper.raw.events"]);
        },
      );

      await t.step("a seed edited: it and its descendants", async () => {
        await writeFile(
          p.dir,
          "seeds/regions.csv",
          "region_id,region\n1,north\n2,south\n3,east\n",
        );
        const r = await build(rt, p.ref, { skipUnchanged: true });
        await assertRebuilt(p.dir, r, ["seed.skipper.regions"]);
      });

      await t.step("a relation dropped: only it", async () => {
        await duckdb(p.dir, "drop table main.region_list");
        const r = await build(rt, p.ref, { skipUnchanged: true });
        assert.deepEqual(
          rebuiltNodes(r),
          sorted(["model.skipper.region_list", AUDIT]),
        );
        assert.equal(
          (r.metadata.rebuilt as Record<string, string>)[
            "model.skipper.region_list"
          ],
          "relation missing",
        );
      });

      await t.step(
        "vars changed: the models using a var and their descendants",
        async () => {
          const r = await build(rt, p.ref, {
            skipUnchanged: true,
            vars: { min_amount: 20 },
          });
          await assertRebuilt(p.dir, r, ["model.skipper.stg_orders"]);
          assert.equal(
            (r.metadata.rebuilt as Record<string, string>)[
              "model.skipper.stg_orders"
            ],
            "vars changed",
          );
        },
      );

      await t.step(
        "within a selection: only selected nodes are built or reused",
        async () => {
          await writeModel(p.dir, "stg_events", 1);
          await writeModel(p.dir, "stg_orders", 1);
          const r = await build(rt, p.ref, {
            skipUnchanged: true,
            vars: { min_amount: 20 },
            select: ["stg_events+"],
          });
          assert.deepEqual(
            rebuiltNodes(r),
            ["model.skipper.event_counts", "model.skipper.stg_events"],
          );
          const reused = r.metadata.reused as string[];
          assert.ok(!reused.includes("model.skipper.stg_orders"));
          assert.ok(!reused.some((id) => id.startsWith("model.")));
        },
      );

      await t.step("a failed node is never reused", async () => {
        await writeFile(
          p.dir,
          "models/marts/region_list.sql",
          "select region_id, no_such_column from {{ ref('regions') }}\n",
        );
        const bad = await rt.execute("build", p.ref, {
          skipUnchanged: true,
          vars: { min_amount: 20 },
        });
        assert.equal(bad.success, false);
        await writeModel(p.dir, "region_list", 0);
        // Back to the code of its last success, but it failed since.
        const r = await build(rt, p.ref, {
          skipUnchanged: true,
          vars: { min_amount: 20 },
        });
        assert.equal(
          (r.metadata.rebuilt as Record<string, string>)[
            "model.skipper.region_list"
          ],
          "failed last time",
        );
      });

      await t.step(
        "stale sources: their descendants are left out, the build succeeds",
        async () => {
          const yml = await Deno.readTextFile(
            join(p.dir, "models", "sources.yml"),
          );
          await writeFile(
            p.dir,
            "models/sources.yml",
            yml.replace(
              "warn_after: {count: 100000, period: day}",
              "error_after: {count: 1, period: day}",
            ),
          );
          try {
            const events: ProgressEvent[] = [];
            const r = await build(rt, p.ref, {
              skipStaleSources: true,
              vars: { min_amount: 20 },
            }, events);
            const stale = "source.skipper.raw.events";
            assert.deepEqual(r.metadata.skipped_stale, {
              "model.skipper.event_counts": stale,
              "model.skipper.stg_events": stale,
            });
            const ran = await executedNodes(r);
            assert.ok(ran.includes("model.skipper.stg_orders"));
            assert.ok(!ran.includes("model.skipper.stg_events"));
            assert.ok(!ran.includes("model.skipper.event_counts"));
            const age = (r.metadata.stale_sources as Record<
              string,
              { status: string; age_seconds: number }
            >)[stale]!;
            assert.equal(age.status, "error");
            assert.ok(age.age_seconds > 86400);
            assert.ok(
              events.some((e) =>
                e.type === "log" &&
                e.message.startsWith("STALE model stg_events: not built")
              ),
            );
          } finally {
            await writeFile(p.dir, "models/sources.yml", yml);
          }
        },
      );

      await t.step(
        "state clear forgets: everything is built again",
        async () => {
          const out: string[] = [];
          const code = await stateCommand({
            positionals: ["clear"],
            projectDir: p.dir,
            target: "dev",
            json: true,
          }, { out: (s) => out.push(s) });
          assert.equal(code, 0);
          assert.deepEqual(JSON.parse(out[0]!).removed, ["dev"]);
          const r = await build(rt, p.ref, {
            skipUnchanged: true,
            vars: { min_amount: 20 },
          });
          assert.deepEqual(r.metadata.reused, []);
          assert.ok(
            Object.values(r.metadata.rebuilt as Record<string, string>).every((
              why,
            ) =>
              why === "no previous build" ||
              why === "source has no freshness signal: source.skipper.ext.audit"
            ),
          );
        },
      );
    } finally {
      await rt.close();
    }
  },
});

/**
 * A seeded random sequence of changes; after each, the `--skip-unchanged`
 * build must leave the tables a full build leaves on a copy.
 */
async function randomSequence(
  stack: () => DbtRuntime,
  defaultSteps: number,
): Promise<void> {
  {
    const seed = Number(Deno.env.get("FLOE_SKIP_SEED") ?? "20261204");
    const next = random(seed);
    const pick = <T>(xs: readonly T[]): T =>
      xs[Math.floor(next() * xs.length)]!;
    await using p = await tempProject("floe-skip-prop-");
    const full = await Deno.makeTempDir({ prefix: "floe-skip-full-" });
    const rt = stack();
    let vars: Record<string, unknown> = { min_amount: 0 };
    let rev = 1;
    const materialized: Record<string, string> = {};
    try {
      await build(rt, p.ref, { vars });
      const steps = Number(
        Deno.env.get("FLOE_SKIP_STEPS") ?? String(defaultSteps),
      );
      for (let i = 0; i < steps; i++) {
        const kind = pick(
          [
            "model",
            "macro",
            "config",
            "vars",
            "seed",
            "source",
            "events",
            "drop",
            "nothing",
          ] as const,
        );
        let note: string = kind;
        switch (kind) {
          case "model": {
            const name = pick(Object.keys(MODELS));
            await writeModel(p.dir, name, rev++, materialized[name]);
            note += ` ${name}`;
            break;
          }
          case "macro":
            await writeCents(p.dir, rev++);
            break;
          case "config": {
            const name = pick([
              "customer_orders",
              "region_totals",
              "stg_orders",
            ]);
            materialized[name] = materialized[name] === "view"
              ? "table"
              : "view";
            await writeModel(p.dir, name, rev++, materialized[name]);
            note += ` ${name} ${materialized[name]}`;
            break;
          }
          case "vars":
            vars = { min_amount: Math.floor(next() * 50) };
            note += ` ${JSON.stringify(vars)}`;
            break;
          case "seed":
            await writeFile(
              p.dir,
              "seeds/regions.csv",
              `region_id,region\n1,north\n2,south\n${rev++},r${rev}\n`,
            );
            break;
          case "source": {
            const id = 100 + rev++;
            await duckdb(
              p.dir,
              pick([
                `insert into raw.orders values (${id}, ${
                  1 + Math.floor(next() * 3)
                }, ${Math.floor(next() * 80)})`,
                `insert into raw.customers values (${id}, 'N${id}', 2)`,
                `insert into raw.audit values (${id}, 'n${id}')`,
              ]),
            );
            break;
          }
          case "events":
            await duckdb(
              p.dir,
              `insert into raw.events values (${
                100 + rev
              }, 'view', timestamp '2026-03-01 00:00:00' + interval ${rev++} day)`,
            );
            break;
          case "drop": {
            const name = pick([
              "customer_orders",
              "region_list",
              "event_counts",
            ]);
            await duckdb(p.dir, `drop table if exists main.${name}`);
            await duckdb(p.dir, `drop view if exists main.${name}`);
            note += ` ${name}`;
            break;
          }
          case "nothing":
            break;
        }
        // The same warehouse and project, built in full on a copy.
        await Deno.remove(full, { recursive: true }).catch(() => {});
        await copyProject(p.dir, full);
        const fullRef = { projectDir: full, profilesDir: full };
        await build(rt, fullRef, { vars });
        const r = await build(rt, p.ref, { vars, skipUnchanged: true });
        assert.equal(
          await warehouseContents(p.dir),
          await warehouseContents(full),
          `step ${i} (${note}, seed ${seed}): the warehouse differs from a full build's`,
        );
        assert.ok(
          Array.isArray(r.metadata.reused),
          `step ${i}: no reuse report`,
        );
      }
    } finally {
      await rt.close();
      await Deno.remove(full, { recursive: true }).catch(() => {});
    }
  }
}

Deno.test({
  name:
    "skip-unchanged: a random sequence of changes leaves exactly the tables a full build leaves (dbt-core, DuckDB)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => randomSequence(stack, 8),
});

Deno.test({
  name:
    "skip-unchanged: a random sequence of changes leaves exactly the tables a full build leaves (Fusion, DuckDB)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    randomSequence(
      () => stateRuntime(skipRuntime(new FusionRuntime())),
      6,
    ),
});

Deno.test({
  name:
    "skip-unchanged: on Fusion, unchanged is reused and an edit rebuilds its descendants in dbt's graph",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using p = await tempProject("floe-skip-fusion-");
    const rt = stateRuntime(skipRuntime(new FusionRuntime()));
    try {
      await build(rt, p.ref);
      const same = await build(rt, p.ref, { skipUnchanged: true });
      assert.deepEqual(rebuiltNodes(same), [AUDIT]);
      assert.equal(same.metadata.executed_by, "fusion");
      await writeModel(p.dir, "stg_orders", 1);
      await duckdb(
        p.dir,
        "insert into raw.events values (7, 'view', timestamp '2026-04-01 00:00:00')",
      );
      const r = await build(rt, p.ref, { skipUnchanged: true });
      const manifest = join(
        p.dir,
        "target",
        "manifest.json",
      );
      await Deno.mkdir(join(p.dir, "target"), { recursive: true });
      await Deno.copyFile(r.manifest_path, manifest);
      await assertRebuilt(p.dir, r, [
        "model.skipper.stg_orders",
        "source.skipper.raw.events",
      ]);
    } finally {
      await rt.close();
    }
  },
});

Deno.test("skip-unchanged: refusals name what to do instead", async () => {
  const cloud = skipRuntime(new FakeRuntime("cloud", true));
  await assert.rejects(
    () =>
      cloud.execute("build", { projectDir: ".", profilesDir: "." }, {
        skipUnchanged: true,
      }),
    (e: unknown) =>
      e instanceof FloeDbtError && e.code === "FLOE-DBT-E010" &&
      /state-aware orchestration/.test(e.hint ?? ""),
  );
  await using p = await tempProject("floe-skip-refuse-");
  const rt = skipRuntime(new LocalRuntime());
  try {
    for (
      const [command, selection, pattern] of [
        ["build", { fullRefresh: true }, /--full-refresh/],
        ["test", {}, /run and build, not test/],
        ["build", { state: p.dir }, /--changed, --state/],
      ] as const
    ) {
      await assert.rejects(
        () => rt.execute(command, p.ref, { ...selection, skipUnchanged: true }),
        (e: unknown) =>
          e instanceof FloeDbtError && e.code === "FLOE-DBT-E010" &&
          pattern.test(e.message),
      );
    }
  } finally {
    await rt.close();
  }
});

Deno.test("state clear: the CLI command, and its refusal", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-state-clear-" });
  try {
    const none = await runAgent(["state", "clear", "--project-dir", dir]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /no kept state to clear/);
    await Deno.mkdir(join(dir, ".floe", "state", "prod"), { recursive: true });
    await Deno.writeTextFile(
      join(dir, ".floe", "state", "prod", "skip.json"),
      "{}",
    );
    const cleared = await runAgent(["state", "clear", "--project-dir", dir]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /cleared the kept state of prod/);
    assert.equal(
      await Deno.stat(join(dir, ".floe", "state", "prod")).then(
        () => true,
        () => false,
      ),
      false,
    );
    const bad = await runAgent(["state", "forget", "--project-dir", dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /FLOE-DBT-E010.*state clear/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("skip-unchanged: the CLI flag and the job field", () => {
  const args = parseCli(["build", "--skip-unchanged", "--project-dir", "."]);
  assert.equal(args.skipUnchanged, true);
  assert.equal(parseCli(["build", "--project-dir", "."]).skipUnchanged, false);
  const req = JobRequestSchema.parse({
    command: "run",
    project_dir: "/p",
    skip_unchanged: true,
  });
  assert.equal(req.skip_unchanged, true);
  assert.equal(
    JobRequestSchema.safeParse({
      command: "run",
      project_dir: "/p",
      skip_unchanged: "yes",
    }).success,
    false,
  );
});

Deno.test("skip-unchanged: a job where dbt did not run keeps its manifest and no run results", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-skip-store-" });
  try {
    await Deno.mkdir(join(dir, "target"));
    const manifest = join(dir, "target", "floe_parsed_manifest.json");
    await Deno.writeTextFile(manifest, '{"nodes":{}}');
    const store = new ArtifactStore(join(dir, "artifacts"));
    const kept = await store.keep(
      "job-1",
      {
        success: true,
        manifest_path: manifest,
        run_results_path: "",
        catalog_path: null,
        execution_time_seconds: 0.1,
        models_run: 0,
        tests_run: 0,
        failures: 0,
        metadata: { reused: ["model.p.a"] },
      },
      [],
      dir,
    ) as RunResult;
    assert.equal(kept.run_results_path, "");
    assert.equal(
      await Deno.readTextFile(kept.manifest_path),
      '{"nodes":{}}',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "skip-unchanged on Postgres (dbt-core): the fingerprint sees appended rows; unchanged is reused",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using pg = await startPostgres();
    const dir = await Deno.makeTempDir({ prefix: "floe-skip-pg-" });
    const rt = stack();
    try {
      await pg.sql(
        "create schema raw; create table raw.items (id int, name text); insert into raw.items values (1, 'a'), (2, 'b');",
      );
      await writeFile(
        dir,
        "dbt_project.yml",
        "name: pg_skip\nversion: '1.0.0'\nconfig-version: 2\nprofile: pg_skip\nmodels:\n  pg_skip:\n    +materialized: table\n",
      );
      await writeFile(
        dir,
        "profiles.yml",
        `pg_skip:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: 127.0.0.1\n      port: ${pg.port}\n      user: ${pg.user}\n      password: ""\n      dbname: postgres\n      schema: floe\n      threads: 1\n`,
      );
      await writeFile(
        dir,
        "models/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: items\n",
      );
      await writeFile(
        dir,
        "models/items_upper.sql",
        "select id, upper(name) as name from {{ source('raw', 'items') }}\n",
      );
      await writeFile(
        dir,
        "models/item_count.sql",
        "select count(*) as n from {{ ref('items_upper') }}\n",
      );
      const ref = { projectDir: dir, profilesDir: dir };
      await build(rt, ref);
      const same = await build(rt, ref, { skipUnchanged: true });
      assert.deepEqual(same.metadata.rebuilt, {});
      assert.deepEqual((same.metadata.reused as string[]).sort(), [
        "model.pg_skip.item_count",
        "model.pg_skip.items_upper",
      ]);
      assert.equal(
        (same.metadata.skip_unchanged as {
          data_versions: Record<string, { method: string }>;
        }).data_versions["source.pg_skip.raw.items"]!.method,
        "fingerprint",
      );
      await pg.sql("insert into raw.items values (3, 'c')");
      const r = await build(rt, ref, { skipUnchanged: true });
      assert.deepEqual(r.metadata.rebuilt, {
        "model.pg_skip.items_upper":
          "source data changed: source.pg_skip.raw.items",
        "model.pg_skip.item_count":
          "upstream rebuilt: model.pg_skip.items_upper",
      });
      assert.equal(await pg.sql("select n from floe.item_count"), "3");
    } finally {
      await rt.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
