/**
 * Lint through real SQLFluff from the dbt-core virtual environment. The dbt
 * templater (refs, sources and macros resolved by dbt itself) is used when
 * sqlfluff-templater-dbt is installed; otherwise the jinja templater. A
 * project's own `.sqlfluff` / `.sqlfluffignore` apply; its `templater` and
 * `dialect` settings win over ours, except `templater = dbt-cloud` (dbt
 * Cloud's IDE templater), linted with the open-source one and a warning. The dbt templater's project, profiles and
 * target reach SQLFluff in a generated `pyproject.toml` whose values are TOML
 * strings (escaped; never typed like INI values, where a target `none` or `1`
 * would stop being a string).
 *
 * @module
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import { sqlfluffDialect } from "../../src/dbt/dialects.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import { adapterType, resolveProject } from "../../src/dbt/project.ts";
import type { CallOptions, ProjectRef } from "../../src/contract/runtime.ts";
import {
  type LintIssue,
  type LintResult,
  lintResultOf,
} from "../../src/contract/schemas.ts";
import { checkCall } from "../../src/dbt/validate.ts";
import { acquireProjectLock } from "./lock.ts";
import { deadlineError } from "../../src/contract/deadline.ts";
import { runGroup } from "../../src/os/run_group.ts";
import { probePython } from "../../src/os/spawn.ts";

interface SqlfluffViolation {
  start_line_no?: number;
  start_line_pos?: number;
  line_no?: number;
  line_pos?: number;
  code: string;
  description: string;
  warning?: boolean;
}

/**
 * Run SQLFluff as a process group (src/os/run_group.ts): a cancel or the
 * deadline stops the whole group (SQLFluff's parallel workers and dbt under
 * the dbt templater): SIGTERM, then SIGKILL after the grace.
 */
async function runSqlfluff(
  cmd: string,
  args: string[],
  cwd: string,
  o: {
    signal: AbortSignal | undefined;
    timeoutSeconds: number | undefined;
    killGraceMs: number;
  },
): Promise<{ code: number; stdout: Uint8Array; stderr: Uint8Array }> {
  const res = await runGroup({
    cmd,
    args,
    cwd,
    env: { DBT_SEND_ANONYMOUS_USAGE_STATS: "false" },
    signal: o.signal,
    timeoutMs: o.timeoutSeconds === undefined
      ? undefined
      : o.timeoutSeconds * 1000,
    killGraceMs: o.killGraceMs,
  });
  if (res.timedOut) {
    throw deadlineError(
      "SQLFluff",
      o.timeoutSeconds,
      "it and its processes were stopped",
      "raise timeout_seconds (the job's, or dbt_runtime_config.local.timeout_seconds), or lint fewer files with select",
    );
  }
  if (res.cancelled) {
    throw new FloeDbtError(
      ERROR_CODES.cancelled,
      "Lint was cancelled; SQLFluff and its processes were stopped",
    );
  }
  return res;
}

/** A lint selector as a path inside the project; anything else is E011. */
function insideProject(projectDir: string, selector: string): string {
  const path = resolve(projectDir, selector);
  const rel = relative(projectDir, path);
  if (rel.startsWith("..") || isAbsolute(rel)) {
    throw new FloeDbtError(
      ERROR_CODES.forbidden,
      `Lint selector '${selector}' is outside the project '${projectDir}'`,
      {
        hint:
          "select files or directories inside the project, e.g. models/staging",
      },
    );
  }
  return rel || ".";
}

/** `[sqlfluff]` keys of a project's own .sqlfluff (dialect, templater). */
function projectSettings(projectDir: string): Record<string, string> {
  let text: string;
  try {
    text = Deno.readTextFileSync(join(projectDir, ".sqlfluff"));
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const s = line.match(/^\[(.+)\]$/);
    if (s) section = s[1]!.trim();
    const kv = line.match(/^([A-Za-z_]+)\s*=\s*(.*)$/);
    if (kv && section === "sqlfluff") out[kv[1]!] = kv[2]!.trim();
  }
  return out;
}

/** Parse SQLFluff's `--format json` report into lint issues. */
export function parseSqlfluffReport(
  json: string,
  projectDir: string,
): LintIssue[] {
  const files = JSON.parse(json) as {
    filepath: string;
    violations: SqlfluffViolation[];
  }[];
  const issues: LintIssue[] = [];
  for (const f of files) {
    const path = relative(projectDir, resolve(projectDir, f.filepath));
    for (const v of f.violations) {
      issues.push({
        file_path: path,
        line: v.start_line_no ?? v.line_no ?? 0,
        column: v.start_line_pos ?? v.line_pos ?? 0,
        severity: v.warning ? "warning" : "error",
        rule_code: v.code,
        message: v.description,
      });
    }
  }
  return issues;
}

/** A TOML basic string: JSON's escapes plus DEL and C1 controls as \u. */
function tomlString(value: string): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * SQLFluff resolves `*_dir` config values with glob: escape its wildcards so
 * a directory name with `*`, `?` or `[` is taken literally.
 */
