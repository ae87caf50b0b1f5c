import assert from "node:assert/strict";
import { FloeDbtError } from "../src/contract/errors.ts";
import { CloudRuntime } from "../runtimes/cloud/mod.ts";
import { CloudConfigSchema } from "../src/config/config.ts";
import { join } from "./_path.ts";
import { runAgent } from "./_helpers.ts";
import { ACCOUNT, cloudSetup, RUN_JOB } from "./cloud/setup.ts";

const triggers = /\/jobs\/\d+\/run\/$/;
const isCode = (code: string) => (e: unknown) =>
  e instanceof FloeDbtError && e.code === code;

Deno.test("--target is sent as target_name_override and threads as threads_override", async () => {
  await using s = await cloudSetup();
  const r = await s.runtime.runModels(
    { ...s.project, target: "prod" },
    {},
    { threads: 8 },
  );
  const body = s.server.calls(triggers)[0]!.body as Record<string, unknown>;
  assert.equal(body.target_name_override, "prod");
  assert.equal(body.threads_override, 8);
  assert.equal(r.metadata.target_name_override, "prod");
  assert.equal(r.metadata.threads_override, 8);
  await s.runtime.runModels(s.project);
  const plain = s.server.calls(triggers)[1]!.body as Record<string, unknown>;
  assert.equal("target_name_override" in plain, false);
  assert.equal("threads_override" in plain, false);
});

Deno.test("with no selection the job's own steps run (no steps_override)", async () => {
  await using s = await cloudSetup();
  s.server.jobs.set(RUN_JOB, ["dbt seed", "dbt run"]);
  const r = await s.runtime.runModels(s.project);
  const body = s.server.calls(triggers)[0]!.body as Record<string, unknown>;
  assert.equal("steps_override" in body, false);
  assert.equal(r.metadata.steps_override, null);
  const run = [...s.server.runs.values()][0]!;
  assert.equal(run.steps, null, "dbt Cloud ran the job's own steps");
});

Deno.test("a chosen profiles_dir is refused for cloud with E010, before any request", async () => {
  await using s = await cloudSetup();
  const ref = { ...s.project, profilesDirGiven: true };
  for (
    const call of [
      () => s.runtime.runModels(ref),
      () => s.runtime.getManifest(ref),
      () => s.runtime.getRunResults(ref),
    ]
  ) {
    await assert.rejects(call, (e: unknown) => {
      assert.ok(isCode("FLOE-DBT-E010")(e));
      const err = e as FloeDbtError;
      assert.match(
        err.message,
        /profiles_dir '.*' cannot be used with the cloud runtime/,
      );
      assert.match(err.hint!, /--target/);
      return true;
    });
  }
  assert.equal(s.server.requests.length, 0);
});

Deno.test("execution_time_seconds is the call's wall time; dbt's own is metadata.dbt_elapsed_seconds", async () => {
  await using s = await cloudSetup({
    poll_interval_seconds: 5,
    max_poll_interval_seconds: 60,
  });
  const r = await s.runtime.runModels(s.project);
  // Fake time: the polls waited 5 s + 10 s; nothing else advances the clock.
  assert.equal(r.execution_time_seconds, 15);
  const rr = JSON.parse(await Deno.readTextFile(r.run_results_path));
  assert.equal(r.metadata.dbt_elapsed_seconds, rr.elapsed_time);
  assert.notEqual(r.execution_time_seconds, rr.elapsed_time);
});

Deno.test("base_url and discovery_url must be https unless loopback (E003)", async () => {
  await using s = await cloudSetup();
  // The runtime checks again what the config schema already refuses, for
  // a config built in code.
  const config = (extra: Record<string, unknown>) =>
    ({ ...s.runtime.config, ...extra }) as typeof s.runtime.config;
  for (
    const [key, url] of [
      ["base_url", "http://ab123.us1.dbt.com"],
      ["base_url", "ftp://ab123.us1.dbt.com"],
      ["discovery_url", "http://metadata.cloud.getdbt.com/graphql"],
    ]
  ) {
    assert.equal(
      CloudConfigSchema.safeParse({ ...s.runtime.config, [key!]: url })
        .success,
      false,
      `the config schema refuses ${key} ${url}`,
    );
    assert.throws(
      () => new CloudRuntime(config({ [key!]: url })),
      (e: unknown) =>
        isCode("FLOE-DBT-E003")(e) &&
        (e as Error).message.includes(`${key} must use https`) &&
        (e as Error).message.includes(url!),
    );
  }
  for (
    const ok of [
      "https://ab123.us1.dbt.com",
      "http://localhost:8080",
      "http://127.0.0.1:1",
      "http://[::1]:9",
    ]
  ) {
    new CloudRuntime(
      CloudConfigSchema.parse({ ...s.runtime.config, base_url: ok }),
    );
  }
});

Deno.test("floe-dbt run --runtime cloud: --target reaches dbt Cloud, --profiles-dir is refused with exit 2", async () => {
  await using s = await cloudSetup();
  const dir = s.project.projectDir;
  await Deno.writeTextFile(
    join(dir, "manifest.yaml"),
    `plugins:\n  dbt_runtime: cloud\n  dbt_runtime_config:\n    cloud:\n      account_id: ${ACCOUNT}\n      api_token_ref: ${s.ref}\n      base_url: ${s.server.url}\n      job_ids: { run: ${RUN_JOB} }\n      poll_interval_seconds: 0.01\n      max_poll_interval_seconds: 0.02\n`,
  );
  const env = { [`FLOE_SECRET_${s.ref.toUpperCase()}`]: s.token };
  const run = await runAgent(
    ["run", "--project-dir", dir, "--json", "--target", "prod"],
    { cwd: dir, env },
  );
  assert.equal(run.code, 0, run.stderr);
  const body = s.server.calls(triggers)[0]!.body as Record<string, unknown>;
  assert.equal(body.target_name_override, "prod");
  assert.equal("steps_override" in body, false);
  const refused = await runAgent(
    ["run", "--project-dir", dir, "--profiles-dir", dir],
    { cwd: dir, env },
  );
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /FLOE-DBT-E010/);
  assert.match(refused.stderr, /cannot be used with the cloud runtime/);
  assert.equal(s.server.calls(triggers).length, 1, "nothing triggered");
});
