import assert from "node:assert/strict";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { parseSqlfluffReport } from "../runtimes/local/lint.ts";
import { SQLFLUFF_DIALECTS, sqlfluffDialect } from "../src/dbt/dialects.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import { LintResultSchema } from "../src/contract/schemas.ts";
import { copyExample, runAgent, writeFile } from "./_helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const BAD =
  "SELECT order_id,status from {{ ref('stg_orders') }}\nwhere status = 'placed'\n";

Deno.test(
  "lint: real SQLFluff finds rule violations at their lines, fix repairs them",
  opts,
  async (t) => {
    await using copy = await copyExample();
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    const rt = new LocalRuntime();
    // A project file named like the module SQLFluff runs from: never imported.
    const marker = `${copy.dir}/shadowed`;
    await writeFile(
      copy.dir,
      "sqlfluff.py",
      `open(${JSON.stringify(marker)}, "w").write("imported")\n`,
    );
    try {
      await t.step("a clean model passes", async () => {
        const r = await rt.lintProject(project, {
          select: ["models/staging/stg_customers.sql"],
        });
        LintResultSchema.parse(r);
        assert.equal(r.passed, true);
        assert.equal(r.total_issues, 0);
        assert.equal(
          await Deno.lstat(marker).then(() => true, () => false),
          false,
          "the project's sqlfluff.py was not imported",
        );
      });

      await t.step(
        "a model with known violations yields the expected codes and positions",
        async () => {
          await writeFile(copy.dir, "models/bad_style.sql", BAD);
          const r = await rt.lintProject(project, {
            select: ["models/bad_style.sql"],
          });
          assert.equal(r.passed, false);
          const found = r.issues.map((i) =>
            `${i.file_path}:${i.line}:${i.column} ${i.rule_code}`
          );
          assert.deepEqual(found, [
            "models/bad_style.sql:1:1 LT09",
            "models/bad_style.sql:1:17 LT01",
            "models/bad_style.sql:1:24 CP01",
            "models/bad_style.sql:2:1 CP01",
          ]);
          assert.equal(r.errors, 4);
          assert.equal(r.total_issues, 4);
        },
      );

      await t.step(
        "fix rewrites the file and a second lint passes",
        async () => {
          const r = await rt.lintProject(project, {
            select: ["models/bad_style.sql"],
            fix: true,
          });
          assert.equal(r.passed, true, JSON.stringify(r.issues));
          const fixed = await Deno.readTextFile(
            `${copy.dir}/models/bad_style.sql`,
          );
          assert.notEqual(fixed, BAD);
          assert.match(fixed, /^SELECT\n {4}order_id,\n {4}status\nFROM/);
          const again = await rt.lintProject(project, {
            select: ["models/bad_style.sql"],
          });
          assert.equal(again.passed, true);
        },
      );

      await t.step(
        "the project's .sqlfluff applies (a rule excluded there is not reported)",
        async () => {
          await writeFile(copy.dir, "models/bad_style.sql", BAD);
          await writeFile(
            copy.dir,
            ".sqlfluff",
            "[sqlfluff]\nexclude_rules = CP01, LT09\n",
          );
          const r = await rt.lintProject(project, {
            select: ["models/bad_style.sql"],
          });
          assert.deepEqual(r.issues.map((i) => i.rule_code), ["LT01"]);
        },
      );

      await t.step(
        "a broken .sqlfluff is E004 with SQLFluff's message, no stack",
        async () => {
          await writeFile(copy.dir, ".sqlfluff", "[sqlfluff\nrules =\n");
          await assert.rejects(() => rt.lintProject(project), (e: unknown) => {
            assert.ok(e instanceof FloeDbtError);
            assert.equal(e.code, "FLOE-DBT-E004");
            assert.match(e.message, /MissingSectionHeaderError/);
            assert.doesNotMatch(e.message, /Traceback|File ".*\.py", line/);
            return true;
          });
          await Deno.remove(`${copy.dir}/.sqlfluff`);
        },
      );

      await t.step(
        "an unknown adapter type is E003 naming it and the known ones",
        async () => {
          const good = await Deno.readTextFile(`${copy.dir}/profiles.yml`);
          await Deno.writeTextFile(
            `${copy.dir}/profiles.yml`,
            good.replace("type: duckdb", "type: mongo"),
          );
          await assert.rejects(() => rt.lintProject(project), (e: unknown) => {
            assert.ok(e instanceof FloeDbtError);
            assert.equal(e.code, "FLOE-DBT-E003");
            assert.match(e.message, /adapter type 'mongo'/);
            assert.match(e.hint ?? "", /duckdb, postgres, snowflake/);
            return true;
          });
          await Deno.writeTextFile(`${copy.dir}/profiles.yml`, good);
        },
      );
    } finally {
      await rt.close();
    }
  },
);

