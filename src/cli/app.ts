/**
 * The CLI's logic: parse, pick the runtime, run, format. Output goes through
 * the `Io` that main.ts passes in; this module never prints or exits.
 *
 * @module
 */
import { existsSync } from "node:fs";
import {
  defaultConfig,
  loadConfigFile,
  type PlatformConfig,
} from "../config/config.ts";
import { checkLocalVersions } from "../config/config_check.ts";
import { ERROR_CODES, exitCodeFor, FloeDbtError } from "../contract/errors.ts";
import { createRuntime, RUNTIME_NAMES } from "../registry.ts";
import { chooseRuntime } from "../config/runtime_choice.ts";
import { runtimeRow } from "../runtime_rows.ts";
import { sealSecretEnv } from "../config/secrets.ts";
import type { DbtRuntime, ProjectRef } from "../contract/runtime.ts";
import type { DbtCommand, ProgressEvent } from "../contract/schemas.ts";
import { type CliArgs, parseCli } from "./args.ts";
import { cacheCommand } from "./cache_cmd.ts";
import { stateCommand } from "./state_cmd.ts";
import { configCommand } from "./config_cmd.ts";
import { daemonClient, serve } from "./daemon_cmds.ts";
import { helpFor, MAIN_HELP } from "./help.ts";
import { lintReport, progressLine, runSummary } from "./output.ts";

/** Where the CLI writes: stdout for results, stderr for progress and errors. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

import { AGENT_VERSION } from "../version.ts";
export { AGENT_VERSION };

/** Chooses runtimes; tests pass a factory returning a fake. */
export type RuntimeFactory = (
  name: "local" | "fusion" | "cloud",
  config: PlatformConfig,
) => DbtRuntime;

/** Said on stderr when no --config was given and ./manifest.yaml is used. */
export const CWD_CONFIG_NOTICE =
  "floe-dbt: using platform config ./manifest.yaml (pass --config to choose another)";

/**
 * The manifest.yaml in effect (--config, else ./manifest.yaml, said on
 * stderr); its warnings go to stderr too.
 */
async function platformConfig(
  args: CliArgs,
  io: Io,
): Promise<PlatformConfig> {
  const say = (message: string) =>
    // With --log-format json every stderr line stays a JSON object.
    io.err(
      args.logFormat === "json"
        ? JSON.stringify({ level: "info", message })
        : message,
    );
  // Secret variables leave the environment before anything runs.
  sealSecretEnv();
  const file = args.config ??
    (existsSync("manifest.yaml") ? "manifest.yaml" : undefined);
  if (!file) return defaultConfig();
  if (!args.config) say(CWD_CONFIG_NOTICE);
  const loaded = await loadConfigFile(file);
  for (const w of loaded.warnings) io.err(`warning: ${w}`);
  return loaded.config;
}

/**
 * The runtime for this call (the platform config may refuse --runtime); for
 * local, the installed versions are checked against the config first.
 */
async function runtimeName(args: CliArgs, config: PlatformConfig, io: Io) {
  const name = chooseRuntime(args.runtime, config);
  if (name === "local") {
    for (const w of await checkLocalVersions(config)) io.err(`warning: ${w}`);
  }
  return name;
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
    if (args.command === "config") return await configCommand(args, io);
    if (args.command === "state") return await stateCommand(args, io);
    if (["submit", "jobs", "job", "cancel"].includes(args.command)) {
      return await daemonClient(args, io);
    }
    const config = await platformConfig(args, io);
    if (args.command === "serve") {
      const name = await runtimeName(args, config, io);
      return await serve(args, config, name, io, signal);
    }
    if (args.command === "runtimes") {
      return await listRuntimes(args, config, io, factory);
    }
    if (args.command === "cache") return await cacheCommand(args, config, io);
    const name = await runtimeName(args, config, io);
    runtime = factory(name, config);
    const project: ProjectRef = {
      projectDir: args.projectDir,
      profilesDir: args.profilesDir,
      profilesDirGiven: args.profilesDirGiven,
      target: args.target,
    };
    const options = {
      onEvent: progressSink(args, io),
      signal,
      noCache: args.noCache,
      threads: args.threads,
      timeoutSeconds: args.timeoutSeconds,
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
          vars: args.vars,
          allowJinjaVars: args.allowJinjaVars,
          failFast: args.failFast,
          selector: args.selector,
          indirectSelection: args.indirectSelection,
          changed: args.changed,
          skipUnchanged: args.skipUnchanged,
          skipStaleSources: args.skipStaleSources,
          state: args.state,
          stateFrom: args.stateFrom,
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
        else if (command === "docs-generate" && result.catalog_path) {
          io.out(result.catalog_path);
        }
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
    const row = await runtimeRow(name, () => factory(name, config), true);
    rows.push({
      selected: name === config.plugins.dbt_runtime,
      supports_parallel_execution: null,
      supports_sql_linting: null,
      metadata: { type: name },
      ...row,
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
