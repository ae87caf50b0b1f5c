/**
 * `/v1/runtimes`: every runtime's row (src/runtime_rows.ts, as the CLI's
 * `runtimes` prints it) and one runtime's metadata.
 *
 * @module
 */
import { Hono } from "hono";
import type { RuntimeName } from "../../config/config.ts";
import { ERROR_CODES, FloeDbtError } from "../../contract/errors.ts";
import { runtimeRow } from "../../runtime_rows.ts";
import type { ProjectRouteOptions } from "./project.ts";

/** The runtime routes, to mount at `/v1/runtimes` behind the token. */
export function runtimeRoutes(o: ProjectRouteOptions): Hono {
  const runtimes = new Hono();

  runtimes.get("/", async (c) => {
    const rows = [];
    for (const name of o.runtimeNames) {
      const row = await runtimeRow(name, () => o.runner.runtime(name));
      rows.push({ ...row, default: name === o.defaultRuntime });
    }
    return c.json({ runtimes: rows });
  });

  runtimes.get("/:name", async (c) => {
    const name = c.req.param("name") as RuntimeName;
    if (!o.runtimeNames.includes(name)) {
      throw new FloeDbtError(
        ERROR_CODES.notFound,
        `No runtime '${name}'`,
        { hint: `use one of ${o.runtimeNames.join(", ")}` },
      );
    }
    const rt = o.runner.runtime(name);
    // Fills the runtimes' caches (no process once warm), which
    // supportsSqlLinting() and the metadata read.
    await rt.availability().catch(() => {});
    return c.json({
      name,
      default: name === o.defaultRuntime,
      supports_parallel_execution: rt.supportsParallelExecution(),
      supports_sql_linting: rt.supportsSqlLinting(),
      metadata: rt.getRuntimeMetadata(),
    });
  });

  return runtimes;
}
