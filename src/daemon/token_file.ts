/**
 * The daemon's `--token-file`, re-read when it changes: a rotated Secret
 * (Kubernetes updates mounted files in place) takes effect without a
 * restart. A changed file is looked at when a request's token does not match
 * and at most every few seconds otherwise, so the old token stops working
 * soon after the rotation; an unreadable or too short file keeps the token
 * that was in effect (and says so in the log). A rotated file other users
 * can read is held to the start-up rule: off loopback it is not taken (the
 * previous token stays), on loopback it is taken with a warning.
 *
 * @module
 */
import { tokenMatches } from "./guard.ts";

/** How often a matching token still triggers a look at the file. */
const RECHECK_MS = 5_000;

/** Where the token file's changes are reported (never the token). */
export type TokenLog = (
  level: "info" | "warn",
  message: string,
  fields?: Record<string, unknown>,
) => void;

/** A token check that follows a token file. */
export class TokenFile {
  readonly #path: string;
  readonly #log: TokenLog;
  readonly #refuseShared: boolean;
  #token: string;
  #stamp: string | undefined;
  #mode = 0;
  #checkedAt = 0;

  /**
   * `token` is what the file held at start; `refuseShared` (a daemon others
   * reach over the network) refuses a rotated file other users can read.
   */
  constructor(
    path: string,
    token: string,
    log: TokenLog,
    refuseShared = false,
  ) {
    this.#path = path;
    this.#token = token;
    this.#log = log;
    this.#refuseShared = refuseShared;
  }

  async #stampNow(): Promise<string | undefined> {
    try {
      const st = await Deno.stat(this.#path);
      this.#mode = (st.mode ?? 0) & 0o777;
      return `${st.ino}:${st.size}:${st.mtime?.getTime()}:${this.#mode}`;
    } catch {
      return undefined;
    }
  }

  /** Re-read the file when it changed since the last look. */
  async #refresh(): Promise<void> {
    this.#checkedAt = Date.now();
    const stamp = await this.#stampNow();
    if (stamp === undefined || stamp === this.#stamp) return;
    // The first look reads the file too: it may have been rotated between
    // start-up and the first request.
    this.#stamp = stamp;
    let next: string;
    try {
      next = (await Deno.readTextFile(this.#path)).trim();
    } catch (e) {
      this.#log(
        "warn",
        "token file changed but cannot be read: keeping the previous token",
        {
          file: this.#path,
          error: (e as Error).message,
        },
      );
      return;
    }
    if (next.length < 16) {
      this.#log(
        "warn",
        "token file changed to a token shorter than 16 characters: keeping the previous token",
        {
          file: this.#path,
        },
      );
      return;
    }
    if (next !== this.#token && (this.#mode & 0o004) !== 0) {
      const fields = {
        file: this.#path,
        mode: this.#mode.toString(8).padStart(3, "0"),
        hint: `run 'chmod 600 ${this.#path}'`,
      };
      if (this.#refuseShared) {
        this.#log(
          "warn",
          "token file changed but is readable by other users: keeping the previous token",
          fields,
        );
        return;
      }
      this.#log(
        "warn",
        "token file changed and is readable by other users: anyone on this machine can call the daemon",
        fields,
      );
    }
    if (next !== this.#token) {
      this.#token = next;
      this.#log("info", "token file changed: the new token is in effect", {
        file: this.#path,
      });
    }
  }

  /** True when `given` is the token in effect (the file is re-read if it changed). */
  async matches(given: string): Promise<boolean> {
    if (
      this.#stamp === undefined || Date.now() - this.#checkedAt > RECHECK_MS
    ) {
      await this.#refresh();
    }
    if (await tokenMatches(given, this.#token)) return true;
    await this.#refresh();
    return await tokenMatches(given, this.#token);
  }
}
