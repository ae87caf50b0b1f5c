/**
 * One cached answer with two lifetimes: a good answer is kept longer than a
 * bad one (a missing binary may be installed a moment later), and concurrent
 * askers share one computation.
 *
 * @module
 */

/** An answer and whether it counts as good. */
export interface Cached<T> {
  value: T;
  ok: boolean;
}

/** A single-entry cache keyed by a string (the inputs it depends on). */
export class TtlCache<T> {
  readonly #okMs: number;
  readonly #badMs: number;
  #entry: { key: string; at: number; value: Cached<T> } | undefined;
  #pending: { key: string; promise: Promise<Cached<T>> } | undefined;

  constructor(okMs: number, badMs: number) {
    this.#okMs = okMs;
    this.#badMs = badMs;
  }

  /** The fresh cached answer for `key`, if any (never computes). */
  peek(key: string): Cached<T> | undefined {
    const e = this.#entry;
    if (!e || e.key !== key) return undefined;
    const ttl = e.value.ok ? this.#okMs : this.#badMs;
    return performance.now() - e.at < ttl ? e.value : undefined;
  }

  /** The cached answer for `key`, or compute (once for concurrent callers). */
  get(key: string, compute: () => Promise<Cached<T>>): Promise<Cached<T>> {
    const hit = this.peek(key);
    if (hit) return Promise.resolve(hit);
    if (this.#pending?.key === key) return this.#pending.promise;
    const promise = compute().then((value) => {
      this.#entry = { key, at: performance.now(), value };
      return value;
    }).finally(() => {
      if (this.#pending?.promise === promise) this.#pending = undefined;
    });
    this.#pending = { key, promise };
    return promise;
  }

  /** Forget the answer. */
  clear(): void {
    this.#entry = undefined;
  }
}
