/**
 * floe-dbt: one agent, three dbt runtimes (local dbt-core, dbt Fusion, dbt
 * Cloud). The only module that prints and exits.
 *
 * @module
 */
import { runCli } from "./src/cli/app.ts";

if (import.meta.main) {
  const encoder = new TextEncoder();
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted by signal"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const code = await runCli(
    Deno.args,
    {
      out: (text) => Deno.stdout.writeSync(encoder.encode(text + "\n")),
      err: (text) => Deno.stderr.writeSync(encoder.encode(text + "\n")),
    },
    undefined,
    controller.signal,
  );
  Deno.exit(code);
}
