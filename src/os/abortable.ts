/**
 * Stop waiting for a promise when a signal aborts, without stopping the work
 * itself (a worker that is starting keeps starting and is used next time).
 *
 * @module
 */

/**
 * `promise`, or a rejection with `signal.reason` as soon as `signal` aborts
 * (at once when it already has). A later rejection of `promise` is handled,
 * never left unhandled.
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (!signal) return promise;
  promise.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}
