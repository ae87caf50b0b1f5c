/**
 * One fake dbt Cloud plus a CloudRuntime pointed at it, with fake time and
 * zero jitter; `await using` tears both down, and then checks every request
 * the client sent against the Admin API v2 document (answers are checked in
 * cloud_spec_test.ts, since some tests inject malformed ones on purpose).
 *
 * @module
 */
import { CloudRuntime } from "../../runtimes/cloud/mod.ts";
import { CloudConfigSchema } from "../../src/config/config.ts";
import type { ProjectRef } from "../../src/contract/runtime.ts";
import { realBuildArtifacts, staticExecutor } from "./executors.ts";
import { FakeDbtCloud } from "./fake_server.ts";
import { fakeClock } from "./fake_clock.ts";
import { loadSpec, validateRecorded } from "./openapi.ts";

/** Account and jobs of the fake. */
export const ACCOUNT = 42;
/** The run job (its own steps: `dbt run`). */
export const RUN_JOB = 101;

/** A server, a runtime, fake time and a project dir for the cache. */
export async function cloudSetup(
  config: Record<string, unknown> = {},
  baseSuffix = "",
) {
  const token = `dbtc_SECRET_${crypto.randomUUID().replaceAll("-", "")}`;
  const ref = `cloud_test_${crypto.randomUUID().slice(0, 8)}`;
  Deno.env.set(`FLOE_SECRET_${ref.toUpperCase()}`, token);
  const artifacts = await realBuildArtifacts();
  const server = new FakeDbtCloud(ACCOUNT, token, staticExecutor(artifacts));
  server.jobs.set(RUN_JOB, ["dbt run"]);
  const time = fakeClock();
  const logs: string[] = [];
  const projectDir = await Deno.makeTempDir({ prefix: "floe-cloud-test-" });
  const runtime = new CloudRuntime(
    CloudConfigSchema.parse({
      account_id: ACCOUNT,
      api_token_ref: ref,
      base_url: server.url + baseSuffix,
      job_ids: { run: RUN_JOB },
      ...config,
    }),
    {
      clock: time.clock,
      random: () => 0,
      logger: (l, m) => logs.push(`${l}: ${m}`),
    },
  );
  const project: ProjectRef = { projectDir, profilesDir: projectDir };
  return {
    token,
    ref,
    artifacts,
    server,
    time,
    logs,
    runtime,
    project,
    async [Symbol.asyncDispose]() {
      await runtime.close();
      await server[Symbol.asyncDispose]();
      Deno.env.delete(`FLOE_SECRET_${ref.toUpperCase()}`);
      await Deno.remove(projectDir, { recursive: true }).catch(() => {});
      const doc = await loadSpec();
      const errors = server.requests
        .filter((r) => r.path.startsWith("/api/v2/"))
        .flatMap((r) => validateRecorded(doc, { ...r, response: undefined }));
      if (errors.length) {
        throw new Error(
          `requests off the Admin API v2 spec:\n${errors.join("\n")}`,
        );
      }
    },
  };
}
