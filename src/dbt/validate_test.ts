import assert from "node:assert/strict";
import { FloeDbtError } from "../contract/errors.ts";
import {
  checkCall,
  checkSelector,
  checkTarget,
  checkText,
  selectorProblem,
  selectorTokens,
  targetProblem,
} from "./validate.ts";

const VALID = [
  "stg_orders",
  "tag:nightly",
  "+stg_orders+",
  "2+orders",
  "orders+3",
  "@orders",
  "path:models/staging",
  "models/staging/*.sql?",
  "config.materialized:view",
  "config.meta.owner:data-team",
  "source:jaffle.*",
  "source:jaffle.raw_orders+",
  "state:modified+",
  "state:modified.body",
  "result:error+",
  "source_status:fresher+",
  "stg_orders,tag:x",
  "tag:nightly,config.materialized:table,+orders",
  "resource_type:model",
  "test_type:generic",
  "test_name:unique",
  "package:jaffle_duck",
  "file:stg_orders.sql",
  "fqn:jaffle_duck.staging.*",
  "exposure:weekly_report",
  "metric:revenue",
  "group:finance",
  "access:public",
  "version:latest",
  "semantic_model:orders",
  "saved_query:q1",
  "unit_test:test_orders",
  "wildcard:*",
  "jaffle_duck.staging",
  "modèle_été",
  "*",
];

Deno.test("selectorProblem() accepts dbt's node selection grammar", () => {
  for (const token of VALID) {
    assert.equal(selectorProblem(token), undefined, token);
  }
});

Deno.test("selectorProblem() refuses flags, whitespace, control characters and shell syntax", () => {
  const cases: [string, RegExp][] = [
    ["--target-path", /starts with '-'/],
    ["-x", /starts with '-'/],
    ["--profiles-dir=/tmp/p", /starts with '-'/],
    ["a\nb", /control character U\+000a/],
    ["a\rb", /control character U\+000d/],
    ["a\u0000", /control character U\+0000/],
    ["a\tb", /control character U\+0009/],
    ["a b", /whitespace/],
    ["a\u00a0b", /whitespace/],
    ["a;b", /";"/],
    ["a|b", /"\|"/],
    ["$(id)", /"\$"/],
    ["`id`", /"`"/],
    ["'a'", /"'"/],
    ['"a"', /"\\""/],
    ["a=b", /"="/],
    ["a>b", /">"/],
    ["nope:x", /'nope' is not a dbt selector method/],
    ["config:x", /'config' is not a dbt selector method/],
    ["tag:", /names no node/],
    ["+", /names no node/],
    ["a,,b", /empty part/],
    ["a,", /empty part/],
    ["a+b", /"\+"/],
    ["", /empty/],
  ];
  for (const [token, reason] of cases) {
    const problem = selectorProblem(token);
    assert.ok(problem, `${JSON.stringify(token)} was accepted`);
    assert.match(problem, reason, token);
  }
});

Deno.test("selectorTokens() splits on plain spaces and names the offending token", () => {
  assert.deepEqual(
    selectorTokens(["tag:a  +b", "c"], "--select"),
    ["tag:a", "+b", "c"],
  );
  assert.deepEqual(selectorTokens("x y", "select"), ["x", "y"]);
  assert.deepEqual(selectorTokens(undefined, "select"), []);
  assert.throws(
    () => selectorTokens("stg_orders --target-path /tmp/x", "select"),
    (e: unknown) =>
      e instanceof FloeDbtError && e.code === "FLOE-DBT-E010" &&
      e.message.startsWith(
        'Unsafe select value "--target-path" (in "stg_orders --target-path /tmp/x"): it starts with \'-\'',
      ) && /allowed: dbt node selectors/.test(e.message),
  );
  // A newline is never a separator: the whole value is shown escaped.
  assert.throws(
    () => selectorTokens("a\n--vars", "--exclude"),
    /Unsafe --exclude value "a\\n--vars": it contains the control character U\+000a/,
  );
  const seen: string[] = [];
  assert.deepEqual(selectorTokens("a -b", "select", (m) => seen.push(m)), []);
  assert.equal(seen.length, 1);
});

Deno.test("targetProblem() accepts profile target names only", () => {
  for (const ok of ["dev", "prod-eu_2", "1", "none", "CI"]) {
    assert.equal(targetProblem(ok), undefined, ok);
  }
  for (const bad of ["", "-dev", "dev\nx", "a b", "a.b", "a/b", "a=b"]) {
    assert.ok(targetProblem(bad), bad);
  }
  assert.throws(
    () => checkTarget("dev\nprofiles_dir = /tmp", "--target"),
    /Unsafe --target value "dev\\nprofiles_dir = \/tmp": it contains the control character U\+000a; allowed: a profile target name/,
  );
});

Deno.test("checkText() refuses control characters and keeps other text", () => {
  assert.equal(checkText("/tmp/a b/ü's", "project_dir"), "/tmp/a b/ü's");
  assert.throws(
    () => checkText("/tmp/a\u2028b", "profiles_dir"),
    /Unsafe profiles_dir value "\/tmp\/a\u2028b": it contains the control character U\+2028/,
  );
});

Deno.test("checkCall() checks a runtime call's paths, target and tokens", () => {
  const project = { projectDir: "/p", profilesDir: "/p", target: "dev" };
  checkCall(project, { select: ["tag:x"], exclude: ["@y"] });
  assert.throws(
    () => checkCall(project, { select: ["a b"] }),
    /Unsafe select value "a b": it contains whitespace/,
  );
  assert.throws(
    () => checkCall(project, { exclude: ["--full-refresh"] }),
    /Unsafe exclude value/,
  );
  assert.throws(
    () => checkCall({ ...project, target: "x;y" }),
    /Unsafe target value "x;y"/,
  );
  assert.throws(
    () => checkCall({ ...project, projectDir: "/p\n" }),
    /Unsafe project_dir value/,
  );
  assert.equal(checkSelector("tag:x", "select"), "tag:x");
});
