/**
 * The CLI's logic: parse, pick the runtime, run, format. Output goes through
 * the `Io` that main.ts passes in; this module never prints or exits.
 *
 * @module
 */
import { existsSync } from "node:fs";
import {
  defaultConfig,
  loadConfig,
  type PlatformConfig,
  RuntimeNameSchema,
} from "../config.ts";
import { ERROR_CODES, exitCodeFor, FloeDbtError } from "../errors.ts";
import { createRuntime, RUNTIME_NAMES } from "../registry.ts";
import type { DbtRuntime, ProjectRef } from "../runtime.ts";
import type { DbtCommand, ProgressEvent } from "../schemas.ts";
import { type CliArgs, parseCli } from "./args.ts";
import { cacheCommand } from "./cache_cmd.ts";
import { daemonClient, serve } from "./daemon_cmds.ts";
import { helpFor, MAIN_HELP } from "./help.ts";
import { lintReport, progressLine, runSummary } from "./output.ts";

/** Where the CLI writes: stdout for results, stderr for progress and errors. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** Agent version shown by --version. */
export const AGENT_VERSION = "0.1.0";

/** Chooses runtimes; tests pass a factory returning a fake. */
export type RuntimeFactory = (
  name: "local" | "fusion" | "cloud",
  config: PlatformConfig,
) => DbtRuntime;

/** The platform config, and a notice when it came from ./manifest.yaml. */
async function platformConfig(
  args: CliArgs,
): Promise<{ config: PlatformConfig; notice?: string }> {
  if (args.config) return { config: await loadConfig(args.config) };
  if (existsSync("manifest.yaml")) {
    return {
      config: await loadConfig("manifest.yaml"),
      notice: CWD_CONFIG_NOTICE,
    };
  }
  return { config: defaultConfig() };
}

/** Said on stderr when no --config was given and ./manifest.yaml is used. */
export const CWD_CONFIG_NOTICE =
  "floe-dbt: using platform config ./manifest.yaml (pass --config to choose another)";

function runtimeName(args: CliArgs, config: PlatformConfig) {
  if (args.runtime === undefined) return config.plugins.dbt_runtime;
  const parsed = RuntimeNameSchema.safeParse(args.runtime);
  if (!parsed.success) {
    throw new FloeDbtError(
      ERROR_CODES.usage,
      `Unknown runtime '${args.runtime}'`,
      { hint: `use one of: ${RUNTIME_NAMES.join(", ")}` },
    );
  }
  return parsed.data;
}

function progressSink(args: CliArgs, io: Io): (e: ProgressEvent) => void {
  if (args.quiet) return () => {};
  if (args.logFormat === "json") return (e) => io.err(JSON.stringify(e));
  return (e) => {
    const line = progressLine(e);
    if (line !== undefined) io.err(line);
  };
}

