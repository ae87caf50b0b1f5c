/**
 * Lint through Fusion's own `dbt lint --format json` (SQLFluff-style rules,
 * SQLFluff's JSON report shape), mapped to the contract's LintResult. Fusion
 * also lints SQL under target/ and logs/ when a `.sqlfluff` exists, and test
 * SQL: only files under the project's model paths are reported.
 *
 * @module
 */
import { childEnv } from "../../src/os/child_env.ts";
import { relative, resolve, sep } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import type { ResolvedProject } from "../../src/dbt/project.ts";
import type { CallOptions } from "../../src/contract/runtime.ts";
import {
  type LintIssue,
  type LintResult,
  lintResultOf,
} from "../../src/contract/schemas.ts";
import { checkCall } from "../../src/dbt/validate.ts";
import { outputWithTimeout } from "../../src/os/spawn.ts";
import { callFusion } from "./call.ts";
import { newCallDirs, removeCallDirs } from "./calls.ts";
import type { FusionBinary } from "./detect.ts";

interface Violation {
  start_line_no?: number;
  start_line_pos?: number;
  code?: string;
  description?: string;
  warning?: boolean;
}

/** Whether `rel` (relative to the project) is under one of `prefixes`. */
function under(rel: string, prefixes: string[]): boolean {
  const norm = rel.split(sep).join("/");
  return prefixes.some((p) => {
    const q = p.replace(/^\.\//, "").replace(/\/+$/, "");
    return norm === q || norm.startsWith(`${q}/`);
  });
}

/**
 * Parse the JSON report line of `dbt lint --format json` into issues of the
 * model files only; `select` (file or directory paths relative to the
 * project) narrows it further.
 */
export function parseFusionLintReport(
  lines: string[],
  projectDir: string,
  modelPaths: string[],
  select: string[] = [],
): LintIssue[] {
  const report = lines.find((l) => l.trim().startsWith("["));
  if (report === undefined) {
    throw new FloeDbtError(
      ERROR_CODES.lint,
      "dbt Fusion lint printed no JSON report",
      { hint: "run `dbt lint --format json` by hand to see what Fusion says" },
    );
  }
  const files = JSON.parse(report) as {
    filepath: string;
    violations?: Violation[];
  }[];
  const issues: LintIssue[] = [];
  for (const f of files) {
    const rel = relative(projectDir, resolve(projectDir, f.filepath));
    if (rel.startsWith("..") || !under(rel, modelPaths)) continue;
    if (select.length && !under(rel, select)) continue;
    for (const v of f.violations ?? []) {
      issues.push({
        file_path: rel,
        line: v.start_line_no ?? 0,
        column: v.start_line_pos ?? 0,
        severity: v.warning ? "warning" : "error",
        rule_code: v.code ?? "",
        message: v.description ?? "",
      });
    }
  }
  return issues;
}

/** Whether a Fusion binary has the `lint` command (its help says so). */
export async function hasLintCommand(binary: string): Promise<boolean> {
  try {
    const out = await outputWithTimeout(binary, {
      args: ["lint", "--help"],
      clearEnv: true,
      env: childEnv({ RUST_BACKTRACE: "0" }),
      timeoutMs: 15_000,
    });
    return out.success && /^Usage: dbt lint/m.test(out.stdout);
  } catch {
    return false;
  }
}

/** Lint (with `fix`, fix) a project's models with `dbt lint`. */
export async function lintWithFusion(
  bin: FusionBinary,
  project: ResolvedProject,
  options: CallOptions & { fix?: boolean; select?: string[] },
  killGraceMs: number,
): Promise<LintResult> {
  checkCall(project, { select: options.select });
  const dirs = await newCallDirs(project.projectDir);
  try {
    const res = await callFusion({
      bin,
      command: "lint",
      project,
      dirs,
      extra: ["--format", "json", ...(options.fix ? ["--fix"] : [])],
      signal: options.signal,
      killGraceMs,
      timeoutSeconds: options.timeoutSeconds,
    });
    if (res.code > 1 || !res.otherLines.some((l) => l.startsWith("["))) {
      throw new FloeDbtError(
        ERROR_CODES.lint,
        `dbt Fusion lint failed (exit ${res.code}): ${
          res.errors.map((e) => e.message).join(" | ") || res.stderr.trim() ||
          "no report"
        }`,
        { hint: "check the project's .sqlfluff and Fusion's message" },
      );
    }
    const modelPaths = Array.isArray(project.project["model-paths"])
      ? project.project["model-paths"] as string[]
      : ["models"];
    return lintResultOf(
      parseFusionLintReport(
        res.otherLines,
        project.projectDir,
        modelPaths,
        options.select,
      ),
    );
  } finally {
    await removeCallDirs(project.projectDir, dirs).catch(() => {});
  }
}
