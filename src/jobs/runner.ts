/**
 * The embedded job runner, the jobs' state machine (queued, running, then
 * succeeded, failed, cancelled or interrupted): at most `maxParallel(runtime)` jobs of a runtime at
 * once; a runtime without parallel support on one project (local) runs one
 * job per project at a time, so projects never wait on each other (see
 * slots.ts), on top of the local runtime's own mutex and file lock. Every state
 * change is journaled before it is acknowledged; on start, queued jobs run
 * again, a local or fusion job that was running is marked `interrupted`, and
 * a cloud job with a remote run id reattaches to that run. Which submits
 * become jobs is admission.ts; how long finished ones are kept, retention.ts.
 *
 * @module
 */
import { join } from "node:path";
import type { RuntimeName } from "../config/config.ts";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import type { DbtRuntime } from "../contract/runtime.ts";
import type { ProgressEvent } from "../contract/schemas.ts";
import { context } from "@opentelemetry/api";
import { parseTraceparent, startJobSpan } from "../telemetry/mod.ts";
import { ArtifactStore } from "./artifact_store.ts";
import { EventLog } from "./event_log.ts";
import { Journal } from "./journal.ts";
import { JobSlots } from "./slots.ts";
import { Admission } from "./admission.ts";
import {
  type Listener,
  Subscribers,
  type Subscription,
} from "./subscriptions.ts";
import type { JobPolicy } from "./policy.ts";
import {
  byEnd,
  FinishedJobs,
  jobsToKeep,
  removeArtifacts,
} from "./retention.ts";
import { callRuntime, errorOf, isRemote, outcomeOf, recover } from "./steps.ts";
import { isFinal, type Job, type JobRequest } from "./schemas.ts";

/** How the runner is set up. */
export interface RunnerOptions {
  stateDir: string;
  defaultRuntime: RuntimeName;
  /**
   * The runtime for a job that names one (throws when the platform config
   * refuses it; see src/config/runtime_choice.ts). Default: the one named. A job
   * that names none gets `defaultRuntime`.
   */
  chooseRuntime?: (requested: RuntimeName) => RuntimeName;
  /** Creates a runtime (called once per name). */
  factory: (name: RuntimeName) => DbtRuntime;
  /**
   * Jobs of a runtime at once (for local: projects at once, each project
   * running one job at a time).
   */
  maxParallel: (name: RuntimeName) => number;
  /** Finished jobs older than this are forgotten (journal, memory). */
  retentionMs: number;
  /** Finished jobs kept at most; the oldest go first (default 10000). */
  maxFinished?: number | undefined;
  /**
   * Finished jobs' artifact folders older than this are removed (default:
   * `retentionMs`); the job stays listed and its artifacts answer 410.
   */
  artifactRetentionMs?: number;
  /**
   * Policy checked again right before a job runs (journal-resumed jobs too):
   * returns the request to run (e.g. with real paths) or throws, and the job
   * ends `failed` with that error.
   */
  confine?: (request: JobRequest) => JobRequest;
  /** The operator's policy for jobs (profiles, Jinja in vars). */
  policy?: JobPolicy;
  /**
   * Jobs that may wait in the queue; a submit beyond it is refused (429 with
   * Retry-After). Default 1000.
   */
  maxQueued?: number;
  /** Progress events of a running job kept in memory (default 200). */
  eventsInMemory?: number;
  /** Where the runner reports what it does (never secrets). */
  log?: (
    level: "info" | "warn" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
}

/** How often finished jobs past their retention are forgotten. */
const PRUNE_EVERY_MS = 10 * 60_000;

function now(): string {
  return new Date().toISOString();
}

/** Runs jobs, journals them, streams their progress. */
export class JobRunner {
  readonly #o: RunnerOptions;
  readonly #journal: Journal;
  /** Each job's own artifacts, under `<state-dir>/artifacts/<job-id>/`. */
  readonly artifacts: ArtifactStore;
  readonly #jobs = new Map<string, Job>();
  /** Each job's progress events: a capped tail in memory, all on disk. */
  readonly events: EventLog;
  /** Idempotency keys and the queue bound. */
  readonly #admission: Admission;
  readonly #subscribers = new Subscribers();
  readonly #runtimes = new Map<RuntimeName, DbtRuntime>();
  readonly #slots = new JobSlots();
  readonly #controllers = new Map<string, AbortController>();
  readonly #active = new Map<string, Promise<void>>();
  #accepting = true;
  #pruneTimer: ReturnType<typeof setInterval> | undefined;
  #artifactsSweptAt = 0;
  /** The last `created_at` given, in ms (see #createdAt). */
  #lastCreated = 0;
  /** Finished jobs in the order they ended (see retention.ts). */
  readonly #finished = new FinishedJobs();
  #shuttingDown = false;
  /** Aborted at shutdown: cloud jobs stop following, their runs go on. */
  readonly #detach = new AbortController();