function globLiteral(path: string): string {
  return path.replace(/[*?[]/g, (c) => `[${c}]`);
}

/**
 * The dbt templater section as a SQLFluff `pyproject.toml`: every value a
 * quoted TOML string, so no caller value can add a key or change its type.
 */
export function templaterConfig(
  project: { projectDir: string; profilesDir: string; target?: string },
): string {
  return [
    "[tool.sqlfluff.templater.dbt]",
    `project_dir = ${tomlString(globLiteral(project.projectDir))}`,
    `profiles_dir = ${tomlString(globLiteral(project.profilesDir))}`,
    ...(project.target ? [`target = ${tomlString(project.target)}`] : []),
    "",
  ].join("\n");
}

/**
 * `python -m sqlfluff` without the current folder (the project) on
 * `sys.path`, so a project file such as `sqlfluff.py` cannot stand in for it
 * (`-m` puts the current folder first; `-P` needs Python 3.11).
 */
const SQLFLUFF_MAIN = "import runpy, sys; " +
  "sys.path[:] = [p for p in sys.path if p not in ('', '.')]; " +
  "runpy.run_module('sqlfluff', run_name='__main__', alter_sys=True)";

/**
 * dbt Cloud's IDE templater (jaffle-shop's `.sqlfluff` names it): open-source
 * SQLFluff has no such templater, so such a project is linted with the dbt
 * templater (or jinja without sqlfluff-templater-dbt), with a warning.
 */
const DBT_CLOUD_TEMPLATER = "dbt-cloud";

/** Whether each Python has sqlfluff-templater-dbt (asked once per Python). */
const templaterKnown = new Map<string, boolean>();

async function hasDbtTemplater(python: string): Promise<boolean> {
  const known = templaterKnown.get(python);
  if (known !== undefined) return known;
  const out = await probePython(
    python,
    "import sqlfluff_templater_dbt",
    60_000,
  );
  // A hung import is not remembered: the next lint asks again.
  if (!out.timedOut) templaterKnown.set(python, out.success);
  return out.success;
}

function sqlfluffError(
  step: string,
  stderr: string,
  code: number,
): FloeDbtError {
  const lines = stderr.trim().split("\n").filter((l) => l.trim());
  // A Python traceback: keep SQLFluff's own message (the exception line and
  // what follows it), never the stack.
  const exc = lines.findLastIndex((l) =>
    /^[A-Za-z_][\w.]*(Error|Exception)\b.*:/.test(l)
  );
  const msg = (exc >= 0 ? lines.slice(exc) : lines.slice(-6)).join(" | ");
  return new FloeDbtError(
    ERROR_CODES.lint,
    `SQLFluff ${step} failed (exit ${code}): ${msg || "no message"}`,
    {
      hint:
        "check the project's .sqlfluff and that sqlfluff is installed in the dbt-core environment (scripts/setup)",
    },
  );
}

/** Lint (and with `fix`, fix) a project's model SQL with SQLFluff. */
export async function lintWithSqlfluff(
  python: string,
  ref: ProjectRef,
  options: CallOptions & { fix?: boolean; select?: string[] },
  lockTimeoutSeconds = 3600,
  killGraceSeconds = 5,
): Promise<LintResult> {
  const project = resolveProject(ref);
  checkCall(project, { select: options.select });
  const settings = projectSettings(project.projectDir);
  const dialect = settings.dialect || sqlfluffDialect(adapterType(project));
  const ours = async () => await hasDbtTemplater(python) ? "dbt" : "jinja";
  let templater = settings.templater || await ours();
  if (templater === DBT_CLOUD_TEMPLATER) {
    templater = await ours();
    options.onEvent?.({
      v: 1,
      type: "log",
      level: "warn",
      message:
        `The project's .sqlfluff names templater = ${DBT_CLOUD_TEMPLATER} (dbt Cloud's IDE templater, unknown to open-source SQLFluff): linting with the open-source '${templater}' templater instead; the project's other SQLFluff settings apply`,
      ts: new Date().toISOString(),
    });
  }
  const modelPaths = Array.isArray(project.project["model-paths"])
    ? project.project["model-paths"] as string[]
    : ["models"];
  const paths = options.select?.length
    ? options.select.map((sel) => insideProject(project.projectDir, sel))
    : modelPaths;
  const args = [
    "--dialect",
    dialect,
    "--templater",
    templater,
    "--processes",
    String(Math.max(1, navigator.hardwareConcurrency || 1)),
    "--disable-progress-bar",
  ];
  let configDir: string | undefined;
  if (templater === "dbt") {
    // SQLFluff reads a --config file as TOML only under this exact name.
    configDir = await Deno.makeTempDir({ prefix: "floe-sqlfluff-" });
    const file = join(configDir, "pyproject.toml");
    await Deno.writeTextFile(file, templaterConfig(project));
    args.push("--config", file);
  }
  const run = (sub: string, extra: string[]) =>
    runSqlfluff(
      python,
      ["-c", SQLFLUFF_MAIN, sub, ...args, ...extra, "--", ...paths],
      project.projectDir,
      {
        signal: options.signal,
        timeoutSeconds: options.timeoutSeconds,
        killGraceMs: killGraceSeconds * 1000,
      },
    );
  // The dbt templater runs dbt-core: hold the project lock only then.
  const lock = templater === "dbt"
    ? await acquireProjectLock(
      project.projectDir,
      "sqlfluff lint",
      lockTimeoutSeconds,
      options.signal,
    )
    : undefined;
  try {
    if (options.fix) {
      const fixed = await run("fix", []);
      if (fixed.code > 1) {
        throw sqlfluffError(
          "fix",
          new TextDecoder().decode(fixed.stderr),
          fixed.code,
        );
      }
    }
    // Exit 0: clean, 1: violations, anything else: SQLFluff itself failed.
    const out = await run("lint", ["--format", "json"]);
    const stdout = new TextDecoder().decode(out.stdout);
    if (out.code > 1 || !stdout.trim().startsWith("[")) {
      throw sqlfluffError(
        "lint",
        new TextDecoder().decode(out.stderr) || stdout,
        out.code,
      );
    }
    return lintResultOf(parseSqlfluffReport(stdout, project.projectDir));
  } finally {
    lock?.release();
    if (configDir) {
      await Deno.remove(configDir, { recursive: true }).catch(() => {});
    }
  }
}
