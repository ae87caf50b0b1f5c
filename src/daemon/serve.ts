/**
 * Start the daemon: the job runner plus the HTTP API on Deno.serve, loopback
 * only unless a token is set, and a graceful shutdown that drains jobs.
 *
 * @module
 */
import { join } from "node:path";
import type { PlatformConfig, RuntimeName } from "../config.ts";
import { configError } from "../errors.ts";
import { createRuntime, RUNTIME_NAMES } from "../registry.ts";
import { JobRunner } from "../jobs/runner.ts";
import { chooseRuntime } from "../runtime_choice.ts";
import { resolveSecret } from "../secrets.ts";
import { createApp } from "./app.ts";
import { isLoopback } from "./guard.ts";

/** How to start the daemon. */
export interface DaemonOptions {
  host: string;
  port: number;
  projectRoots: string[];
  tokenFile?: string | undefined;
  tokenRef?: string | undefined;
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

async function loadToken(o: DaemonOptions): Promise<string | undefined> {
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
  } else return undefined;
  if (token.length < 16) {
    throw configError(
      `The token from ${where} is shorter than 16 characters`,
      "use a long random token (e.g. openssl rand -hex 32)",
    );
  }
  return token;
}

/** Start the daemon; resolves once it listens. */
export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const token = await loadToken(o);
  if (!token && !isLoopback(o.host)) {
    throw configError(
      `Refusing to listen on '${o.host}' without a token: only loopback addresses may go without one`,
      "pass --token-file FILE or --token-ref NAME, or listen on 127.0.0.1",
    );
  }
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
        : 1;
    },
    retentionMs: o.retentionHours * 3600_000,
    artifactRetentionMs: Math.min(
      o.artifactRetentionHours ?? o.retentionHours,
      o.retentionHours,
    ) * 3600_000,
    log: o.log,
  });
  const streams = new Set<() => void>();
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
  });
  let ready!: (port: number) => void;
  const listening = new Promise<number>((r) => (ready = r));
  const server = Deno.serve({
    hostname: o.host,
    port: o.port,
    onListen: ({ port }) => ready(port),
  }, app.fetch);
  const port = await listening;
  o.log(
    "info",
    `floe-dbt daemon listening on http://${
      o.host.includes(":") ? `[${o.host}]` : o.host
    }:${port}`,
    {
      auth: token ? "bearer" : "none (loopback)",
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
