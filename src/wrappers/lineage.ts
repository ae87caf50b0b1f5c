/**
 * `lineageRuntime(rt, config)`: a DbtRuntime that sends OpenLineage START and
 * COMPLETE / FAIL / ABORT events around every dbt command (execute, run,
 * test). Delivery failures are logged as a `log` progress event and counted
 * in the result's `metadata.lineage`; they never fail the command.
 *
 * @module
 */
import {
  type NodeError,
  nodeErrorsSummary,
  thrownSummary,
} from "../contract/error_summary.ts";
import { basename } from "node:path";
import { parse } from "yaml";
import type { LineageConfig } from "../config/config.ts";
import { RuntimeWrapper } from "./base.ts";
import type {
  CallOptions,
  DbtRuntime,
  ProjectRef,
  Selection,
} from "../contract/runtime.ts";
import type { DbtCommand, RunResult } from "../contract/schemas.ts";
import type { NodeFactsMap } from "../dbt/node_facts.ts";
import {
  datasetsOf,
  errorFacet,
  type RunEvent,
  runEvent,
  type RunIdentity,
  runResultsFacet,
} from "../lineage/events.ts";
import { sendEvent } from "../lineage/transport.ts";

async function readJson(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return {};
  }
}

async function projectName(projectDir: string): Promise<string> {
  try {
    const doc = parse(
      await Deno.readTextFile(`${projectDir}/dbt_project.yml`),
    ) as { name?: unknown } | null;
    if (typeof doc?.name === "string" && doc.name) return doc.name;
  } catch {
    // fall back to the directory name
  }
  return basename(projectDir);
}

class LineageRuntime extends RuntimeWrapper {
  readonly #config: LineageConfig;

  constructor(rt: DbtRuntime, config: LineageConfig) {
    super(rt);
    this.#config = config;
  }

  async #observed(
    command: DbtCommand,
    project: ProjectRef,
    options: CallOptions | undefined,
    f: () => Promise<RunResult>,
  ): Promise<RunResult> {
    const id: RunIdentity = {
      runId: crypto.randomUUID(),
      namespace: this.#config.namespace,
      jobName: `${await projectName(project.projectDir)}.${command}`,
    };
    const stats = { events_sent: 0, events_failed: 0 };
    const send = async (event: RunEvent) => {
      const error = await sendEvent(this.#config, event);
      if (error === null) stats.events_sent++;
      else {
        stats.events_failed++;
        options?.onEvent?.({
          v: 1,
          type: "log",
          level: "warn",
          message:
            `OpenLineage ${event.eventType} event not delivered: ${error}`,
          ts: new Date().toISOString(),
        });
      }
    };
    // START goes out while dbt runs; the final event waits for it (order).
    const started = send(runEvent(id, "START"));
    let result: RunResult;
    try {
      result = await f();
    } catch (e) {
      await started;
      await send(runEvent(id, options?.signal?.aborted ? "ABORT" : "FAIL", {
        facets: {
          // dbt's class and node only: its text may quote data or SQL.
          errorMessage: errorFacet(thrownSummary(e)),
        },
      }));
      throw e;
    }
    const manifest = await readJson(result.manifest_path);
    const runResults = await readJson(result.run_results_path);
    const errors = result.metadata.errors as NodeError[] | undefined;
    await started;
    await send(runEvent(id, result.success ? "COMPLETE" : "FAIL", {
      ...datasetsOf(
        command,
        manifest,
        runResults,
        this.#config.dataset_namespace ?? this.#config.namespace,
        (result.metadata.nodes ?? {}) as NodeFactsMap,
      ),
      facets: {
        floe_dbt_run: runResultsFacet(runResults, result.success),
        ...(result.success ? {} : {
          errorMessage: errorFacet(
            nodeErrorsSummary(errors, `dbt ${command} failed`),
          ),
        }),
      },
    }));
    return { ...result, metadata: { ...result.metadata, lineage: stats } };
  }

  override execute(
    command: DbtCommand,
    project: ProjectRef,
    selection?: Selection,
    options?: CallOptions,
  ): Promise<RunResult> {
    return this.#observed(
      command,
      project,
      options,
      () => this.inner.execute(command, project, selection, options),
    );
  }
}

/**
 * Wrap a runtime so each dbt command sends OpenLineage events to
 * `config.url`; returns `rt` itself when lineage is not configured.
 */
export function lineageRuntime(
  rt: DbtRuntime,
  config: LineageConfig | undefined,
): DbtRuntime {
  return config ? new LineageRuntime(rt, config) : rt;
}
