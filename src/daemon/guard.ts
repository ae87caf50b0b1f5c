/**
 * The daemon's guards: bearer-token auth compared in constant time, and
 * project directories confined to the configured roots (symlinks resolved).
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import { realpathSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { isLoopbackAddress } from "../os/loopback.ts";

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
}

/** True when `given` equals `expected`, in time independent of where they differ. */
export async function tokenMatches(
  given: string,
  expected: string,
): Promise<boolean> {
  return timingSafeEqual(await digest(given), await digest(expected));
}

/** Hosts that only this machine can reach, in any spelling (see loopback.ts). */
export function isLoopback(host: string): boolean {
  return isLoopbackAddress(host);
}

function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * The real path of `dir` when it lies under one of `roots` (after resolving
 * symlinks); E011 (403) otherwise, E003 when it does not exist.
 */
export function confine(dir: string, roots: string[], what: string): string {
  const lexical = resolve(dir);
  // Roots as given and as real paths (a root may itself sit behind a link).
  const lexicalRoots = roots.flatMap((r) => {
    try {
      return [resolve(r), realpathSync(r)];
    } catch {
      return [resolve(r)];
    }
  });
  // Refuse before touching the filesystem: whether a path outside the roots
  // exists is none of the caller's business.
  if (!lexicalRoots.some((r) => within(r, lexical))) {
    throw outside(dir, what, lexicalRoots);
  }
  let real: string;
  try {
    real = realpathSync(lexical);
  } catch {
    throw new FloeDbtError(
      ERROR_CODES.configuration,
      `${what} '${dir}' does not exist`,
      {
        hint: "send a directory that exists on the agent's machine",
      },
    );
  }
  const realRoots = roots.map((r) => {
    try {
      return realpathSync(r);
    } catch {
      return resolve(r);
    }
  });
  if (!realRoots.some((r) => within(r, real))) {
    throw outside(dir, what, realRoots);
  }
  return real;
}

function outside(dir: string, what: string, roots: string[]): FloeDbtError {
  // The roots are the operator's business: the body never lists them, the
  // daemon log does (see the callers).
  return new FloeDbtError(
    ERROR_CODES.forbidden,
    `${what} '${dir}' is outside the allowed project roots`,
    {
      hint: roots.length
        ? "use a project under one of the daemon's project roots: ask the operator, or see the daemon log"
        : "no project roots are configured: start serve with --project-root DIR",
    },
  );
}

/**
 * The request with `project_dir` (and `profiles_dir`) confined to `roots`
 * and replaced by their real paths; throws like `confine`.
 */
export function confineRequest<
  T extends { project_dir: string; profiles_dir?: string | undefined },
>(req: T, roots: string[]): T {
  const out = {
    ...req,
    project_dir: confine(req.project_dir, roots, "project_dir"),
  };
  if (req.profiles_dir) {
    out.profiles_dir = confine(req.profiles_dir, roots, "profiles_dir");
  }
  return out;
}
