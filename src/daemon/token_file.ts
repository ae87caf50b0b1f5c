/**
 * The daemon's `--token-file`, re-read when it changes: a rotated Secret
 * (Kubernetes updates mounted files in place) takes effect without a
 * restart. A changed file is looked at when a request's token does not match
 * and at most every few seconds otherwise, so the old token stops working
 * soon after the rotation; an unreadable or too short file keeps the token
 * that was in effect (and says so in the log). A file other users can read
 * is held to the start-up rule: off loopback nothing is accepted while it
 * stays so (neither its token nor the previous one, which a rotation may be
 * revoking), on loopback its token is taken with a warning.
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
  readonly #recheckMs: number;
  #token: string;
  #stamp: string | undefined;
  #mode = 0;
  #refusing = false;
  #checkedAt = 0;

  /**
   * `token` is what the file held at start; `refuseShared` (a daemon others
   * reach over the network) refuses a file other users can read;
   * `recheckMs`: how often a matching token still looks at the file.
   */
  constructor(
    path: string,
    token: string,
    log: TokenLog,
    refuseShared = false,
    recheckMs = RECHECK_MS,
  ) {
    this.#recheckMs = recheckMs;
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
    const shared = (this.#mode & 0o004) !== 0;
    const fields = {
      file: this.#path,
      mode: this.#mode.toString(8).padStart(3, "0"),
      hint: `run 'chmod 600 ${this.#path}'`,
    };
    if (shared && this.#refuseShared) {
      // Neither the file's token (others can read it) nor the previous one
      // (the rotation may be revoking it): nothing is accepted until fixed.
      if (!this.#refusing) {
        this.#log(
          "warn",
          "token file is readable by other users: every request is refused until it is private",
          fields,
        );
      }
      this.#refusing = true;
      return;
    }
    if (this.#refusing) {
      this.#refusing = false;
      this.#log("info", "token file is private again: requests are accepted", {
        file: this.#path,
      });
    }
    if (next !== this.#token && shared) {
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
      this.#stamp === undefined ||
      Date.now() - this.#checkedAt >= this.#recheckMs
    ) {
      await this.#refresh();
    }
    if (!this.#refusing && await tokenMatches(given, this.#token)) return true;
    await this.#refresh();
    return !this.#refusing && await tokenMatches(given, this.#token);
  }
}
