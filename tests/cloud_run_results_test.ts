import assert from "node:assert/strict";
import { commandRunResults } from "../runtimes/cloud/facts.ts";

const results = (which: string) =>
  JSON.stringify({ args: { which }, results: [] });
const steps = (...names: string[]) =>
  ["Clone git repository", "Create profile from connection", ...names].map((
    name,
    i,
  ) => ({ index: i + 1, name }));

async function pick(
  command: Parameters<typeof commandRunResults>[0],
  last: string,
  names: string[],
) {
  const asked: number[] = [];
  const got = await commandRunResults(
    command,
    { "run_results.json": results(last) },
    steps(...names),
    (step) => {
      asked.push(step);
      return Promise.resolve(results(`step${step}`));
    },
  );
  return { got, asked };
}

Deno.test("cloud run results: the last step's file when it ran the command; no extra request", async () => {
  const { got, asked } = await pick("build", "build", [
    "Invoke dbt with `dbt build`",
  ]);
  assert.deepEqual(asked, []);
  assert.ok("text" in got && JSON.parse(got.text).args.which === "build");
});

Deno.test("cloud run results: after docs generate, the command's own step by its run-step index", async () => {
  const { got, asked } = await pick("run", "generate", [
    "Invoke dbt with `dbt deps`",
    "Invoke dbt with `dbt run --select a`",
    "Invoke dbt with `dbt run-operation grant_all`",
    "Invoke dbt with `dbt docs generate`",
  ]);
  // Index 4: clone, profile, deps, then the run (not the run-operation).
  assert.deepEqual(asked, [4]);
  assert.ok("text" in got);
});

Deno.test("cloud run results: a job ending in run-operation still reports its build step", async () => {
  const { asked } = await pick("build", "run-operation", [
    "Invoke dbt with `dbt build`",
    "Invoke dbt with `dbt run-operation grant_all`",
  ]);
  assert.deepEqual(asked, [3]);
});

Deno.test("cloud run results: a retried run reports the job's building step", async () => {
  const { asked } = await pick("retry", "generate", [
    "Invoke dbt with `dbt build`",
    "Invoke dbt with `dbt docs generate`",
  ]);
  assert.deepEqual(asked, [3]);
});

Deno.test("cloud run results: no step ran the command: a problem, never docs generate's counts", async () => {
  const { got, asked } = await pick("test", "generate", [
    "Invoke dbt with `dbt run-operation x`",
    "Invoke dbt with `dbt docs generate`",
  ]);
  assert.deepEqual(asked, []);
  assert.ok("problem" in got);
  assert.match(got.problem, /no step .* ran dbt test/);
});

Deno.test("cloud run results: docs generate's own command keeps its file", async () => {
  const { got, asked } = await pick("docs-generate", "generate", [
    "Invoke dbt with `dbt docs generate`",
  ]);
  assert.deepEqual(asked, []);
  assert.ok("text" in got);
});

Deno.test("cloud run results: a run mapped to a job that builds reports that build step; a run-operation never counts", async () => {
  const { asked } = await pick("run", "generate", [
    "Invoke dbt with `dbt build`",
    "Invoke dbt with `dbt run-operation grant_all`",
    "Invoke dbt with `dbt docs generate`",
  ]);
  assert.deepEqual(asked, [3]);
  // The job's own building step ran something else than the command: kept.
  const kept = await pick("run", "build", ["Invoke dbt with `dbt build`"]);
  assert.deepEqual(kept.asked, []);
});

Deno.test("cloud run results: a job of dbt run then dbt test, called as run, reports its run step", async () => {
  const { asked } = await pick("run", "test", [
    "Invoke dbt with `dbt run`",
    "Invoke dbt with `dbt test`",
  ]);
  assert.deepEqual(asked, [3]);
});
