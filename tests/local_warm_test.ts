import assert from "node:assert/strict";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { copyExample } from "./_helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

type Manifest = {
  nodes: Record<
    string,
    {
      raw_code: string;
      compiled_code?: string;
      description: string;
      schema: string;
      config: { materialized: string };
    }
  >;
  macros: Record<string, { macro_sql: string }>;
};

Deno.test(
  "warm worker: reuses the parsed project, and sees every kind of change",
  opts,
  async (t) => {
    await using copy = await copyExample();
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    const rt = new LocalRuntime();
    const compile = async () => {
      const r = await rt.execute("compile", project);
      assert.equal(r.success, true);
      const manifest = JSON.parse(
        await Deno.readTextFile(r.manifest_path),
      ) as Manifest;
      return { r, manifest };
    };
    const edit = async (rel: string, f: (s: string) => string) => {
      const path = `${copy.dir}/${rel}`;
      const text = await Deno.readTextFile(path);
      const next = f(text);
      assert.notEqual(next, text, `the edit changes ${rel}`);
      await Deno.writeTextFile(path, next);
    };
    try {
      await rt.execute("seed", project);
      await compile();

      await t.step(
        "nothing changed: the parsed manifest is reused",
        async () => {
          const { r } = await compile();
          assert.equal(r.metadata.reused_manifest, true);
          assert.equal(r.metadata.parse_seconds, 0);
        },
      );

      await t.step("a model edit is seen", async () => {
        await edit("models/staging/stg_customers.sql", (s) =>
          s.replace(
            "last_name",
            "last_name,\n    first_name || ' ' || last_name as full_name",
          ));
        const { r, manifest } = await compile();
        assert.equal(r.metadata.reused_manifest, false);
        assert.match(
          manifest.nodes["model.jaffle_duck.stg_customers"]!.compiled_code!,
          /full_name/,
        );
      });

      await t.step("a macro edit is seen", async () => {
        await edit(
          "macros/cents_to_dollars.sql",
          (s) => s.replace("decimal(16, 2)", "decimal(18, 4)"),
        );
        const { r, manifest } = await compile();
        assert.equal(r.metadata.reused_manifest, false);
        assert.match(
          manifest.nodes["model.jaffle_duck.stg_payments"]!.compiled_code!,
          /decimal\(18, 4\)/,
        );
      });

      await t.step("a yml edit is seen", async () => {
        await edit(
          "models/marts/_marts.yml",
          (s) => s.replace("One row per customer", "Each customer once"),
        );
        const { r, manifest } = await compile();
        assert.equal(r.metadata.reused_manifest, false);
        assert.match(
          manifest.nodes["model.jaffle_duck.customers"]!.description,
          /Each customer once/,
        );
      });

      await t.step("a dbt_project.yml edit is seen", async () => {
        await edit(
          "dbt_project.yml",
          (s) => s.replace("+materialized: view", "+materialized: table"),
        );
        const { r, manifest } = await compile();
        assert.equal(r.metadata.reused_manifest, false);
        assert.equal(
          manifest.nodes["model.jaffle_duck.stg_orders"]!.config.materialized,
          "table",
        );
      });

      await t.step("a profiles.yml edit is seen", async () => {
        await edit(
          "profiles.yml",
          (s) => s.replace("threads: 2", "threads: 2\n      schema: analytics"),
        );
        const { r, manifest } = await compile();
        assert.equal(r.metadata.reused_manifest, false);
        assert.equal(
          manifest.nodes["model.jaffle_duck.stg_orders"]!.schema,
          "analytics",
        );
      });

      await t.step("an env var that dbt reads is seen", async () => {
        await edit("models/staging/stg_orders.sql", (s) =>
          s.replace(
            "status",
            'status,\n    \'{{ env_var("FLOE_TEST_REGION", "none") }}\' as region',
          ));
        Deno.env.set("FLOE_TEST_REGION", "eu-west");
        try {
          let { manifest } = await compile();
          assert.match(
            manifest.nodes["model.jaffle_duck.stg_orders"]!.compiled_code!,
            /'eu-west' as region/,
          );
          Deno.env.set("FLOE_TEST_REGION", "us-east");
          const second = await compile();
          manifest = second.manifest;
          assert.equal(second.r.metadata.reused_manifest, false);
          assert.match(
            manifest.nodes["model.jaffle_duck.stg_orders"]!.compiled_code!,
            /'us-east' as region/,
          );
        } finally {
          Deno.env.delete("FLOE_TEST_REGION");
        }
      });
    } finally {
      await rt.close();
    }
  },
);

Deno.test(
  "warm worker: recycled by the invocation limit, results unchanged",
  opts,
  async () => {
    await using copy = await copyExample();
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    const rt = new LocalRuntime({ max_invocations: 2 });
    try {
      const first = await rt.execute("build", project);
      const pid1 = rt.getRuntimeMetadata().worker_pid;
      const second = await rt.execute("build", project);
      const meta = rt.getRuntimeMetadata();
      assert.notEqual(meta.worker_pid, pid1);
      assert.equal(meta.recycles, 1);
      assert.match(
        JSON.stringify(meta.recycle_log),
        /invocation limit 2 reached/,
      );
      for (
        const k of ["success", "models_run", "tests_run", "failures"] as const
      ) {
        assert.equal(second[k], first[k]);
      }
    } finally {
      await rt.close();
    }
  },
);

Deno.test(
  "warm worker: recycled when resident memory passes the ceiling, results unchanged",
  opts,
  async () => {
    await using copy = await copyExample();
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    const rt = new LocalRuntime({ max_rss_mb: 1 });
    try {
      const first = await rt.execute("build", project);
      const second = await rt.execute("build", project);
      const meta = rt.getRuntimeMetadata();
      assert.equal(meta.worker_starts, 2);
      assert.match(
        JSON.stringify(meta.recycle_log),
        /resident memory \d+ MiB over 1 MiB/,
      );
      assert.equal(second.models_run, first.models_run);
      assert.equal(second.tests_run, first.tests_run);
      assert.equal(second.success, true);
    } finally {
      await rt.close();
    }
  },
);

Deno.test(
  "warm worker: a model built on an ephemeral model builds again on the reused manifest (its CTE is injected each time)",
  opts,
  async () => {
    await using copy = await copyExample();
    await Deno.writeTextFile(
      `${copy.dir}/models/eph_orders.sql`,
      "{{ config(materialized='ephemeral') }}\nselect order_id from {{ ref('orders') }}",
    );
    await Deno.writeTextFile(
      `${copy.dir}/models/on_eph.sql`,
      "{{ config(materialized='table') }}\nselect count(*) as n from {{ ref('eph_orders') }}",
    );
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    const rt = new LocalRuntime();
    try {
      const first = await rt.execute("build", project);
      assert.equal(first.success, true, JSON.stringify(first.metadata.errors));
      for (let i = 0; i < 2; i++) {
        const again = await rt.execute("run", project, {
          select: ["on_eph"],
        });
        assert.equal(again.metadata.reused_manifest, true);
        assert.equal(
          again.success,
          true,
          JSON.stringify(again.metadata.errors),
        );
        assert.equal(again.models_run, 1);
      }
      const compiled = await Deno.readTextFile(
        `${copy.dir}/target/compiled/jaffle_duck/models/on_eph.sql`,
      );
      assert.match(compiled, /__dbt__cte__eph_orders as \(/);
      assert.equal(compiled.match(/__dbt__cte__eph_orders as \(/g)!.length, 1);
    } finally {
      await rt.close();
    }
  },
);