Deno.test(
  "lint: the CLI groups findings by file, exits 1, and --json prints the LintResult",
  opts,
  async () => {
    await using copy = await copyExample();
    await writeFile(copy.dir, "models/bad_style.sql", BAD);
    const text = await runAgent([
      "lint",
      "--project-dir",
      copy.dir,
      "-s",
      "models/bad_style.sql",
    ]);
    assert.equal(text.code, 1);
    assert.match(
      text.stdout,
      /== models\/bad_style\.sql\nmodels\/bad_style\.sql:1:1 {2}LT09 {2}Select targets/,
    );
    assert.match(
      text.stdout,
      /Lint failed: 4 issues \(4 errors, 0 warnings\) in 1 file/,
    );
    const json = await runAgent([
      "lint",
      "--project-dir",
      copy.dir,
      "-s",
      "models/staging",
      "--json",
    ]);
    assert.equal(json.code, 0, json.stderr);
    const r = LintResultSchema.parse(JSON.parse(json.stdout));
    assert.equal(r.passed, true);
  },
);

Deno.test("lint: dialect mapping covers the required adapters; duckdb maps to duckdb", () => {
  assert.equal(sqlfluffDialect("duckdb"), "duckdb");
  const required = {
    postgres: "postgres",
    snowflake: "snowflake",
    bigquery: "bigquery",
    redshift: "redshift",
    databricks: "databricks",
    spark: "sparksql",
    trino: "trino",
    athena: "athena",
    clickhouse: "clickhouse",
    sqlserver: "tsql",
    fabric: "tsql",
    oracle: "oracle",
    mysql: "mysql",
    sqlite: "sqlite",
    exasol: "exasol",
    vertica: "vertica",
    teradata: "teradata",
  };
  for (const [type, dialect] of Object.entries(required)) {
    assert.equal(SQLFLUFF_DIALECTS[type], dialect, type);
  }
});

Deno.test("lint: SQLFluff's JSON report becomes issues with project-relative paths and severities", () => {
  const report = JSON.stringify([{
    filepath: "models/a.sql",
    violations: [
      {
        start_line_no: 3,
        start_line_pos: 5,
        code: "LT01",
        description: "Bad space.",
        warning: false,
      },
      {
        start_line_no: 7,
        start_line_pos: 1,
        code: "AM04",
        description: "Unknown columns.",
        warning: true,
      },
    ],
  }]);
  const issues = parseSqlfluffReport(report, "/proj");
  assert.deepEqual(
    issues.map((i) => [i.file_path, i.line, i.column, i.severity, i.rule_code]),
    [
      ["models/a.sql", 3, 5, "error", "LT01"],
      ["models/a.sql", 7, 1, "warning", "AM04"],
    ],
  );
});

Deno.test("lint: a selector outside the project is refused (E011) before SQLFluff runs", async () => {
  await using copy = await copyExample();
  const rt = new LocalRuntime();
  try {
    for (const sel of ["../", "/etc", "models/../../elsewhere"]) {
      await assert.rejects(
        () =>
          rt.lintProject({ projectDir: copy.dir, profilesDir: copy.dir }, {
            select: [sel],
            fix: true,
          }),
        (e: unknown) =>
          e instanceof FloeDbtError && e.code === "FLOE-DBT-E011" &&
          e.message.includes(sel),
      );
    }
  } finally {
    await rt.close();
  }
});