/** Run the CLI; resolves to the exit code. */
export async function runCli(
  argv: string[],
  io: Io,
  factory: RuntimeFactory = createRuntime,
  signal?: AbortSignal,
): Promise<number> {
  let args: CliArgs | undefined;
  let runtime: DbtRuntime | undefined;
  try {
    args = parseCli(argv);
    if (args.command === "version") {
      io.out(`floe-dbt ${AGENT_VERSION}`);
      return 0;
    }
    if (args.command === "help") {
      io.out(MAIN_HELP);
      return 0;
    }
    if (args.help) {
      io.out(helpFor(args.command));
      return 0;
    }
    if (args.command === "config") {
      const [sub, file] = args.positionals;
      if (sub !== "validate" || !file) {
        throw new FloeDbtError(
          ERROR_CODES.usage,
          "Usage: floe-dbt config validate FILE",
          {
            hint: "name the manifest.yaml to check",
          },
        );
      }
      const config = await loadConfig(file);
      io.out(
        args.json
          ? JSON.stringify({
            valid: true,
            dbt_runtime: config.plugins.dbt_runtime,
          })
          : `${file}: valid (dbt_runtime: ${config.plugins.dbt_runtime})`,
      );
      return 0;
    }
    if (["submit", "jobs", "job", "cancel"].includes(args.command)) {
      return await daemonClient(args, io);
    }
    const { config, notice } = await platformConfig(args);
    if (notice) {
      // With --log-format json every stderr line stays a JSON object.
      io.err(
        args.logFormat === "json"
          ? JSON.stringify({ level: "info", message: notice })
          : notice,
      );
    }
    if (args.command === "serve") {
      return await serve(args, config, runtimeName(args, config), io, signal);
    }
    if (args.command === "runtimes") {
      return await listRuntimes(args, config, io, factory);
    }
    if (args.command === "cache") return await cacheCommand(args, config, io);
    const name = runtimeName(args, config);
    runtime = factory(name, config);
    const project: ProjectRef = {
      projectDir: args.projectDir,
      profilesDir: args.profilesDir,
      target: args.target,
    };
    const options = {
      onEvent: progressSink(args, io),
      signal,
      noCache: args.noCache,
    };
    switch (args.command) {
      case "manifest":
        io.out(
          JSON.stringify(
            await runtime.getManifest(project, options),
            null,
            args.json ? 0 : 2,
          ),
        );
        return 0;
      case "run-results":
        io.out(
          JSON.stringify(
            await runtime.getRunResults(project, options),
            null,
            args.json ? 0 : 2,
          ),
        );
        return 0;
      case "lint": {
        const result = await runtime.lintProject(project, {
          ...options,
          fix: args.fix,
          select: args.select,
        });
        io.out(args.json ? JSON.stringify(result) : lintReport(result));
        return result.passed ? 0 : 1;
      }
      default: {
        const command = args.command as DbtCommand;
        options.onEvent({
          v: 1,
          type: "job_started",
          command,
          runtime: name,
          ts: new Date().toISOString(),
        });
        const result = await runtime.execute(command, project, {
          select: args.select,
          exclude: args.exclude,
          fullRefresh: args.fullRefresh,
        }, options);
        options.onEvent({
          v: 1,
          type: "job_finished",
          success: result.success,
          ts: new Date().toISOString(),
        });
        if (!args.quiet) io.err(runSummary(command, result));
        if (args.json) io.out(JSON.stringify(result));
        else if (command === "compile") io.out(result.manifest_path);
        return result.success ? 0 : 1;
      }
    }
  } catch (e) {
    return reportError(e, io, args?.json ?? argv.includes("--json"));
  } finally {
    await runtime?.close();
  }
}

function reportError(e: unknown, io: Io, json: boolean): number {
  if (e instanceof FloeDbtError) {
    if (json) io.out(JSON.stringify({ error: e.toJSON() }));
    io.err(e.toString());
    return exitCodeFor(e);
  }
  const message = e instanceof Error ? e.message : String(e);
  if (json) {
    io.out(JSON.stringify({ error: { code: ERROR_CODES.execution, message } }));
  }
  io.err(`${ERROR_CODES.execution} internal error: ${message}`);
  if (Deno.env.get("FLOE_DBT_DEBUG") && e instanceof Error && e.stack) {
    io.err(e.stack);
  }
  return 1;
}

async function listRuntimes(
  args: CliArgs,
  config: PlatformConfig,
  io: Io,
  factory: RuntimeFactory,
): Promise<number> {
  const rows = [];
  for (const name of RUNTIME_NAMES) {
    let available = false;
    let reason: string;
    let parallel: boolean | null = null;
    let linting: boolean | null = null;
    let metadata: Record<string, unknown> = { type: name };
    try {
      const rt = factory(name, config);
      try {
        ({ available, reason } = await rt.availability());
        parallel = rt.supportsParallelExecution();
        linting = rt.supportsSqlLinting();
        metadata = rt.getRuntimeMetadata();
      } finally {
        await rt.close();
      }
    } catch (e) {
      reason = e instanceof FloeDbtError ? e.message : String(e);
    }
    rows.push({
      name,
      selected: name === config.plugins.dbt_runtime,
      available,
      reason,
      supports_parallel_execution: parallel,
      supports_sql_linting: linting,
      metadata,
    });
  }
  if (args.json) io.out(JSON.stringify(rows));
  else {
    for (const r of rows) {
      io.out(
        `${r.selected ? "*" : " "} ${r.name.padEnd(7)} ${
          r.available ? "available  " : "unavailable"
        }  parallel=${r.supports_parallel_execution ?? "?"}  lint=${
          r.supports_sql_linting ?? "?"
        }  ${r.reason}`,
      );
    }
  }
  return 0;
}
