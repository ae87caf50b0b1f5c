/**
 * A daemon's world against the dbt Cloud stand-in: a fake dbt Cloud, a
 * platform manifest.yaml choosing the cloud runtime, the secret in the
 * daemon's environment and the `serve` flags; `await using` tears it down.
 *
 * @module
 */
import { realBuildArtifacts, staticExecutor } from "./executors.ts";
import { FakeDbtCloud } from "./fake_server.ts";

/** The account and the run job of the fake. */
export const ACCOUNT = 42;
/** The run job (its own steps: `dbt run`). */
export const RUN_JOB = 101;

/** What a test may add to the config. */
export interface WorldOptions {
  /** Lines under `plugins:` (e.g. `allow_runtime_override: true`). */
  plugins?: string[];
  /** Lines under `dbt_runtime_config.cloud:` (e.g. `max_parallel: 1`). */
  cloud?: string[];
}

/** Start a fake dbt Cloud and write the daemon's config beside a project. */
export async function cloudDaemonWorld(prefix: string, o: WorldOptions = {}) {
  const token = `dbtc_${crypto.randomUUID().replaceAll("-", "")}`;
  const ref = `${prefix.replaceAll("-", "_")}_${
    crypto.randomUUID().slice(0, 8)
  }`;
  const server = new FakeDbtCloud(
    ACCOUNT,
    token,
    staticExecutor(await realBuildArtifacts()),
  );
  server.jobs.set(RUN_JOB, ["dbt run"]);
  const dir = await Deno.makeTempDir({ prefix: `floe-${prefix}-` });
  await Deno.mkdir(`${dir}/proj`);
  const indent = (pad: string, lines: string[] = []) =>
    lines.map((l) => `${pad}${l}\n`).join("");
  await Deno.writeTextFile(
    `${dir}/manifest.yaml`,
    `plugins:
  dbt_runtime: cloud
${indent("  ", o.plugins)}  dbt_runtime_config:
    cloud:
      account_id: ${ACCOUNT}
      api_token_ref: ${ref}
      base_url: ${server.url}
      job_ids: { run: ${RUN_JOB} }
      poll_interval_seconds: 0.05
      max_poll_interval_seconds: 0.2
${indent("      ", o.cloud)}`,
  );
  const state = `${dir}/state`;
  return {
    server,
    token,
    dir,
    state,
    /** The daemon's environment: the dbt Cloud token's secret. */
    env: { [`FLOE_SECRET_${ref.toUpperCase()}`]: token },
    /** `serve` flags: the root, the state dir, the config. */
    args: [
      "--project-root",
      dir,
      "--state-dir",
      state,
      "--config",
      `${dir}/manifest.yaml`,
    ],
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A world made by {@link cloudDaemonWorld}. */
export type CloudDaemonWorld = Awaited<ReturnType<typeof cloudDaemonWorld>>;
