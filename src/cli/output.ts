/**
 * Text the CLI shows: progress lines and summaries. Pure functions returning
 * strings; only main.ts writes them.
 *
 * @module
 */
import type {
  LintResult,
  ProgressEvent,
  RunResult,
} from "../contract/schemas.ts";

function counter(e: { index: number | null; total: number | null }): string {
  if (e.index === null) return "     ";
  if (e.total === null) return String(e.index).padStart(3);
  return `${String(e.index).padStart(String(e.total).length)}/${e.total}`;
}

const STATUS_LABEL: Record<string, string> = {
  success: "OK",
  pass: "PASS",
  fail: "FAIL",
  warn: "WARN",
  error: "ERROR",
  skipped: "SKIP",
};

/** One progress line for a person (undefined: nothing to show). */
export function progressLine(e: ProgressEvent): string | undefined {
  switch (e.type) {
    case "node_started":
      return `${counter(e)} START ${e.resource_type} ${e.name}`;
    case "node_finished": {
      const label = STATUS_LABEL[e.status] ?? e.status.toUpperCase();
      const time = e.execution_time === null
        ? ""
        : ` in ${e.execution_time.toFixed(2)}s`;
      const msg =
        (e.status === "error" || e.status === "fail") && e.message?.trim()
          ? `\n      ${e.message.trim().split("\n").join("\n      ")}`
          : "";
      return `${counter(e)} ${
        label.padEnd(5)
      } ${e.resource_type} ${e.name}${time}${msg}`;
    }
    case "log":
      if (e.level === "error" || e.level === "warn") {
        return `${e.level}: ${e.message}`;
      }
      // Slim runs say which state they use and what changed;
      // --skip-unchanged what it reused.
      return e.level === "info" &&
          /^(state|changed|skip): |^(REUSED|STALE) /.test(e.message)
        ? e.message
        : undefined;
    default:
      return undefined;
  }
}

/** The summary after a dbt command. */
export function runSummary(command: string, r: RunResult): string {
  const m = r.metadata;
  const parts = [
    `${r.models_run} model${r.models_run === 1 ? "" : "s"}`,
    `${r.tests_run} test${r.tests_run === 1 ? "" : "s"}`,
  ];
  if (typeof m.seeds_run === "number" && m.seeds_run > 0) {
    parts.push(`${m.seeds_run} seed${m.seeds_run === 1 ? "" : "s"}`);
  }
  if (typeof m.skipped === "number" && m.skipped > 0) {
    parts.push(`${m.skipped} skipped`);
  }
  if (Array.isArray(m.sources)) {
    // source freshness: the sources and their statuses instead of models.
    const statuses = Object.entries(m.statuses as Record<string, number>)
      .map(([k, n]) => `${n} ${k}`).join(", ");
    parts.splice(
      0,
      parts.length,
      `${m.sources.length} source${m.sources.length === 1 ? "" : "s"}${
        statuses ? ` (${statuses})` : ""
      }`,
    );
  }
  const lines = [
    `${r.success ? "Completed" : "Failed"}: ${command} via ${
      String(m.runtime ?? "?")
    }: ${parts.join(", ")}; ${r.failures} failure${
      r.failures === 1 ? "" : "s"
    }; ${r.execution_time_seconds.toFixed(2)} s`,
  ];
  if (m.fallback) {
    lines.push(
      `note: fell back to ${String(m.executed_by)}: ${
        String(m.fallback_reason)
      }`,
    );
  }
  const errors = (m.errors ?? []) as {
    unique_id: string;
    status: string;
    message: string | null;
  }[];
  for (const e of errors) {
    lines.push(
      `${String(m.error_code ?? "")} ${e.unique_id} ${e.status}: ${
        (e.message ?? "").split("\n").join("\n    ")
      }`,
    );
  }
  lines.push(...stateLines(m));
  lines.push(
    `run results: ${r.run_results_path || "none (dbt did not run)"}`,
  );
  return lines.join("\n");
}

/** What a slim run compared with and selected (metadata.state, changed_nodes). */
export function stateLines(m: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const state = m.state as
    | { source: string; run_id: string | null; path: string }
    | null
    | undefined;
  if (state) {
    lines.push(
      `state: ${state.source} ${state.path} (run ${state.run_id ?? "unknown"})`,
    );
  }
  if (m.skipped_stale && typeof m.skipped_stale === "object") {
    const n = Object.keys(m.skipped_stale).length;
    lines.push(
      `stale: ${n} node${n === 1 ? "" : "s"} left out (stale sources)`,
    );
  }
  if (Array.isArray(m.reused)) {
    const rebuilt = Object.keys((m.rebuilt ?? {}) as Record<string, string>);
    lines.push(`skip: rebuilt ${rebuilt.length}, reused ${m.reused.length}`);
  }
  if (m.changed === true) {
    const ids = m.changed_nodes as string[] | null;
    if (ids === null) {
      lines.push("changed: no state yet, so everything selected ran");
    } else {
      const names = ids.map((id) => id.split(".").slice(2).join(".") || id);
      const more = names.length > 10 ? ` (+${names.length - 10} more)` : "";
      lines.push(
        `changed: ${ids.length} node${ids.length === 1 ? "" : "s"} selected${
          ids.length ? `: ${names.slice(0, 10).join(", ")}${more}` : ""
        }`,
      );
    }
  }
  return lines;
}

/** Lint findings grouped by file, then a summary. */
export function lintReport(r: LintResult): string {
  const byFile = new Map<string, LintResult["issues"]>();
  for (const i of r.issues) {
    const list = byFile.get(i.file_path) ?? [];
    list.push(i);
    byFile.set(i.file_path, list);
  }
  const lines: string[] = [];
  for (const [file, issues] of [...byFile].sort(([a], [b]) => a < b ? -1 : 1)) {
    lines.push(`== ${file}`);
    for (const i of issues) {
      lines.push(
        `${file}:${i.line}:${i.column}  ${i.rule_code}  ${i.message}${
          i.severity === "error" ? "" : ` (${i.severity})`
        }`,
      );
    }
  }
  lines.push(
    `${r.passed ? "Lint passed" : "Lint failed"}: ${r.total_issues} issue${
      r.total_issues === 1 ? "" : "s"
    } (${r.errors} error${r.errors === 1 ? "" : "s"}, ${r.warnings} warning${
      r.warnings === 1 ? "" : "s"
    }) in ${byFile.size} file${byFile.size === 1 ? "" : "s"}`,
  );
  return lines.join("\n");
}
