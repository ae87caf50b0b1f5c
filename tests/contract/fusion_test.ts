import { FusionRuntime } from "../../runtimes/fusion/mod.ts";
import { copyExample } from "../_helpers.ts";
import { contractSuite } from "./suite.ts";

contractSuite("fusion", async () => {
  const copy = await copyExample();
  const runtime = new FusionRuntime();
  return {
    runtime,
    project: { projectDir: copy.dir, profilesDir: copy.dir },
    async cleanup() {
      await runtime.close();
      await copy[Symbol.asyncDispose]();
    },
  };
}, { readsProjectFiles: true, versions: { dbt: true, python: false } });