  private constructor(o: RunnerOptions) {
    this.#o = o;
    this.#admission = new Admission(o.maxQueued);
    this.#journal = new Journal(o.stateDir, o.log ? { log: o.log } : {});
    this.artifacts = new ArtifactStore(join(o.stateDir, "artifacts"));
    this.events = new EventLog({
      dir: join(o.stateDir, "events"),
      memoryCap: o.eventsInMemory,
      log: o.log,
    });
  }

  /** Open the runner: replay the journal, recover, start queued jobs. */
  static async open(o: RunnerOptions): Promise<JobRunner> {
    await Deno.mkdir(o.stateDir, { recursive: true });
    const r = new JobRunner(o);
    const { jobs, skipped } = await r.#journal.load();
    if (skipped) {
      o.log?.("warn", "skipped unreadable journal lines", { skipped });
    }
    const recovered = recover(jobs, o.retentionMs, now());
    const { resume } = recovered;
    const kept = jobsToKeep(recovered.kept, r.#retention());
    r.#finished.add(...byEnd(kept.filter((j) => isFinal(j.status))));
    for (const job of kept) {
      r.#jobs.set(job.id, job);
      r.#admission.remember(job.idempotency_key, job.id);
    }
    await r.#journal.compact(kept);
    await r.#pruneArtifacts();
    await r.#pruneEvents();
    // Forget old jobs and artifacts on a timer too, not only on submit.
    const timer = setInterval(() => r.#prune(), PRUNE_EVERY_MS);
    Deno.unrefTimer(timer);
    r.#pruneTimer = timer;
    // A subscriber to a job that waits numbers on from what its file holds.
    for (const job of resume) await r.events.open(job.id);
    for (const job of resume) r.#enqueue(job);
    return r;
  }

  /**
   * Accept a job (journaled before this resolves). A valid `traceparent`
   * makes the job's spans children of the caller's trace.
   */
  async submit(
    request: JobRequest,
    idempotencyKey?: string,
    traceparent?: string,
  ): Promise<{ job: Job; created: boolean }> {
    if (!this.#accepting) {
      throw new FloeDbtError(
        ERROR_CODES.unavailable,
        "The agent is shutting down and accepts no new jobs",
        {
          hint: "retry against the restarted agent",
        },
      );
    }
    const runtime = request.runtime === undefined
      ? this.#o.defaultRuntime
      : (this.#o.chooseRuntime?.(request.runtime) ?? request.runtime);
    // Past-retention jobs go first: their idempotency keys are free again.
    this.#prune();
    if (idempotencyKey) {
      // A submit with this key may still be writing its journal line; no
      // await otherwise: from the check to creating() stays synchronous.
      const writing = this.#admission.writing(idempotencyKey);
      if (writing) await writing.catch(() => {});
      const existing = this.#admission.existing(
        idempotencyKey,
        request,
        runtime,
        (id) => this.#jobs.get(id),
      );
      if (existing) return { job: structuredClone(existing), created: false };
    }
    this.#admission.checkQueue(this.#jobs.values());
    const job: Job = {
      id: crypto.randomUUID(),
      status: "queued",
      runtime,
      request,
      idempotency_key: idempotencyKey ?? null,
      created_at: this.#createdAt(),
      started_at: null,
      finished_at: null,
      result: null,
      error: null,
      remote_run_id: null,
      agent_pid: null,
      ...(parseTraceparent(traceparent) ? { traceparent } : {}),
    };
    // On disk before anyone can see it: a failed write fails the request.
    await this.#admission.creating(
      idempotencyKey,
      this.#journal.append(job),
    );
    this.#jobs.set(job.id, job);
    this.events.create(job.id);
    this.#admission.remember(idempotencyKey, job.id);
    const snapshot = structuredClone(job);
    this.#enqueue(job);
    return { job: snapshot, created: true };
  }

  /**
   * Now, but later than the job before: the list (newest first, by
   * created_at) keeps the order jobs were sent in, even within one ms.
   */
  #createdAt(): string {
    this.#lastCreated = Math.max(Date.now(), this.#lastCreated + 1);
    return new Date(this.#lastCreated).toISOString();
  }

  #retention() {
    return {
      retentionMs: this.#o.retentionMs,
      maxFinished: this.#o.maxFinished,
      now: Date.now(),
    };
  }

