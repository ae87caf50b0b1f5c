/**
 * A project whose `.sqlfluff` names `templater = dbt-cloud` (dbt Cloud's IDE
 * templater, as dbt Labs' jaffle-shop does): open-source SQLFluff has no such
 * templater, so the local runtime lints with the dbt templater and says so in
 * a warning, keeping the project's other settings. Real SQLFluff and dbt-core
 * on a copy of the example with a `.sqlfluff` shaped like jaffle-shop's.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import type { ProgressEvent } from "../src/contract/schemas.ts";
import { copyExample, runAgent, writeFile } from "./_helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** jaffle-shop's `.sqlfluff`, with the duckdb dialect and a shorter line. */
const SQLFLUFF = `[sqlfluff]
dialect = duckdb
templater = dbt-cloud
runaway_limit = 10
max_line_length = 60
indent_unit = space

[sqlfluff:indentation]
tab_space_size = 4

[sqlfluff:layout:type:comma]
spacing_before = touch
line_position = trailing

[sqlfluff:rules:capitalisation.keywords]
capitalisation_policy = lower

[sqlfluff:rules:capitalisation.functions]
capitalisation_policy = lower

[sqlfluff:rules:ambiguous.column_references]  # Number in group by
group_by_and_order_by_style = implicit
`;

/**
 * Clean under SQLFluff's defaults (keywords consistently upper case, lines
 * under 80), but not under the project's settings: keywords must be lower
 * case (CP01), and line 5 (67 characters) is longer than 60 (LT05).
 */
const MODEL = `SELECT
    order_id,
    status
FROM {{ ref('stg_orders') }}
WHERE status = 'placed' AND order_id > 100 AND status != 'returned'
`;

const SELECT = ["models/upper_style.sql"];

Deno.test(
  "lint: templater = dbt-cloud is linted with the open-source dbt templater, with a warning; the other settings apply",
  opts,
  async (t) => {
    await using copy = await copyExample("floe-lint-dbt-cloud-");
    await writeFile(copy.dir, ".sqlfluff", SQLFLUFF);
    await writeFile(copy.dir, "models/upper_style.sql", MODEL);
    const project = { projectDir: copy.dir, profilesDir: copy.dir };

    await t.step("local runtime (real SQLFluff)", async () => {
      const rt = new LocalRuntime();
      const events: ProgressEvent[] = [];
      try {
        const r = await rt.lintProject(project, {
          select: SELECT,
          onEvent: (e) => events.push(e),
        });
        const found = r.issues.map((i) =>
          `${i.line}:${i.column} ${i.rule_code}`
        );
        // The project's capitalisation policy (lower) applies...
        assert.ok(found.includes("1:1 CP01"), found.join(", "));
        assert.ok(found.includes("4:1 CP01"), found.join(", "));
        const cp01 = r.issues.find((i) => i.rule_code === "CP01")!;
        assert.match(cp01.message, /lower case/);
        // ...and so does its max_line_length (60, not the default 80).
        const lt05 = r.issues.find((i) => i.rule_code === "LT05");
        assert.ok(lt05, found.join(", "));
        assert.equal(lt05.line, 5);
        assert.match(lt05.message, /\(67 > 60\)/);
        assert.equal(r.passed, false);
        const warns = events.filter((e) =>
          e.type === "log" && e.level === "warn"
        );
        assert.equal(warns.length, 1, JSON.stringify(events));
        const w = warns[0]!;
        assert.ok(w.type === "log");
        assert.match(w.message, /templater = dbt-cloud/);
        assert.match(w.message, /open-source 'dbt' templater/);
      } finally {
        await rt.close();
      }
    });

    await t.step("the CLI prints the warning and the findings", async () => {
      const out = await runAgent([
        "lint",
        "--project-dir",
        copy.dir,
        "--profiles-dir",
        copy.dir,
        "-s",
        SELECT[0]!,
      ]);
      assert.equal(out.code, 1, out.stderr);
      assert.match(out.stderr, /warn: .*templater = dbt-cloud/);
      assert.doesNotMatch(out.stderr + out.stdout, /E004/);
      assert.match(out.stdout, /LT05 {2}Line is too long \(67 > 60\)/);
    });

    await t.step(
      "fusion runtime (its own lint reads the same file)",
      async () => {
        const rt = new FusionRuntime();
        try {
          const r = await rt.lintProject(project, { select: SELECT });
          const cp01 = r.issues.filter((i) => i.rule_code === "CP01");
          assert.ok(cp01.some((i) => i.line === 1), JSON.stringify(r.issues));
          assert.match(cp01[0]!.message, /Lower/);
        } finally {
          await rt.close();
        }
      },
    );
  },
);
