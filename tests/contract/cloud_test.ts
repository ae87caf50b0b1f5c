import { CloudRuntime } from "../../runtimes/cloud/mod.ts";
import { LocalRuntime } from "../../runtimes/local/mod.ts";
import { CloudConfigSchema } from "../../src/config/config.ts";
import { copyExample } from "../_helpers.ts";
import { localExecutor } from "../cloud/executors.ts";
import { FakeDbtCloud } from "../cloud/fake_server.ts";
import { fakeClock } from "../cloud/fake_clock.ts";
import { contractSuite } from "./suite.ts";

contractSuite("cloud", async () => {
  const copy = await copyExample();
  const local = new LocalRuntime();
  const token = "dbtc_contract_token_" + crypto.randomUUID();
  const server = new FakeDbtCloud(42, token, localExecutor(local, copy.dir));
  server.jobs.set(101, ["dbt run"]);
  server.jobs.set(102, ["dbt build"]);
  Deno.env.set("FLOE_SECRET_CONTRACT_DBT_CLOUD", token);
  const runtime = new CloudRuntime(
    CloudConfigSchema.parse({
      account_id: 42,
      api_token_ref: "contract_dbt_cloud",
      base_url: server.url,
      job_ids: { run: 101, build: 102 },
    }),
    { clock: fakeClock().clock },
  );
  return {
    runtime,
    project: { projectDir: copy.dir, profilesDir: copy.dir },
    async cleanup() {
      await runtime.close();
      await local.close();
      await server[Symbol.asyncDispose]();
      Deno.env.delete("FLOE_SECRET_CONTRACT_DBT_CLOUD");
      await copy[Symbol.asyncDispose]();
    },
  };
}, {
  readsProjectFiles: false,
  versions: { dbt: false, python: false },
});