  /**
   * Forget finished jobs past the retention's age or count (their events,
   * artifacts and idempotency keys too; see retention.ts), so a long-lived
   * daemon's memory stays bounded; the journal leaves them out at its next
   * compaction.
   */
  #forgetOld(): void {
    const gone = this.#finished.due(this.#retention());
    for (const job of gone) {
      this.#jobs.delete(job.id);
      this.#admission.forget(job.idempotency_key);
      void this.events.remove(job.id);
      this.#journal.forget(job.id);
    }
    if (gone.length) {
      void removeArtifacts(this.artifacts.root, gone.map((j) => j.id));
    }
  }

  /** Forget old jobs, then artifacts past the artifact retention. */
  #prune(): void {
    this.#forgetOld();
    // A sweep of the artifacts folder at most once a minute (their ages are
    // in hours; a sweep per submit made each submit O(jobs)).
    if (Date.now() - this.#artifactsSweptAt < 60_000) return;
    this.#artifactsSweptAt = Date.now();
    void this.#pruneArtifacts().catch((e) =>
      this.#o.log?.("error", "pruning job artifacts failed", {
        error: e instanceof Error ? e.message : String(e),
      })
    );
  }

  /** Remove the events files of jobs no longer known (at start). */
  async #pruneEvents(): Promise<void> {
    const removed = await this.events.sweep((id) => this.#jobs.has(id));
    if (removed) {
      this.#o.log?.("info", "pruned job events", { jobs: removed });
    }
  }

  /** Remove artifact folders of jobs past the artifact retention. */
  async #pruneArtifacts(): Promise<void> {
    const cutoff = Date.now() -
      (this.#o.artifactRetentionMs ?? this.#o.retentionMs);
    const keep = new Set<string>();
    for (const [id, job] of this.#jobs) {
      const ended = Date.parse(job.finished_at ?? job.created_at);
      if (!isFinal(job.status) || ended >= cutoff) keep.add(id);
    }
    const removed = await this.artifacts.prune(keep);
    if (removed.length) {
      this.#o.log?.("info", "pruned job artifacts", { jobs: removed.length });
    }
  }

  /** One job, or undefined. */
  get(id: string): Job | undefined {
    return this.#jobs.get(id);
  }

  /** All jobs, newest first. */
  list(): Job[] {
    return [...this.#jobs.values()].sort((a, b) =>
      a.created_at < b.created_at ? 1 : -1
    );
  }

  /**
   * Events so far (the in-memory tail, older ones from the job's events
   * file) plus a live subscription; the listener gets null at the end.
   */
  subscribe(id: string, listener: Listener): Subscription {
    const w = this.events.window(id);
    const replay = w.events;
    const job = this.#jobs.get(id);
    const done = !job || isFinal(job.status);
    const unsubscribe = done ? () => {} : this.#subscribers.add(id, listener);
    return {
      base: w.base,
      replay,
      older: (from) => this.events.readFile(id, from, w.base),
      done,
      unsubscribe,
    };
  }

  /**
   * Cancel a queued or running job. Answers at once: a running job is
   * signalled and ends `cancelled` when its runtime has stopped (the job
   * returned may still say `running`).
   */
  async cancel(id: string): Promise<Job> {
    const job = this.#jobs.get(id);
    if (!job) {
      throw new FloeDbtError(ERROR_CODES.notFound, `No job '${id}'`, {
        hint: "list jobs with GET /v1/jobs",
      });
    }
    if (job.status === "queued") {
      await this.#update(job, {
        status: "cancelled",
        finished_at: now(),
        error: {
          code: ERROR_CODES.cancelled,
          message: "Cancelled before it started",
        },
      });
      this.#finish(job.id);
    } else if (job.status === "running") {
      this.#controllers.get(id)?.abort(
        new FloeDbtError(ERROR_CODES.cancelled, "Cancelled by request"),
      );
    }
    return structuredClone(job);
  }

  /** Runtimes created so far (for /v1/runtimes and readiness). */
  runtime(name: RuntimeName): DbtRuntime {
    let rt = this.#runtimes.get(name);
    if (!rt) {
      rt = this.#o.factory(name);
      this.#runtimes.set(name, rt);
    }
    return rt;
  }

  /** Jobs queued or running now. */
  get pending(): number {
    return [...this.#jobs.values()].filter((j) => !isFinal(j.status)).length;
  }

  /**
   * Stop accepting; cloud jobs stop following their remote runs at once
   * (left running remotely, journaled `running`, reattached at the next
   * start); local and fusion jobs may finish within `graceMs`, then what
   * remains is cancelled and journaled as interrupted.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.#accepting = false;
    this.#shuttingDown = true;
    clearInterval(this.#pruneTimer);
    this.#detach.abort(
      new FloeDbtError(
        ERROR_CODES.unavailable,
        "The agent is shutting down: the remote run goes on and is reattached at the next start",
      ),
    );
    const running = [...this.#active.values()];
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(running),
      new Promise((r) => (timer = setTimeout(r, graceMs))),
    ]);
    clearTimeout(timer);
    for (const c of this.#controllers.values()) {
      c.abort(
        new FloeDbtError(ERROR_CODES.cancelled, "The agent is shutting down"),
      );
    }
    await Promise.allSettled([...this.#active.values()]);
    for (const job of this.#jobs.values()) {
      if (job.status === "queued") {
        // Stays queued in the journal: the next start runs it.
        this.#finish(job.id);
      }
    }
    for (const rt of this.#runtimes.values()) await rt.close().catch(() => {});
    await this.events.endAll();
    await this.#journal.close();
  }

  #enqueue(job: Job): void {
    let serial: boolean;
    try {
      serial = !this.runtime(job.runtime).supportsParallelExecution();
    } catch (e) {
      void this.#fail(job, e);
      return;
    }
    const p = this.#slots.run(
      job.runtime,
      this.#o.maxParallel(job.runtime),
      serial ? job.request.project_dir : undefined,
      () => this.#run(job),
    )
      .catch((e) =>
        // A journal that cannot be written must not take the daemon down.
        this.#o.log?.("error", "job bookkeeping failed", {
          job_id: job.id,
          error: e instanceof Error ? e.message : String(e),
        })
      )
      .finally(() => this.#active.delete(job.id));
    this.#active.set(job.id, p);
  }

  async #update(job: Job, patch: Partial<Job>): Promise<void> {
    Object.assign(job, patch);
    await this.#journal.append(job);
  }

  #emit(id: string, event: ProgressEvent): void {
    this.events.append(id, event);
    this.#subscribers.emit(id, event);
  }

  #finish(id: string): void {
    this.#subscribers.end(id);
    // Flushed and dropped from memory; the file answers from now on.
    void this.events.end(id).catch(() => {});
    const job = this.#jobs.get(id);
    if (job && isFinal(job.status)) this.#finished.add(job);
    // The count cap holds after every job, not only at the next submit.
    if (!this.#shuttingDown) this.#forgetOld();
  }

  async #fail(job: Job, e: unknown): Promise<void> {
    await this.#update(job, {
      status: "failed",
      finished_at: now(),
      error: errorOf(e),
    });
    this.#finish(job.id);
  }

  /**
   * A cloud job left behind at shutdown: with a run id or a trigger nonce it
   * stays `running` (the next start reattaches, nothing is cancelled
   * remotely); with neither nothing was sent, so it is queued again.
   */
  async #detached(job: Job): Promise<void> {
    if (!isRemote(job)) {
      await this.#update(job, { status: "queued", agent_pid: null });
    }
    this.#o.log?.("info", "cloud job left to its remote run until restart", {
      job_id: job.id,
      status: job.status,
      remote_run_id: job.remote_run_id ?? undefined,
      remote_nonce: job.remote_nonce ?? undefined,
    });
  }

  async #run(job: Job): Promise<void> {
    if (
      job.status !== "queued" &&
      !(job.status === "running" && isRemote(job))
    ) return;
    if (this.#shuttingDown) return;
    const controller = new AbortController();
    this.#controllers.set(job.id, controller);
    let req = job.request;
    const span = startJobSpan(job);
    try {
      await this.events.open(job.id);
      await this.#update(job, {
        status: "running",
        started_at: job.started_at ?? now(),
        agent_pid: Deno.pid,
        ...(span.traceId ? { trace_id: span.traceId } : {}),
      });
      this.#o.log?.("info", "job started", {
        job_id: job.id,
        trace_id: job.trace_id ?? undefined,
        command: req.command,
        runtime: job.runtime,
      });
      this.#emit(job.id, {
        v: 1,
        type: "job_started",
        command: req.command,
        runtime: job.runtime,
        ts: now(),
      });
      // Today's policy, not the one of the day it was queued.
      if (this.#o.confine) req = this.#o.confine(job.request);
      const rt = this.runtime(job.runtime);
      const result = await context.with(
        span.context,
        () =>
          callRuntime(rt, { ...job, request: req }, {
            onEvent: (e: ProgressEvent) => this.#emit(job.id, e),
            signal: controller.signal,
            // Awaited by the runtime: the run id is on disk before polling.
            onRemoteRun: (runId: string) =>
              this.#update(job, { remote_run_id: runId }),
            resumeRunId: job.remote_run_id ?? undefined,
            // Journaled before the trigger is sent (awaited by the runtime).
            onTrigger: (nonce: string) =>
              this.#update(job, { remote_nonce: nonce }),
            resumeTrigger: resumeTriggerOf(job),
            detach: this.#detach.signal,
          }, this.#o.policy),
      );
      const kept = await this.artifacts.keep(
        job.id,
        result,
        // Every event of the job, streamed from its events file.
        this.events.read(job.id),
        req.project_dir,
      );
      const { ok, ...outcome } = outcomeOf(kept);
      await this.#update(job, {
        ...outcome,
        finished_at: now(),
        result: kept,
      });
      this.#emit(job.id, {
        v: 1,
        type: "job_finished",
        success: ok,
        ts: now(),
      });
    } catch (e) {
      const shutdown = this.#shuttingDown && controller.signal.aborted;
      if (job.runtime === "cloud" && this.#detach.signal.aborted) {
        await this.#detached(job);
        return;
      } else if (controller.signal.aborted) {
        await this.#update(job, {
          status: shutdown ? "interrupted" : "cancelled",
          finished_at: now(),
          error: {
            code: ERROR_CODES.cancelled,
            message: shutdown
              ? "Interrupted: the agent shut down before the job finished"
              : "Cancelled by request",
          },
        });
      } else {
        const err = errorOf(e);
        await this.#update(job, {
          status: "failed",
          finished_at: now(),
          error: err,
        });
      }
      this.#emit(job.id, {
        v: 1,
        type: "job_finished",
        success: false,
        ts: now(),
      });
    } finally {
      const status: string = job.status;
      span.end(status, job.error?.code);
      this.#o.log?.(
        status === "succeeded" ? "info" : "warn",
        "job finished",
        {
          job_id: job.id,
          trace_id: job.trace_id ?? undefined,
          status,
          error_code: job.error?.code,
        },
      );
      this.#controllers.delete(job.id);
      this.#finish(job.id);
    }
  }
}

/** The trigger a crashed agent may have sent for `job` (nonce, no run id). */
function resumeTriggerOf(
  job: Job,
): { nonce: string; sinceMs: number } | undefined {
  if (job.remote_run_id || !job.remote_nonce) return undefined;
  return {
    nonce: job.remote_nonce,
    sinceMs: Date.parse(job.started_at ?? job.created_at),
  };
}
