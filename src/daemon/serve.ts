/**
 * Start the daemon: the job runner plus the HTTP API on its own HTTP/1.1
 * server (request deadlines, a connection cap, accept errors retried: see
 * http1.ts), always behind a bearer token (given, or generated into the
 * state directory), and a graceful shutdown that drains jobs.
 *
 * @module
 */
import { join } from "node:path";
import type { PlatformConfig, RuntimeName } from "../config/config.ts";
import { configError, ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { createRuntime, RUNTIME_NAMES } from "../registry.ts";
import { JobRunner } from "../jobs/runner.ts";
import type { JobPolicy } from "../jobs/policy.ts";
import type { JobRequest } from "../jobs/schemas.ts";
import { chooseRuntime } from "../config/runtime_choice.ts";
import { resolveSecret, sealSecretEnv } from "../config/secrets.ts";
import { createApp } from "./app.ts";
import { defaultMaxConnections, Http1Server } from "./http1.ts";
import { confineRequest, isLoopback } from "./guard.ts";
import { StreamCaps } from "./sse.ts";
import { removeIdentity, writeIdentity } from "./identity.ts";
import { TokenFile } from "./token_file.ts";
import { lockStateDir, stateDirError, type StateLock } from "./state_lock.ts";
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
  /** Jobs that may wait to run; beyond it a submit is 429 (default 1000). */
  maxQueued?: number | undefined;
  /** Open event streams in all (default 1024; per job: 64 or this if less). */
  maxStreams?: number | undefined;
  /**
   * A request (head and body) must arrive within this many seconds, else
   * its connection is closed (default 30).
   */
  requestTimeoutSeconds?: number | undefined;
  /** Open connections at most (default: half the open-file limit). */
  maxConnections?: number | undefined;
  /** Finished jobs kept at most, besides their age (default 10000). */
  maxFinished?: number | undefined;
  /** What jobs may do: Jinja in vars, the fallback profiles directory. */
  jobPolicy?: JobPolicy | undefined;
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
    await checkTokenFileMode(o);
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

/**
 * A --token-file other users can read: a warning on loopback, refused (E003)
 * for a daemon others reach over the network.
 */
async function checkTokenFileMode(o: DaemonOptions): Promise<void> {
  const mode = ((await Deno.stat(o.tokenFile!)).mode ?? 0) & 0o777;
  if ((mode & 0o004) === 0) return;
  const message =
    `The token file '${o.tokenFile}' is readable by other users (mode ${
      mode.toString(8).padStart(3, "0")
    })`;
  const hint =
    `run 'chmod 600 ${o.tokenFile}' (in Kubernetes: defaultMode 0400 on the secret volume)`;
  if (!isLoopback(o.host)) {
    throw configError(
      `${message}: refused for a daemon listening on ${o.host}`,
      hint,
    );
  }
  o.log("warn", `${message}: anyone on this machine can call the daemon`, {
    hint,
  });
}

/** Start the daemon; resolves once it listens. */
export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  if (o.projectRoots.length === 0) {
    throw configError(
      "serve needs at least one --project-root DIR",
      "jobs may only use projects under these directories",
    );
  }
  // Secrets given as variables leave the environment (secrets.ts); the
  // daemon never reads FLOE_DBT_TOKEN (its clients do).
  sealSecretEnv();
  Deno.env.delete("FLOE_DBT_TOKEN");
  // First the state directory's lock: a second daemon stops here, before
  // reading or writing anything of the first one's.
  const lock = await lockStateDir(o.stateDir);
  let server: Http1Server | undefined;
  try {
    const { token, auth } = await loadTokenIn(o);
    // Then the port, before any recovery: "address in use" leaves the
    // journal as it was. Requests wait for the runner below.
    const api: { fetch?: (req: Request) => Response | Promise<Response> } = {};
    server = bind(o, (req) =>
      api.fetch ? api.fetch(req) : Response.json({
        code: ERROR_CODES.unavailable,
        message: "The agent is starting: recovering its job journal",
        hint: "retry in a moment",
      }, { status: 503, headers: { "retry-after": "1" } }));
    const port = server.port;
    // Who holds the port: clients send the generated token only to us.
    await writeIdentity(o.stateDir, o.host, port).catch((e) => {
      throw stateDirError(o.stateDir, "record the daemon's pid and port in", e);
    });
    const runner = await openRunner(o);
    // A --token-file is followed: a rotated Secret needs no restart.
    const check = o.tokenFile
      ? new TokenFile(o.tokenFile, token, o.log, !isLoopback(o.host))
      : token;
    // Loopback as asked or as bound: every spelling keeps the Host check.
    const loopback = isLoopback(o.host) || isLoopback(server.hostname);
    const { fetch, streams } = appFor(o, runner, check, port, loopback);
    api.fetch = fetch;
    return running(o, { port, runner, streams, server, lock, auth });
  } catch (e) {
    await server?.shutdown().catch(() => {});
    if (server) await removeIdentity(o.stateDir);
    lock.release();
    throw e;
  }
}

