import { FusionRuntime } from "../../runtimes/fusion/mod.ts";
import { fusionExample } from "../_fusion.ts";
import { contractSuite } from "./suite.ts";

// The example's source-level `meta:` is moved under `config:` in the copy:
// Fusion rejects the old place (dbt1060); see tests/_fusion.ts.
contractSuite("fusion", async () => {
  const copy = await fusionExample();
  const runtime = new FusionRuntime();
  return {
    runtime,
    project: { projectDir: copy.dir, profilesDir: copy.dir },
    async cleanup() {
      await runtime.close();
      await copy[Symbol.asyncDispose]();
    },
  };
}, { readsProjectFiles: true });
