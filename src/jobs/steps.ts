/**
 * The job runner's pure steps: what a restart does with journaled jobs, how a
 * job calls its runtime, and how a result or an exception becomes the job's
 * outcome.
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import type { CallOptions, DbtRuntime } from "../contract/runtime.ts";
import type { LintResult, RunResult } from "../contract/schemas.ts";
import { jobStateDir } from "../dbt/state.ts";
import { type JobPolicy, jobProfilesDir } from "./policy.ts";
import { isFinal, type Job } from "./schemas.ts";

/**
 * Jobs to keep (unfinished, or finished within the retention) and jobs to
 * start again: queued ones, and cloud jobs whose remote run (or trigger
 * nonce) is journaled: they reattach. A local or fusion job that was running is marked interrupted,
 * never re-run silently.
 */
export function recover(
  jobs: Job[],
  retentionMs: number,
  now: string,
): { kept: Job[]; resume: Job[] } {
  const cutoff = Date.parse(now) - retentionMs;
  const kept = jobs.filter((j) =>
    !isFinal(j.status) || Date.parse(j.finished_at ?? j.created_at) >= cutoff
  );
  const resume: Job[] = [];
  for (const job of kept) {
    if (job.status === "queued") resume.push(job);
    else if (job.status === "running") {
      if (isRemote(job)) resume.push(job);
      else {
        Object.assign(job, {
          status: "interrupted",
          finished_at: now,
          error: {
            code: ERROR_CODES.execution,
            message: `Interrupted: the agent (pid ${
              job.agent_pid ?? "?"
            }) stopped while this ${job.runtime} job was running; it was not re-run`,
          },
        });
      }
    }
  }
  return { kept, resume };
}

/**
 * A cloud job whose remote run exists or may exist: its run id, or the nonce
 * of a trigger that may have been sent, is journaled. It is followed again,
 * never triggered a second time.
 */
export function isRemote(job: Job): boolean {
  return job.runtime === "cloud" &&
    Boolean(job.remote_run_id || job.remote_nonce);
}

/**
 * Run the job's command on its runtime, under the operator's policy (the
 * profiles.yml it may use, whether its vars may hold Jinja).
 */
export async function callRuntime(
  rt: DbtRuntime,
  job: Job,
  options: CallOptions,
  policy: JobPolicy = {},
): Promise<RunResult | LintResult> {
  const req = job.request;
  if (req.timeout_seconds !== undefined) {
    options = { ...options, timeoutSeconds: req.timeout_seconds };
  }
  const project = {
    projectDir: req.project_dir,
    profilesDir: jobProfilesDir(req, job.runtime, policy),
    profilesDirGiven: req.profiles_dir !== undefined,
    target: req.target,
  };
  if (req.command === "lint") {
    return await rt.lintProject(project, {
      ...options,
      fix: req.fix ?? false,
      select: req.select,
    });
  }
  return await rt.execute(req.command, project, {
    select: req.select,
    exclude: req.exclude,
    fullRefresh: req.full_refresh,
    vars: req.vars,
    allowJinjaVars: Boolean(policy.allowJinjaVars),
    failFast: req.fail_fast,
    selector: req.selector,
    indirectSelection: req.indirect_selection,
    changed: req.changed,
    skipUnchanged: req.skip_unchanged,
    skipStaleSources: req.skip_stale_sources,
    state: req.state === undefined
      ? undefined
      : jobStateDir(req.project_dir, req.state),
    stateFrom: req.state_from,
  }, { ...options, threads: req.threads, jobId: job.id });
}

/** The job fields for a finished call. */
export function outcomeOf(
  result: RunResult | LintResult,
): Pick<Job, "status" | "error"> & { ok: boolean } {
  const ok = "passed" in result ? result.passed : result.success;
  if (ok) return { ok, status: "succeeded", error: null };
  const failures = "metadata" in result
    ? result.metadata.errors as
      | { unique_id: string; message: string | null }[]
      | undefined
    : undefined;
  return {
    ok,
    status: "failed",
    error: {
      code: String(
        ("metadata" in result && result.metadata.error_code) ||
          ERROR_CODES.execution,
      ),
      message: failures?.length
        ? failures.map((f) => `${f.unique_id}: ${f.message ?? "failed"}`)
          .join("\n")
        : "lint found errors",
    },
  };
}

/** `{code, message, hint?}` of an exception. */
export function errorOf(
  e: unknown,
): { code: string; message: string; hint?: string } {
  return e instanceof FloeDbtError
    ? { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }
    : {
      code: ERROR_CODES.execution,
      message: e instanceof Error ? e.message : String(e),
    };
}
