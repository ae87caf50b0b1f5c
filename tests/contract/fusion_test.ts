import { FusionRuntime } from "../../runtimes/fusion/mod.ts";
import { copyExample } from "../_helpers.ts";
import { contractSuite } from "./suite.ts";

contractSuite("fusion", async () => {
  const copy = await copyExample();
  const runtime = new FusionRuntime();
  // Detection is asynchronous and cached: availability() fills the cache
  // that the synchronous metadata and supportsSqlLinting() read (the daemon
  // and the CLI ask it first too).
  await runtime.availability();
  return {
    runtime,
    project: { projectDir: copy.dir, profilesDir: copy.dir },
    async cleanup() {
      await runtime.close();
      await copy[Symbol.asyncDispose]();
    },
  };
}, { readsProjectFiles: true, versions: { dbt: true, python: false } });
