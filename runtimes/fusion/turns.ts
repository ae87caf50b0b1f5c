/**
 * DuckDB allows one writing process per database file, and Fusion opens the
 * file even to compile an incremental model: calls on one DuckDB project
 * take turns inside this process (other adapters run in parallel). Another
 * process on the same file still gets DuckDB's own lock error (E002).
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import { Mutex } from "../../src/os/mutex.ts";

/** One queue per DuckDB project. */
export class DuckdbTurns {
  #locks = new Map<string, Mutex>();

  /** Run `work`, alone on the project when the adapter is duckdb. */
  async run<T>(
    adapter: string,
    projectDir: string,
    signal: AbortSignal | undefined,
    work: () => Promise<T>,
  ): Promise<T> {
    if (adapter !== "duckdb") return await work();
    let m = this.#locks.get(projectDir);
    if (!m) this.#locks.set(projectDir, m = new Mutex());
    const release = await m.acquire(Infinity, undefined, signal).catch((e) => {
      throw new FloeDbtError(
        ERROR_CODES.cancelled,
        "cancelled while waiting for another call on this DuckDB project",
        { cause: e, hint: "run the command again when wanted" },
      );
    });
    try {
      return await work();
    } finally {
      release();
    }
  }
}
