/**
 * When a job may start: at most `cap` jobs of a runtime at once, and for a
 * runtime that cannot run one project twice at a time (local dbt-core), one
 * job per project, in submission order. A project's waiting job takes no
 * runtime slot, so a busy project never holds up another one.
 *
 * @module
 */
import pLimit from "p-limit";

/** Per-runtime caps plus per-project queues. */
export class JobSlots {
  readonly #caps = new Map<string, ReturnType<typeof pLimit>>();
  /** The last job queued per `runtime\0project` key. */
  readonly #tails = new Map<string, Promise<unknown>>();

  /**
   * Run `fn` once its project's earlier jobs (when `project` is given) have
   * ended and the runtime has a free slot (`cap` fixed at the first call).
   */
  run<T>(
    runtime: string,
    cap: number,
    project: string | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    let limit = this.#caps.get(runtime);
    if (!limit) {
      limit = pLimit(Math.max(1, cap));
      this.#caps.set(runtime, limit);
    }
    const capped = limit;
    if (project === undefined) return capped(fn);
    const key = `${runtime}\0${project}`;
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const mine = prev.catch(() => {}).then(() => capped(fn));
    const tail = mine.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return mine;
  }

  /** Jobs running or waiting for a slot, by runtime (for observability). */
  load(runtime: string): { active: number; pending: number } {
    const l = this.#caps.get(runtime);
    return { active: l?.activeCount ?? 0, pending: l?.pendingCount ?? 0 };
  }
}
