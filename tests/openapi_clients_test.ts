/**
 * docs/openapi.json works with clients nobody here wrote: openapi-python-client
 * (pinned in requirements/openapi.lock, .venv/openapi) generates a Python
 * client from it with no warning, pip installs it into a temp dir, and it
 * drives a real daemon (tests/openapi/drive_python_client.py): a build of the
 * example read back as a parsed Job, the job list, run_results, submit and
 * cancel. openapi-typescript (.tools/openapi-typescript) writes TypeScript
 * types that a small fetch client (tests/openapi/typed_client.ts) type-checks
 * against and runs with; a wrong field or value fails `deno check`.
 * `scripts/setup --tests` installs both generators.
 *
 * @module
 */
import assert from "node:assert/strict";
import { copyExample, ROOT, writeFile } from "./_helpers.ts";
import { type DaemonProcess, startDaemonProcess } from "./_daemon.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const OPENAPI = join(ROOT, "docs", "openapi.json");
const VENV = join(ROOT, ".venv", "openapi");
const OPENAPI_TS = join(
  ROOT,
  ".tools",
  "openapi-typescript",
  "node_modules",
  ".bin",
  "openapi-typescript",
);

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Run a command; its exit code and its stdout and stderr together. */
async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...(options.env ?? {}) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** A daemon serving a fresh copy of the example (token in its state dir). */
async function daemonWithExample(): Promise<{
  d: DaemonProcess;
  project: string;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const copy = await copyExample("floe-openapi-clients-");
  const state = await Deno.makeTempDir({ prefix: "floe-openapi-state-" });
  const d = await startDaemonProcess([
    "--project-root",
    copy.dir,
    "--state-dir",
    state,
  ]);
  assert.ok(d.url, `the daemon listens: ${d.logs()}`);
  assert.ok(d.token, "the daemon's token is known");
  return {
    d,
    project: copy.dir,
    async [Symbol.asyncDispose]() {
      d.child.kill("SIGTERM");
      await d.exit();
      await copy[Symbol.asyncDispose]();
      await Deno.remove(state, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test(
  "OpenAPI clients: openapi-python-client generates a client with no warning; installed, it builds, reads the Job, lists, fetches run_results and cancels on a real daemon",
  opts,
  async () => {
    const generator = join(VENV, "bin", "openapi-python-client");
    assert.ok(
      await exists(generator),
      `${generator} is missing: run scripts/setup --tests`,
    );
    const tmp = await Deno.makeTempDir({ prefix: "floe-openapi-python-" });
    try {
      // Generate (ruff, which formats the output, is in the same venv).
      const gen = await run(generator, [
        "generate",
        "--path",
        OPENAPI,
        "--meta",
        "setup",
        "--output-path",
        join(tmp, "client"),
        "--fail-on-warning",
      ], { env: { PATH: `${join(VENV, "bin")}:${Deno.env.get("PATH")}` } });
      const said = gen.stdout + gen.stderr;
      assert.equal(gen.code, 0, said);
      assert.doesNotMatch(said, /warning/i, said);
      assert.match(said, /Generating .*client/);
      for (const model of ["job.py", "job_request.py", "job_list.py"]) {
        assert.ok(
          await exists(
            join(tmp, "client", "floe_dbt_agent_client", "models", model),
          ),
          model,
        );
      }
      // Install it (no index: its dependencies are openapi-python-client's).
      const site = join(tmp, "site");
      const pip = await run(join(VENV, "bin", "python"), [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "--target",
        site,
        join(tmp, "client"),
      ]);
      assert.equal(pip.code, 0, pip.stdout + pip.stderr);

      await using w = await daemonWithExample();
      // The model the driver cancels: slow enough to be cancelled running.
      await writeFile(
        w.project,
        "models/slow.sql",
        "select sum(a.range * b.range) as n from range(100000) a cross join range(100000) b\n",
      );
      const drive = await run(join(VENV, "bin", "python"), [
        join(ROOT, "tests", "openapi", "drive_python_client.py"),
        w.d.url,
        w.project,
      ], { env: { PYTHONPATH: site, FLOE_TOKEN: w.d.token! } });
      assert.equal(drive.code, 0, drive.stdout + drive.stderr);
      const seen = JSON.parse(drive.stdout.trim().split("\n").at(-1)!);
      assert.equal(seen.submitted_status, "queued");
      assert.equal(seen.build.status, "succeeded");
      assert.equal(seen.build.success, true);
      assert.equal(seen.build.models_run, 5);
      assert.ok(seen.build.tests_run > 0, JSON.stringify(seen.build));
      assert.ok(seen.listed.includes(seen.job_id));
      assert.ok(seen.listed_succeeded.includes(seen.job_id));
      // The seed, 5 models and the tests, every one a success.
      assert.equal(
        seen.run_results.job_results,
        1 + 5 + seen.build.tests_run,
      );
      assert.equal(
        seen.run_results.project_results,
        seen.run_results.job_results,
      );
      assert.deepEqual(seen.run_results.job_statuses, ["pass", "success"]);
      assert.equal(seen.missing_code, "FLOE-DBT-E012");
      // The cancel went out without a body or a Content-Type, and worked.
      assert.equal(seen.cancel.final_status, "cancelled");
      assert.equal(seen.cancel.error_code, "FLOE-DBT-E008");
      assert.equal(seen.cancel.request.method, "POST");
      assert.equal(seen.cancel.request.content_type, null);
      assert.ok(
        [null, "0"].includes(seen.cancel.request.content_length),
        JSON.stringify(seen.cancel.request),
      );
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "OpenAPI clients: openapi-typescript's types type-check a small fetch client that runs against a real daemon; a wrong value does not check",
  opts,
  async () => {
    assert.ok(
      await exists(OPENAPI_TS),
      `${OPENAPI_TS} is missing: run scripts/setup --tests`,
    );
    const tmp = await Deno.makeTempDir({ prefix: "floe-openapi-ts-" });
    try {
      const gen = await run(OPENAPI_TS, [
        OPENAPI,
        "--output",
        join(tmp, "floe_api.d.ts"),
      ]);
      const said = gen.stdout + gen.stderr;
      assert.equal(gen.code, 0, said);
      assert.doesNotMatch(said, /warn/i, said);
      const types = await Deno.readTextFile(join(tmp, "floe_api.d.ts"));
      assert.match(types, /request: components\["schemas"\]\["JobRequest"\]/);
      const program = join(tmp, "typed_client.ts");
      const source = await Deno.readTextFile(
        join(ROOT, "tests", "openapi", "typed_client.ts"),
      );
      await Deno.writeTextFile(program, source);
      // No deno.json around the temp dir: Deno's defaults (strict).
      const check = (file: string) =>
        run(Deno.execPath(), ["check", "--no-config", "--no-lock", file], {
          cwd: tmp,
        });
      const ok = await check(program);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);

      // The types are real: a command outside the enum and a misspelt
      // field both fail the check.
      const wrong = join(tmp, "wrong.ts");
      await Deno.writeTextFile(
        wrong,
        `import type { components } from "./floe_api.d.ts";\n` +
          `type Job = components["schemas"]["Job"];\n` +
          `const r: components["schemas"]["JobRequest"] = { command: "explode", project_dir: "x" };\n` +
          `const status = (j: Job) => j.stauts;\n` +
          `console.log(r, status);\n`,
      );
      const bad = await check(wrong);
      const badSaid = bad.stdout + bad.stderr;
      assert.notEqual(bad.code, 0, badSaid);
      assert.match(badSaid, /"explode"/);
      assert.match(badSaid, /stauts/);

      await using w = await daemonWithExample();
      const ran = await run(Deno.execPath(), [
        "run",
        "--no-config",
        "--no-lock",
        `--allow-net=${new URL(w.d.url).host}`,
        "--allow-env=FLOE_TOKEN",
        program,
        w.d.url,
        w.project,
      ], { cwd: tmp, env: { FLOE_TOKEN: w.d.token! } });
      assert.equal(ran.code, 0, ran.stdout + ran.stderr);
      const seen = JSON.parse(ran.stdout.trim().split("\n").at(-1)!);
      assert.match(seen.agent_version, /^\d+\.\d+\.\d+/);
      assert.deepEqual(seen.submitted, { status: 202, job: "queued" });
      assert.equal(seen.cancelled.status, 202);
      assert.ok(seen.listed.includes(seen.cancelled.id));
      assert.deepEqual(seen.missing, { status: 404, code: "FLOE-DBT-E012" });
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
);
