/**
 * The pool of warm dbt-core workers: one per project, at most `maxWorkers`
 * in all, and idle workers together under a memory budget. Room is made by
 * stopping the least recently used idle worker; a worker in a run is never
 * stopped by the pool (only its own run's cancel or deadline stops it).
 *
 * The pool does not serialize a project's runs: the project lock does
 * (lock.ts). It only hands a project's worker to one run at a time.
 *
 * @module
 */

/** What the pool needs of a worker. */
export interface PooledWorker {
  readonly exited: boolean;
  rssMb(): Promise<number | undefined>;
  stop(graceMs?: number): Promise<void>;
}

/** How the pool is bounded. */
export interface PoolLimits {
  maxWorkers: number;
  memoryBudgetMb: number;
  /** Grace between SIGTERM and SIGKILL when stopping a worker, ms. */
  killGraceMs: number;
}

/** Why and when a worker left the pool without a failure of its own. */
export interface Eviction {
  project: string;
  reason: string;
  at: string;
}

interface Entry<W> {
  worker: W;
  busy: boolean;
  lastUsed: number;
}

/** Workers by project, bounded (see the module doc). */
export class WorkerPool<W extends PooledWorker> {
  readonly #limits: PoolLimits;
  readonly #entries = new Map<string, Entry<W>>();
  /** Projects whose worker is starting (they hold a slot). */
  readonly #starting = new Set<string>();
  readonly #waiters: (() => void)[] = [];
  #clock = 0;
  /** Workers stopped to make room or to keep the budget (newest last). */
  readonly evictions: Eviction[] = [];

  constructor(limits: PoolLimits) {
    this.#limits = limits;
  }

  /** The project's idle live worker, marked busy; undefined when none. */
  take(project: string): W | undefined {
    const e = this.#entries.get(project);
    if (!e || e.busy) return undefined;
    if (e.worker.exited) {
      this.#entries.delete(project);
      this.#wake();
      return undefined;
    }
    e.busy = true;
    e.lastUsed = ++this.#clock;
    return e.worker;
  }

  /**
   * Start a worker for the project (which has none) once a slot is free,
   * evicting least recently used idle workers as needed; it is returned busy.
   */
  async start(
    project: string,
    start: () => Promise<W>,
    signal?: AbortSignal,
  ): Promise<W> {
    await this.#dropOwn(project);
    while (
      this.#entries.size + this.#starting.size >= this.#limits.maxWorkers
    ) {
      signal?.throwIfAborted();
      const victim = this.#lruIdle();
      if (victim) {
        await this.#evict(
          victim,
          `pool full (max_workers ${this.#limits.maxWorkers})`,
        );
        continue;
      }
      // Every slot is in a run: wait for one to end.
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal?.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#waiters.push(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        });
      });
    }
    this.#starting.add(project);
    try {
      const worker = await start();
      this.#entries.set(project, {
        worker,
        busy: true,
        lastUsed: ++this.#clock,
      });
      return worker;
    } finally {
      this.#starting.delete(project);
      this.#wake();
    }
  }

  /** The run is over: the worker is idle again; then keep the budget. */
  async release(project: string, worker: W): Promise<void> {
    const e = this.#entries.get(project);
    if (e?.worker === worker) {
      e.busy = false;
      e.lastUsed = ++this.#clock;
      if (worker.exited) this.#entries.delete(project);
    }
    this.#wake();
    await this.#keepBudget();
  }

  /** Remove and stop the project's worker (a cancel, a deadline, a recycle). */
  async discard(project: string, worker: W): Promise<void> {
    const e = this.#entries.get(project);
    if (e?.worker === worker) this.#entries.delete(project);
    this.#wake();
    await worker.stop(this.#limits.killGraceMs);
  }

  /** Stop every worker. */
  async close(): Promise<void> {
    const all = [...this.#entries.values()].map((e) => e.worker);
    this.#entries.clear();
    this.#wake();
    await Promise.all(all.map((w) => w.stop(this.#limits.killGraceMs)));
  }

  /** Projects with a worker, and what each is doing. */
  snapshot(): { project: string; worker: W; busy: boolean }[] {
    return [...this.#entries.entries()]
      .sort(([, a], [, b]) => b.lastUsed - a.lastUsed)
      .map(([project, e]) => ({ project, worker: e.worker, busy: e.busy }));
  }

  /** The most recently used live worker. */
  latest(): W | undefined {
    return this.snapshot().find((s) => !s.worker.exited)?.worker;
  }

  async #dropOwn(project: string): Promise<void> {
    const e = this.#entries.get(project);
    if (e && !e.busy) {
      this.#entries.delete(project);
      await e.worker.stop(this.#limits.killGraceMs);
    }
  }

  #lruIdle(except?: string): string | undefined {
    let best: string | undefined;
    let bestUsed = Infinity;
    for (const [project, e] of this.#entries) {
      if (e.busy || project === except) continue;
      if (e.lastUsed < bestUsed) {
        best = project;
        bestUsed = e.lastUsed;
      }
    }
    return best;
  }

  async #evict(project: string, reason: string): Promise<void> {
    const e = this.#entries.get(project);
    if (!e || e.busy) return;
    this.#entries.delete(project);
    this.evictions.push({ project, reason, at: new Date().toISOString() });
    if (this.evictions.length > 100) this.evictions.shift();
    await e.worker.stop(this.#limits.killGraceMs);
    this.#wake();
  }

  /** Stop least recently used idle workers while all together pass the budget. */
  async #keepBudget(): Promise<void> {
    for (;;) {
      let total = 0;
      for (const e of this.#entries.values()) {
        total += (await e.worker.rssMb()) ?? 0;
      }
      if (total <= this.#limits.memoryBudgetMb) return;
      const victim = this.#lruIdle();
      if (!victim) return;
      await this.#evict(
        victim,
        `workers use ${
          total.toFixed(0)
        } MiB, over memory_budget_mb ${this.#limits.memoryBudgetMb}`,
      );
    }
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}
