/**
 * Start the daemon: the job runner plus the HTTP API on Deno.serve, always
 * behind a bearer token (given, or generated into the state directory), and
 * a graceful shutdown that drains jobs.
 *
 * @module
 */
import { join } from "node:path";
import type { PlatformConfig, RuntimeName } from "../config.ts";
import { configError, ERROR_CODES, FloeDbtError } from "../errors.ts";
import { createRuntime, RUNTIME_NAMES } from "../registry.ts";
import { JobRunner } from "../jobs/runner.ts";
import { chooseRuntime } from "../runtime_choice.ts";
import { resolveSecret } from "../secrets.ts";
import { createApp } from "./app.ts";
import { confineRequest, isLoopback } from "./guard.ts";
import { generatedToken, tokenPath } from "./token.ts";

/** How to start the daemon. */
export interface DaemonOptions {
  host: string;
  port: number;
  projectRoots: string[];
  tokenFile?: string | undefined;
  tokenRef?: string | undefined;
  /** Origins browsers may call from (none by default). */
  allowOrigins?: string[] | undefined;
  /** Extra Host names a loopback daemon answers. */
  allowHosts?: string[] | undefined;
  stateDir: string;
  graceSeconds: number;
  maxBodyBytes: number;
  retentionHours: number;
  /** Keep finished jobs' artifacts this long (default and cap: retention). */
  artifactRetentionHours?: number | undefined;
  config: PlatformConfig;
  defaultRuntime: RuntimeName;
  log: (
    level: "info" | "warn" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
}

/** A running daemon. */
export interface Daemon {
  port: number;
  runner: JobRunner;
  /** Stop accepting, close streams, drain jobs within the grace, stop. */
  shutdown(): Promise<void>;
  finished: Promise<void>;
}

/** The default state directory. */
export function defaultStateDir(): string {
  const env = Deno.env.get("FLOE_STATE_DIR");
  if (env) return env;
  const home = Deno.env.get("HOME") ?? Deno.cwd();
  return join(home, ".local", "state", "floe-dbt");
}

async function loadToken(
  o: DaemonOptions,
): Promise<{ token: string; auth: string }> {
  let token: string;
  let where: string;
  if (o.tokenFile) {
    where = `the file '${o.tokenFile}'`;
    try {
      token = (await Deno.readTextFile(o.tokenFile)).trim();
    } catch (e) {
      throw configError(
        `Cannot read the token file '${o.tokenFile}': ${(e as Error).message}`,
        "pass --token-file with a readable file",
      );
    }
  } else if (o.tokenRef) {
    where = `the secret reference '${o.tokenRef}'`;
    token = await resolveSecret(o.tokenRef);
  } else {
    return {
      token: await generatedToken(o.stateDir),
      auth: `bearer (generated, in ${tokenPath(o.stateDir)})`,
    };
  }
  if (token.length < 16) {
    throw configError(
      `The token from ${where} is shorter than 16 characters`,
      "use a long random token (e.g. openssl rand -hex 32)",
    );
  }
  return { token, auth: `bearer (from ${where})` };
}

/** Start the daemon; resolves once it listens. */
export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  await Deno.mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  const { token, auth } = await loadToken(o);
  if (o.projectRoots.length === 0) {
    throw configError(
      "serve needs at least one --project-root DIR",
      "jobs may only use projects under these directories",
    );
  }
  const runner = await JobRunner.open({
    stateDir: o.stateDir,
    defaultRuntime: o.defaultRuntime,
    chooseRuntime: (name) => chooseRuntime(name, o.config),
    factory: (name) => createRuntime(name, o.config),
    maxParallel: (name) => {
      const section = o.config.plugins.dbt_runtime_config;
      return name === "fusion"
        ? (section.fusion?.max_parallel ?? 4)
        : name === "cloud"
        ? (section.cloud?.max_parallel ?? 8)
        // local: projects at once, one warm worker each.
        : (section.local?.max_workers ?? 4);
    },
    retentionMs: o.retentionHours * 3600_000,
    artifactRetentionMs: Math.min(
      o.artifactRetentionHours ?? o.retentionHours,
      o.retentionHours,
    ) * 3600_000,
    log: o.log,
    // Today's roots, again, right before each job runs (resumed ones too).
    confine: (req) => {
      try {
        return confineRequest(req, o.projectRoots);
      } catch (e) {
        if (!(e instanceof FloeDbtError) || e.code !== ERROR_CODES.forbidden) {
          throw e;
        }
        o.log("warn", "job refused at start: outside the project roots", {
          project_dir: req.project_dir,
          profiles_dir: req.profiles_dir,
          project_roots: o.projectRoots,
        });
        throw new FloeDbtError(
          ERROR_CODES.forbidden,
          `Refused when the job started: ${e.message} (the daemon's roots changed since it was queued)`,
          e.hint ? { hint: e.hint } : {},
        );
      }
    },
  });
  const streams = new Set<() => void>();
  let boundPort = o.port; // the real one once Deno.serve listens (port 0)
  const app = createApp({
    runner,
    projectRoots: o.projectRoots,
    token,
    defaultRuntime: o.defaultRuntime,
    runtimeNames: RUNTIME_NAMES,
    maxBodyBytes: o.maxBodyBytes,
    chooseRuntime: (name) =>
      name === undefined ? o.defaultRuntime : chooseRuntime(name, o.config),
    streams,
    boundary: {
      loopback: isLoopback(o.host),
      port: () => boundPort,
      allowHosts: o.allowHosts ?? [],
      allowOrigins: o.allowOrigins ?? [],
      log: o.log,
    },
  });
  let ready!: (port: number) => void;
  const listening = new Promise<number>((r) => (ready = r));
  const server = Deno.serve({
    hostname: o.host,
    port: o.port,
    onListen: ({ port }) => {
      boundPort = port;
      ready(port);
    },
  }, app.fetch);
  const port: number = await listening;
  o.log(
    "info",
    `floe-dbt daemon listening on http://${
      o.host.includes(":") ? `[${o.host}]` : o.host
    }:${port}`,
    {
      auth,
      allow_origins: o.allowOrigins ?? [],
      allow_hosts: o.allowHosts ?? [],
      state_dir: o.stateDir,
      project_roots: o.projectRoots,
    },
  );
  let stopping: Promise<void> | undefined;
  return {
    port,
    runner,
    finished: server.finished,
    shutdown() {
      stopping ??= (async () => {
        o.log("info", "shutting down: no new jobs, draining running ones", {
          grace_seconds: o.graceSeconds,
          pending: runner.pending,
        });
        const draining = runner.shutdown(o.graceSeconds * 1000);
        await draining;
        for (const close of streams) close();
        await server.shutdown();
        o.log("info", "stopped");
      })();
      return stopping;
    },
  };
}