async function loadTokenIn(
  o: DaemonOptions,
): Promise<{ token: string; auth: string }> {
  try {
    return await loadToken(o);
  } catch (e) {
    if (e instanceof FloeDbtError) throw e;
    throw stateDirError(o.stateDir, "keep the generated token in", e);
  }
}

/** Listen on host:port; a port in use or a bad address is E003. */
function bind(
  o: DaemonOptions,
  handler: (req: Request) => Response | Promise<Response>,
): Http1Server {
  try {
    return new Http1Server({
      hostname: o.host,
      port: o.port,
      handler,
      requestTimeoutMs: (o.requestTimeoutSeconds ?? 30) * 1000,
      maxConnections: o.maxConnections ?? defaultMaxConnections(),
      maxBodyBytes: o.maxBodyBytes,
      log: o.log,
    });
  } catch (e) {
    const where = `${o.host.includes(":") ? `[${o.host}]` : o.host}:${o.port}`;
    if (e instanceof Deno.errors.AddrInUse) {
      throw configError(
        `Cannot listen on ${where}: the address is in use`,
        "stop what listens there or choose another --port (FLOE_DBT_PORT)",
      );
    }
    throw configError(
      `Cannot listen on ${where}: ${(e as Error).message}`,
      "check --host and --port",
    );
  }
}

/** The job runner over the journal; state directory failures are E003. */
async function openRunner(o: DaemonOptions): Promise<JobRunner> {
  try {
    return await JobRunner.open({
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
      maxFinished: o.maxFinished,
      artifactRetentionMs: Math.min(
        o.artifactRetentionHours ?? o.retentionHours,
        o.retentionHours,
      ) * 3600_000,
      maxQueued: o.maxQueued,
      log: o.log,
      // Today's roots, again, right before each job runs (resumed ones too).
      confine: (req) => confineAtStart(o, req),
      policy: o.jobPolicy ?? {},
    });
  } catch (e) {
    if (e instanceof FloeDbtError && e.code !== ERROR_CODES.unavailable) {
      throw e;
    }
    throw stateDirError(o.stateDir, "recover the job journal in", e);
  }
}

function confineAtStart(o: DaemonOptions, req: JobRequest): JobRequest {
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
}

function appFor(
  o: DaemonOptions,
  runner: JobRunner,
  token: string | TokenFile,
  port: number,
  loopback: boolean,
): {
  fetch: (req: Request) => Response | Promise<Response>;
  streams: Set<() => void>;
} {
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
    jobPolicy: o.jobPolicy ?? {},
    streamCaps: new StreamCaps(
      o.maxStreams === undefined
        ? {}
        : { total: o.maxStreams, perJob: Math.min(64, o.maxStreams) },
    ),
    boundary: {
      loopback,
      port: () => port,
      allowHosts: o.allowHosts ?? [],
      allowOrigins: o.allowOrigins ?? [],
      log: o.log,
    },
  });
  return { fetch: app.fetch, streams };
}

function running(
  o: DaemonOptions,
  d: {
    port: number;
    runner: JobRunner;
    streams: Set<() => void>;
    server: Http1Server;
    lock: StateLock;
    auth: string;
  },
): Daemon {
  const { port, runner, streams, server, lock, auth } = d;
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
      request_timeout_seconds: o.requestTimeoutSeconds ?? 30,
      max_connections: o.maxConnections ?? defaultMaxConnections(),
      pid: Deno.pid,
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
        try {
          await runner.shutdown(o.graceSeconds * 1000);
          for (const close of streams) close();
          await server.shutdown();
        } finally {
          // Whatever failed above: clients stop sending the token here, and
          // the next daemon may take the state directory.
          await removeIdentity(o.stateDir);
          lock.release();
        }
        o.log("info", "stopped");
      })();
      return stopping;
    },
  };
}
