/**
 * Translate dbt's structured events (dbt-core callbacks and Fusion's JSON log
 * lines share the names NodeStart / NodeFinished) into ProgressEvent v1.
 *
 * @module
 */
import type { ProgressEvent } from "../contract/schemas.ts";

/** A dbt event: the name plus its `data` payload. */
export interface DbtEvent {
  name: string;
  level?: string;
  msg?: string;
  /** The dbt thread that sent it (`Thread-1 (worker)`), when known. */
  thread?: string;
  data?: Record<string, unknown>;
}

interface NodeInfo {
  unique_id?: string;
  resource_type?: string;
  node_name?: string;
  node_status?: string;
}

/** Events that restate node results (dbt's end-of-run summary). */
const NODE_SUMMARY_EVENTS = new Set([
  "RunResultError",
  "RunResultFailure",
  "RunResultErrorNoMessage",
  "RunResultWarning",
  "EndOfRunSummary",
  "LogModelResult",
  "LogTestResult",
  "LogSeedResult",
  "LogSnapshotResult",
]);

function now(): string {
  return new Date().toISOString();
}

/** Stateful translator for one dbt invocation. */
export class DbtEventTranslator {
  #total: number | null = null;
  #started = new Map<string, number>();

  /** The progress events for one dbt event (often none). */
  translate(ev: DbtEvent): ProgressEvent[] {
    const data = ev.data ?? {};
    const info = (data.node_info ?? {}) as NodeInfo;
    switch (ev.name) {
      case "ConcurrencyLine":
        if (typeof data.node_count === "number") this.#total = data.node_count;
        return [];
      case "NodeStart": {
        const id = info.unique_id;
        if (!id || this.#started.has(id)) return [];
        const index = this.#started.size + 1;
        this.#started.set(id, index);
        return [{
          v: 1,
          type: "node_started",
          unique_id: id,
          resource_type: info.resource_type ?? id.split(".")[0]!,
          name: info.node_name ?? id,
          index,
          total: this.#total,
          ...threadOf(ev.thread),
          ts: now(),
        }];
      }
      case "NodeFinished": {
        const id = info.unique_id;
        if (!id) return [];
        const rr = (data.run_result ?? {}) as Record<string, unknown>;
        const status = String(rr.status ?? info.node_status ?? "unknown");
        const message = typeof rr.message === "string" && rr.message
          ? rr.message
          : null;
        const time = typeof rr.execution_time === "number"
          ? rr.execution_time
          : null;
        return [{
          v: 1,
          type: "node_finished",
          unique_id: id,
          resource_type: info.resource_type ?? id.split(".")[0]!,
          name: info.node_name ?? id,
          status,
          execution_time: time,
          message,
          index: this.#started.get(id) ?? null,
          total: this.#total,
          ...threadOf(ev.thread ?? rr.thread),
          ts: now(),
        }];
      }
      default:
        // Node failures arrive with their node_finished event; repeat only
        // errors that belong to no node (a crash, a connection failure).
        if (
          ev.level === "error" && ev.msg && !data.node_info &&
          !NODE_SUMMARY_EVENTS.has(ev.name)
        ) {
          return [{
            v: 1,
            type: "log",
            level: "error",
            message: stripAnsi(ev.msg),
            ts: now(),
          }];
        }
        return [];
    }
  }
}

/** `{thread}` when `t` names one (dbt-core: `Thread-1 (worker)`). */
function threadOf(t: unknown): { thread?: string } {
  return typeof t === "string" && t ? { thread: t.slice(0, 100) } : {};
}

/** Remove terminal colour codes from dbt's messages. */
export function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, "");
}
