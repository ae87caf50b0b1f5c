/**
 * Podman for the container test, called the way this kind of machine needs
 * (scripts/setup-container installs it and makes the local base images):
 * `--runtime runc` (crun fails on cgroups in hybrid mode) and explicit
 * ulimits within the hard limits (podman's defaults exceed them).
 *
 * @module
 */

/** Podman's global flags. */
export const PODMAN_GLOBAL = ["--runtime", "runc"];
/** Ulimits for `podman build` and `podman run`. */
export const LIMITS = [
  "--ulimit",
  "nofile=20000:20000",
  "--ulimit",
  "nproc=20000:20000",
];
/** Local bases made from Debian packages, standing for the public images. */
export const LOCAL_BASES = {
  BUILD_BASE: "localhost/floe-build-base:bookworm",
  RUNTIME_BASE: "localhost/floe-python-base:bookworm",
};
const SETUP = "run scripts/setup-container (or scripts/setup --tests)";

const dec = new TextDecoder();

/** A finished podman call. */
export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `podman ARGS` (argument list, never a shell). */
export async function podman(args: string[]): Promise<PodmanResult> {
  const out = await new Deno.Command("podman", {
    args: [...PODMAN_GLOBAL, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** `podman ARGS`, throwing with podman's message unless it succeeds. */
export async function podmanOk(args: string[]): Promise<string> {
  const r = await podman(args);
  if (r.code !== 0) {
    throw new Error(
      `podman ${args.slice(0, 2).join(" ")} failed (exit ${r.code}): ${
        r.stderr.trim().split("\n").slice(-8).join("\n")
      }`,
    );
  }
  return r.stdout;
}

/**
 * What the container test needs, or an error telling to run the set-up:
 * podman on PATH, runc, and the local base images.
 */
export async function containerPrerequisites(): Promise<string | undefined> {
  try {
    const r = await podman(["--version"]);
    if (r.code !== 0) {
      return `podman does not run (${r.stderr.trim()}): ${SETUP}`;
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return `podman is not installed: ${SETUP}`;
    }
    throw e;
  }
  for (const image of Object.values(LOCAL_BASES)) {
    const r = await podman(["image", "exists", image]);
    if (r.code !== 0) {
      return `the local base image ${image} is missing: ${SETUP}`;
    }
  }
  return undefined;
}

/** A free TCP port on the loopback interface. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
