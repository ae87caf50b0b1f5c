/**
 * Live followers of running jobs: a job's progress events reach each
 * listener as they happen, and `null` once the job has ended. What came
 * before a subscription is replayed from the job's event log (the runner's
 * `subscribe`), not from here.
 *
 * @module
 */
import type { ProgressEvent } from "../contract/schemas.ts";
import type { NumberedEvent } from "./event_log.ts";

/** Gets each event of a job, then `null` at its end. */
export type Listener = (event: ProgressEvent | null) => void;

/** A job's events for a subscriber: the in-memory tail, older ones on disk. */
export interface Subscription {
  /** Id of `replay[0]`. */
  base: number;
  replay: ProgressEvent[];
  /** Events with ids in [from, base), read from the job's events file. */
  older(from: number): AsyncGenerator<NumberedEvent>;
  done: boolean;
  unsubscribe(): void;
}

/** The listeners of each running job. */
export class Subscribers {
  readonly #byJob = new Map<string, Set<Listener>>();

  /** Follow job `id`; returns what stops following. */
  add(id: string, listener: Listener): () => void {
    const set = this.#byJob.get(id) ?? new Set();
    set.add(listener);
    this.#byJob.set(id, set);
    return () => this.#byJob.get(id)?.delete(listener);
  }

  /** Hand an event of job `id` to its listeners. */
  emit(id: string, event: ProgressEvent): void {
    for (const l of this.#byJob.get(id) ?? []) l(event);
  }

  /** Job `id` has ended: its listeners get `null` and are dropped. */
  end(id: string): void {
    for (const l of this.#byJob.get(id) ?? []) l(null);
    this.#byJob.delete(id);
  }
}
