/**
 * `serve` and the daemon's CLI clients (`submit`, `jobs`, `job`, `cancel`,
 * `--follow`), so a person can use the daemon without curl.
 *
 * @module
 */
import { resolve } from "node:path";
import type { PlatformConfig, RuntimeName } from "../config/config.ts";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { isLoopback } from "../daemon/guard.ts";
import { defaultStateDir, startDaemon } from "../daemon/serve.ts";
import { checkOperatorProfilesDir } from "../jobs/policy.ts";
import { checkIdentity, identityRefused } from "../daemon/identity.ts";
import { readPrivateToken, tokenPath } from "../daemon/token.ts";
import { signIn } from "../daemon/ui/sign_in.ts";
import type { JobSummary } from "../daemon/api_schemas.ts";
import type { Job } from "../jobs/schemas.ts";
import { ProgressEventSchema } from "../contract/schemas.ts";
import type { CliArgs } from "./args.ts";
import { progressLine, runSummary } from "./output.ts";

/** Where output goes (see app.ts). */
interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** `floe-dbt serve`: run until the signal aborts, then drain and return 0. */
export async function serve(
  args: CliArgs,
  config: PlatformConfig,
  defaultRuntime: RuntimeName,
  io: Io,
  signal: AbortSignal | undefined,
): Promise<number> {
  const log = (
    level: string,
    message: string,
    fields: Record<string, unknown> = {},
  ) => {
    if (args.logFormat === "json") {
      io.err(
        JSON.stringify({
          level,
          time: new Date().toISOString(),
          message,
          ...fields,
        }),
      );
    } else {
      const extra = Object.entries(fields).map(([k, v]) =>
        `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
      ).join(" ");
      io.err(`${level}: ${message}${extra ? `  ${extra}` : ""}`);
    }
  };
  const jobPolicy = {
    allowJinjaVars: args.allowJinjaVars,
    profilesDir: args.profilesDirFlag === undefined
      ? undefined
      : checkOperatorProfilesDir(args.profilesDirFlag),
  };
  if (jobPolicy.allowJinjaVars) {
    log(
      "warn",
      "--allow-jinja-vars: job vars may hold Jinja, which dbt renders: job authors can run any SQL",
    );
  }
  if (!jobPolicy.profilesDir && Deno.env.get("DBT_PROFILES_DIR")) {
    log(
      "warn",
      "DBT_PROFILES_DIR is not used for jobs: a job uses its project's profiles.yml or the profiles_dir it names; pass --profiles-dir to give jobs a fallback",
    );
  }
  const daemon = await startDaemon({
    host: args.host,
    port: args.port,
    projectRoots: args.projectRoots,
    tokenFile: args.tokenFile,
    tokenRef: args.tokenRef,
    allowOrigins: args.allowOrigins,
    allowHosts: args.allowHosts,
    stateDir: resolve(args.stateDir ?? defaultStateDir()),
    graceSeconds: args.graceSeconds,
    maxBodyBytes: 64 * 1024,
    retentionHours: args.retentionHours,
    artifactRetentionHours: args.artifactRetentionHours,
    maxQueued: args.maxQueued,
    maxStreams: args.maxStreams,
    jobPolicy,
    requestTimeoutSeconds: args.requestTimeoutSeconds,
    maxConnections: args.maxConnections,
    maxFinished: args.maxFinished,
    config,
    defaultRuntime,
    log,
  });
  const page = await signIn({
    host: args.host,
    port: daemon.port,
    stateDir: resolve(args.stateDir ?? defaultStateDir()),
    tokenFile: args.tokenFile,
    tokenRef: args.tokenRef,
    terminal: args.logFormat === "text" && Deno.stderr.isTerminal(),
  });
  // The token only to the terminal, never through the log (see sign_in.ts).
  if ("withToken" in page) io.err(page.withToken);
  else log("info", page.note, { url: page.url });
  await new Promise<void>((r) => {
    if (!signal) return;
    if (signal.aborted) r();
    signal.addEventListener("abort", () => r(), { once: true });
  });
  await daemon.shutdown();
  return 0;
}

async function token(args: CliArgs): Promise<string | undefined> {
  if (args.tokenFile) {
    try {
      return (await Deno.readTextFile(args.tokenFile)).trim();
    } catch (e) {
      throw new FloeDbtError(
        ERROR_CODES.configuration,
        `Cannot read the token file '${args.tokenFile}': ${
          (e as Error).message
        }`,
        {
          hint:
            "pass --token-file with the daemon's token, or set FLOE_DBT_TOKEN",
        },
      );
    }
  }
  const env = Deno.env.get("FLOE_DBT_TOKEN");
  if (env) return env;
  // A daemon on this machine: the token it generated in its state directory.
  let host = "";
  try {
    host = new URL(args.url).hostname;
  } catch {
    // fetch reports the bad URL
  }
  if (!isLoopback(host)) return undefined;
  const stateDir = resolve(args.stateDir ?? defaultStateDir());
  const file = tokenPath(stateDir);
  const generated = await readPrivateToken(file);
  if (generated === undefined) return undefined;
  // Only to the daemon that wrote it (identity.ts).
  const verdict = await checkIdentity(stateDir, args.url);
  if (verdict.kind === "refused") {
    throw identityRefused(file, args.url, verdict.reason);
  }
  return verdict.kind === "ok" ? generated : undefined;
}

async function call(
  args: CliArgs,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  const headers: Record<string, string> = {};
  const t = await token(args);
  if (t) headers.authorization = `Bearer ${t}`;
  // Every POST says JSON, bodyless ones too (the daemon refuses others).
  if (method !== "GET") headers["content-type"] = "application/json";
  if (args.idempotencyKey && method === "POST") {
    headers["idempotency-key"] = args.idempotencyKey;
  }
  const traceparent = Deno.env.get("TRACEPARENT");
  if (traceparent && method === "POST") headers.traceparent = traceparent;
  let res: Response;
  try {
    res = await fetch(`${args.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new FloeDbtError(
      ERROR_CODES.configuration,
      `Cannot reach the floe-dbt daemon at ${args.url}: ${
        (e as Error).message
      }`,
      {
        hint:
          "start it with 'floe-dbt serve --project-root DIR', or pass --url / FLOE_DBT_URL",
      },
    );
  }
  if (!res.ok && !path.endsWith("/events")) {
    const err = await res.json().catch(() => ({})) as {
      code?: string;
      message?: string;
      hint?: string;
    };
    const code =
      (Object.values(ERROR_CODES) as string[]).includes(err.code ?? "")
        ? err.code as typeof ERROR_CODES.usage
        : ERROR_CODES.execution;
    throw new FloeDbtError(
      code,
      `Daemon answered ${res.status}: ${err.message ?? res.statusText}`,
      err.hint ? { hint: err.hint } : {},
    );
  }
  return res;
}

function jobLine(j: JobSummary): string {
  return `${j.id}  ${j.status.padEnd(11)} ${j.runtime.padEnd(6)} ${
    j.request.command.padEnd(7)
  } ${j.request.project_dir}  ${j.created_at}`;
}

/** Print a finished job's outcome; exit code from its status. */
function outcome(j: Job, args: CliArgs, io: Io): number {
  if (args.json) io.out(JSON.stringify(j));
  else if (j.result && "models_run" in j.result) {
    io.err(runSummary(j.request.command, j.result));
  } else if (j.error) io.err(`${j.error.code} ${j.error.message}`);
  if (!args.json) io.out(`${j.id} ${j.status}`);
  return j.status === "succeeded" ? 0 : 1;
}

async function follow(args: CliArgs, id: string, io: Io): Promise<number> {
  const res = await call(args, "GET", `/v1/jobs/${id}/events`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = chunk.split("\n").filter((l) => l.startsWith("data:")).map((
        l,
      ) => l.slice(5).trim()).join("\n");
      if (!data) continue;
      const parsed = ProgressEventSchema.safeParse(JSON.parse(data));
      if (!parsed.success || args.quiet) continue;
      if (args.logFormat === "json") io.err(data);
      else {
        const line = progressLine(parsed.data);
        if (line) io.err(line);
      }
    }
  }
  const job = await (await call(args, "GET", `/v1/jobs/${id}`)).json() as Job;
  return outcome(job, args, io);
}

/** `submit`, `jobs`, `job`, `cancel`. */
export async function daemonClient(args: CliArgs, io: Io): Promise<number> {
  switch (args.command) {
    case "submit": {
      const [command] = args.positionals;
      if (!command) {
        throw new FloeDbtError(
          ERROR_CODES.usage,
          "Usage: floe-dbt submit COMMAND [flags]",
          { hint: "e.g. floe-dbt submit build --project-dir DIR --follow" },
        );
      }
      const body = {
        command,
        project_dir: args.projectDir,
        // Only a chosen profiles dir: the default is resolved where the job
        // runs, and the cloud runtime refuses a chosen one.
        ...(args.profilesDirGiven ? { profiles_dir: args.profilesDir } : {}),
        ...(args.target ? { target: args.target } : {}),
        ...(args.select.length ? { select: args.select } : {}),
        ...(args.exclude.length ? { exclude: args.exclude } : {}),
        ...(args.fullRefresh ? { full_refresh: true } : {}),
        ...(args.vars !== undefined ? { vars: args.vars } : {}),
        ...(args.threads !== undefined ? { threads: args.threads } : {}),
        ...(args.failFast ? { fail_fast: true } : {}),
        ...(args.selector ? { selector: args.selector } : {}),
        ...(args.indirectSelection
          ? { indirect_selection: args.indirectSelection }
          : {}),
        ...(args.changed ? { changed: true } : {}),
        ...(args.skipUnchanged ? { skip_unchanged: true } : {}),
        ...(args.skipStaleSources ? { skip_stale_sources: true } : {}),
        ...(args.state ? { state: args.state } : {}),
        ...(args.stateFrom ? { state_from: args.stateFrom } : {}),
        ...(args.timeoutSeconds !== undefined
          ? { timeout_seconds: args.timeoutSeconds }
          : {}),
        ...(args.runtime ? { runtime: args.runtime } : {}),
      };
      const job = await (await call(args, "POST", "/v1/jobs", body))
        .json() as Job;
      if (args.follow) return await follow(args, job.id, io);
      io.out(args.json ? JSON.stringify(job) : job.id);
      return 0;
    }
    case "jobs": {
      // Every page, following next_cursor (the list has no results).
      const jobs: JobSummary[] = [];
      let cursor: string | null = null;
      do {
        const page = await (await call(
          args,
          "GET",
          `/v1/jobs?limit=1000${
            cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
          }`,
        )).json() as { jobs: JobSummary[]; next_cursor?: string | null };
        jobs.push(...page.jobs);
        cursor = page.next_cursor ?? null;
      } while (cursor);
      io.out(
        args.json
          ? JSON.stringify(jobs)
          : jobs.map(jobLine).join("\n") || "(no jobs)",
      );
      return 0;
    }
    case "job": {
      const [id] = args.positionals;
      if (!id) {
        throw new FloeDbtError(
          ERROR_CODES.usage,
          "Usage: floe-dbt job ID [--follow]",
        );
      }
      if (args.follow) return await follow(args, id, io);
      const job =
        await (await call(args, "GET", `/v1/jobs/${encodeURIComponent(id)}`))
          .json() as Job;
      io.out(args.json ? JSON.stringify(job) : jobLine(job));
      return 0;
    }
    default: {
      const [id] = args.positionals;
      if (!id) {
        throw new FloeDbtError(ERROR_CODES.usage, "Usage: floe-dbt cancel ID");
      }
      const job = await (await call(
        args,
        "POST",
        `/v1/jobs/${encodeURIComponent(id)}/cancel`,
      )).json() as Job;
      io.out(args.json ? JSON.stringify(job) : jobLine(job));
      return 0;
    }
  }
}
