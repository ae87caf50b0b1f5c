import { LocalRuntime } from "../../runtimes/local/mod.ts";
import { copyExample } from "../_helpers.ts";
import { contractSuite } from "./suite.ts";

contractSuite("local", async () => {
  const copy = await copyExample();
  const runtime = new LocalRuntime();
  return {
    runtime,
    project: { projectDir: copy.dir, profilesDir: copy.dir },
    async cleanup() {
      await runtime.close();
      await copy[Symbol.asyncDispose]();
    },
  };
}, { readsProjectFiles: true, versions: { dbt: true, python: true } });
