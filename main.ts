/**
 * floe-dbt: one agent, three dbt runtimes (local dbt-core, dbt Fusion, dbt
 * Cloud). The only module that prints and exits.
 *
 * @module
 */
import { context } from "@opentelemetry/api";
import { runCli } from "./src/cli/app.ts";
import { contextFromTraceparent } from "./src/telemetry/mod.ts";

if (import.meta.main) {
  const encoder = new TextEncoder();
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted by signal"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  // TRACEPARENT (W3C) makes this run's spans children of the caller's trace.
  const parent = contextFromTraceparent(Deno.env.get("TRACEPARENT"));
  const code = await context.with(parent, () =>
    runCli(
      Deno.args,
      {
        out: (text) => Deno.stdout.writeSync(encoder.encode(text + "\n")),
        err: (text) => Deno.stderr.writeSync(encoder.encode(text + "\n")),
      },
      undefined,
      controller.signal,
    ));
  Deno.exit(code);
}
