/**
 * One row per runtime: whether it is usable here, what it supports, its
 * metadata. The CLI's `runtimes` command and the daemon's `GET /v1/runtimes`
 * both print these rows.
 */
import { FloeDbtError } from "./contract/errors.ts";
import type { RuntimeName } from "./config/config.ts";
import type { DbtRuntime } from "./contract/runtime.ts";

/** What `runtimes` and `GET /v1/runtimes` say of one runtime. */
export interface RuntimeRow {
  name: RuntimeName;
  available: boolean;
  reason: string;
  supports_parallel_execution?: boolean;
  supports_sql_linting?: boolean;
  metadata?: Record<string, unknown>;
}

/**
 * Describe the runtime `open` gives (or fails to build): its availability
 * first, which fills the caches the support flags and metadata read.
 * `close` ends a runtime built only for this row.
 */
export async function runtimeRow(
  name: RuntimeName,
  open: () => DbtRuntime,
  close = false,
): Promise<RuntimeRow> {
  let rt: DbtRuntime | undefined;
  try {
    rt = open();
    const a = await rt.availability();
    return {
      name,
      available: a.available,
      reason: a.reason,
      supports_parallel_execution: rt.supportsParallelExecution(),
      supports_sql_linting: rt.supportsSqlLinting(),
      metadata: rt.getRuntimeMetadata(),
    };
  } catch (e) {
    return {
      name,
      available: false,
      reason: e instanceof FloeDbtError ? e.message : String(e),
    };
  } finally {
    if (close) await rt?.close();
  }
}
