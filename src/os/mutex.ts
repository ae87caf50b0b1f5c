/**
 * A small async mutex with a bounded wait.
 *
 * @module
 */

/** Serializes async work; waiters are served in order. */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();
  #locked = false;

  /** True while someone holds the mutex. */
  get locked(): boolean {
    return this.#locked;
  }

  /**
   * Wait for the mutex; resolves to a release function. Rejects with the
   * result of `onTimeout` after `timeoutMs`, or when `signal` aborts.
   */
  acquire(
    timeoutMs = Infinity,
    onTimeout: () => Error = () => new Error("mutex wait timed out"),
    signal?: AbortSignal,
  ): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const prev = this.#tail;
    this.#tail = prev.then(() => mine);
    return new Promise((resolve, reject) => {
      let done = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const giveUp = (error: Error) => {
        if (done) return;
        done = true;
        // Pass our turn on without holding it.
        prev.then(() => release());
        reject(error);
      };
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => giveUp(onTimeout()), timeoutMs);
      }
      const onAbort = () =>
        giveUp(
          signal?.reason instanceof Error
            ? signal.reason
            : new Error("aborted"),
        );
      signal?.addEventListener("abort", onAbort, { once: true });
      prev.then(() => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (done) return;
        done = true;
        this.#locked = true;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.#locked = false;
          release();
        });
      });
    });
  }
}
