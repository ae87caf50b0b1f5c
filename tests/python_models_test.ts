/**
 * A Python orchestrator's view: real results of every runtime, read from the
 * CLI's `--json` and from the daemon's HTTP API, validate against Pydantic v2
 * models written from the seed (tests/python/seed_models.py: ADR-0043's
 * DBTRunResult, LintIssue, ProjectLintResult), run with the dbt-core venv's
 * Python (dbt-core depends on Pydantic v2).
 */
import assert from "node:assert/strict";
import { firstExisting, venvCandidates } from "../src/os/paths.ts";
import type { Job } from "../src/jobs/schemas.ts";
import { startDaemonProcess, waitJob } from "./_daemon.ts";
import { copyExample, ROOT, runAgent } from "./_helpers.ts";
import { join } from "./_path.ts";
import { realBuildArtifacts, staticExecutor } from "./cloud/executors.ts";
import { FakeDbtCloud } from "./cloud/fake_server.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const CHECKER = join(ROOT, "tests", "python", "seed_models.py");

type Kind = "run_result" | "lint_result";

/** Run the Pydantic checker on one JSON document. */
async function check(
  kind: Kind,
  json: string,
): Promise<{ code: number; stderr: string }> {
  const python = firstExisting(venvCandidates("dbt-core", "python"));
  assert.ok(python, "the dbt-core venv's Python (scripts/setup makes it)");
  const child = new Deno.Command(python, {
    args: [CHECKER, kind],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(json));
  await writer.close();
  const out = await child.output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Assert that the seed's model accepts `json`. */
async function assertValid(kind: Kind, json: string, what: string) {
  const r = await check(kind, json);
  assert.equal(r.code, 0, `${what} is a valid ${kind}:\n${r.stderr}\n${json}`);
}

/** The CLI's `--json` stdout for one command (exit 0 or 1, never 2). */
async function cliJson(
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const r = await runAgent([...args, "--json", "--quiet"], { env });
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  const line = r.stdout.trim();
  assert.ok(line.startsWith("{"), `JSON on stdout: ${r.stdout} ${r.stderr}`);
  return line;
}

Deno.test(
  "seed models: the checker refuses drifted results (wrong type, extra field, missing field, bad severity)",
  async () => {
    const good = {
      success: true,
      manifest_path: "/p/target/manifest.json",
      run_results_path: "/p/target/run_results.json",
      catalog_path: null,
      execution_time_seconds: 1.5,
      models_run: 5,
      tests_run: 14,
      failures: 0,
      metadata: { runtime: "local" },
    };
    await assertValid("run_result", JSON.stringify(good), "a seed result");
    const { models_run: _, ...missing } = good;
    for (
      const bad of [
        { ...good, models_run: "5" },
        { ...good, success: 1 },
        { ...good, catalog_path: 3 },
        { ...good, exit_code: 0 },
        missing,
      ]
    ) {
      const r = await check("run_result", JSON.stringify(bad));
      assert.equal(r.code, 1, `refused: ${JSON.stringify(bad)}`);
      assert.match(r.stderr, /not a valid DBTRunResult/);
    }
    const issue = {
      file_path: "models/a.sql",
      line: 1,
      column: 1,
      severity: "warning",
      rule_code: "LT01",
      message: "m",
    };
    const lint = {
      total_issues: 1,
      errors: 0,
      warnings: 1,
      infos: 0,
      issues: [issue],
      passed: true,
    };
    await assertValid("lint_result", JSON.stringify(lint), "a lint result");
    for (
      const bad of [
        { ...lint, issues: [{ ...issue, severity: "critical" }] },
        { ...lint, passed: false },
        { ...lint, issues: [{ ...issue, line: "1" }] },
      ]
    ) {
      const r = await check("lint_result", JSON.stringify(bad));
      assert.equal(r.code, 1, `refused: ${JSON.stringify(bad)}`);
      assert.match(r.stderr, /not a valid ProjectLintResult/);
    }
  },
);

for (const runtime of ["local", "fusion"]) {
  Deno.test(
    `seed models: ${runtime} results from the CLI's --json (build, failing run, lint) validate`,
    opts,
    async () => {
      await using copy = await copyExample();
      const project = [
        "--runtime",
        runtime,
        "--project-dir",
        copy.dir,
        "--profiles-dir",
        copy.dir,
      ];
      const build = await cliJson(["build", ...project]);
      assert.equal(JSON.parse(build).success, true, build);
      await assertValid("run_result", build, `${runtime} build`);

      await Deno.writeTextFile(
        join(copy.dir, "models", "broken_cast.sql"),
        "{{ config(materialized='table') }}\nselect cast('x' as integer) as id\n",
      );
      const failed = await cliJson(["run", ...project, "-s", "broken_cast"]);
      assert.equal(JSON.parse(failed).success, false, failed);
      await assertValid("run_result", failed, `${runtime} failing run`);
      await Deno.remove(join(copy.dir, "models", "broken_cast.sql"));

      const lint = await cliJson(["lint", ...project]);
      await assertValid("lint_result", lint, `${runtime} lint`);
    },
  );
}

Deno.test(
  "seed models: cloud results from the CLI's --json (against the stand-in dbt Cloud) validate",
  opts,
  async () => {
    const token = `dbtc_${crypto.randomUUID().replaceAll("-", "")}`;
    const ref = `seed_models_${crypto.randomUUID().slice(0, 8)}`;
    await using server = new FakeDbtCloud(
      42,
      token,
      staticExecutor(await realBuildArtifacts()),
    );
    server.jobs.set(101, ["dbt build"]);
    const dir = await Deno.makeTempDir({ prefix: "floe-seed-models-" });
    try {
      await Deno.mkdir(join(dir, "proj"));
      await Deno.writeTextFile(
        join(dir, "manifest.yaml"),
        `plugins:
  dbt_runtime: cloud
  dbt_runtime_config:
    cloud:
      account_id: 42
      api_token_ref: ${ref}
      base_url: ${server.url}
      job_ids: { run: 101, build: 101 }
      poll_interval_seconds: 0.05
      max_poll_interval_seconds: 0.2
`,
      );
      const env = {
        [`FLOE_SECRET_${ref.toUpperCase()}`]: token,
        FLOE_DBT_CACHE_DIR: join(dir, "cache"),
      };
      const proj = join(dir, "proj");
      const build = await cliJson([
        "build",
        "--config",
        join(dir, "manifest.yaml"),
        "--project-dir",
        proj,
      ], env);
      assert.equal(JSON.parse(build).success, true, build);
      await assertValid("run_result", build, "cloud build");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "seed models: job results from the daemon's HTTP API (run, lint) validate",
  opts,
  async () => {
    await using copy = await copyExample();
    const state = await Deno.makeTempDir({ prefix: "floe-seed-models-" });
    const tokenFile = join(state, "token");
    const token = `seed-models-${crypto.randomUUID()}`;
    await Deno.writeTextFile(tokenFile, token);
    const d = await startDaemonProcess([
      "--runtime",
      "local",
      "--project-root",
      copy.dir,
      "--state-dir",
      join(state, "state"),
      "--token-file",
      tokenFile,
    ]);
    const headers = { authorization: `Bearer ${token}` };
    try {
      assert.ok(d.url, `the daemon listens: ${d.logs()}`);
      for (
        const [command, kind] of [["build", "run_result"], [
          "lint",
          "lint_result",
        ]] as const
      ) {
        const res = await fetch(`${d.url}/v1/jobs`, {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body: JSON.stringify({ command, project_dir: copy.dir }),
        });
        const submitted = await res.json() as Job;
        assert.ok(res.ok, JSON.stringify(submitted));
        const job = await waitJob(d, submitted.id, [
          "succeeded",
          "failed",
          "cancelled",
          "interrupted",
        ]);
        assert.ok(
          job.result,
          `${command} job has a result: ${JSON.stringify(job)}`,
        );
        await assertValid(
          kind,
          JSON.stringify(job.result),
          `HTTP ${command} job`,
        );
      }
    } finally {
      d.child.kill("SIGTERM");
      await d.exit();
      await Deno.remove(state, { recursive: true });
    }
  },
);
