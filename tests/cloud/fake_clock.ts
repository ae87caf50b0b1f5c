/**
 * Fake time for the cloud runtime: `sleep` returns at once, advances `now`
 * and records each wait, so backoff and polling are asserted without waiting.
 *
 * @module
 */
import type { Clock } from "../../runtimes/cloud/mod.ts";

/** A fake clock and the waits it was asked for (ms). */
export function fakeClock(
  start = Date.now(),
): { clock: Clock; sleeps: number[]; advance(ms: number): void } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    advance(ms) {
      now += ms;
    },
    clock: {
      now: () => now,
      sleep(ms, signal) {
        if (signal?.aborted) return Promise.reject(signal.reason);
        sleeps.push(ms);
        now += ms;
        return Promise.resolve();
      },
    },
  };
}
