/**
 * The rest of the runtime contract over HTTP: a project's manifest and latest
 * run results without running a job (cloud reads the latest run's artifacts
 * through its cache and never triggers a run), each runtime's metadata, and
 * the daemon's own version.
 *
 * @module
 */
import type { Hono } from "hono";
import type { RuntimeName } from "../config.ts";
import { ERROR_CODES, FloeDbtError } from "../errors.ts";
import { JobRequestSchema } from "../jobs/schemas.ts";
import type { JobRunner } from "../jobs/runner.ts";
import type { ProjectRef } from "../runtime.ts";
import { FLOE_API_VERSION } from "../schemas.ts";
import { AGENT_VERSION } from "../version.ts";
import { confine } from "./guard.ts";

/** What the project routes need from the app. */
export interface ProjectRouteOptions {
  runner: JobRunner;
  projectRoots: string[];
  defaultRuntime: RuntimeName;
  runtimeNames: readonly RuntimeName[];
  /** The runtime a request may use (the platform's choice rules). */
  chooseRuntime?: (asked: RuntimeName | undefined) => RuntimeName;
}

/** Query of the project routes: the job request's project fields. */
const ProjectQuerySchema = JobRequestSchema.pick({
  project_dir: true,
  profiles_dir: true,
  target: true,
  runtime: true,
});

function parseQuery(query: Record<string, string>) {
  const parsed = ProjectQuerySchema.safeParse(query);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.code === "unrecognized_keys"
      ? issue.keys.join(", ")
      : issue.path.join(".") || "(query)";
    throw new FloeDbtError(
      ERROR_CODES.usage,
      `Invalid query parameter '${key}': ${
        issue.code === "unrecognized_keys" ? "unknown parameter" : issue.message
      }`,
      {
        hint: "send project_dir, and optionally profiles_dir, target, runtime",
      },
    );
  }
  return parsed.data;
}

/** Add the project, runtime-metadata and version routes to `app`. */
export function addProjectRoutes(app: Hono, o: ProjectRouteOptions): void {
  const project = (query: Record<string, string>) => {
    const q = parseQuery(query);
    const projectDir = confine(q.project_dir, o.projectRoots, "project_dir");
    const ref: ProjectRef = {
      projectDir,
      profilesDir: q.profiles_dir
        ? confine(q.profiles_dir, o.projectRoots, "profiles_dir")
        : projectDir,
      target: q.target,
    };
    const name = o.chooseRuntime
      ? o.chooseRuntime(q.runtime)
      : (q.runtime ?? o.defaultRuntime);
    return { ref, rt: o.runner.runtime(name) };
  };

  app.get("/v1/project/manifest", async (c) => {
    const { ref, rt } = project(c.req.query());
    return c.json(await rt.getManifest(ref));
  });

  app.get("/v1/project/run_results", async (c) => {
    const { ref, rt } = project(c.req.query());
    return c.json(await rt.getRunResults(ref));
  });

  app.get("/v1/runtimes/:name", async (c) => {
    const name = c.req.param("name") as RuntimeName;
    if (!o.runtimeNames.includes(name)) {
      throw new FloeDbtError(
        ERROR_CODES.notFound,
        `No runtime '${name}'`,
        { hint: `use one of ${o.runtimeNames.join(", ")}` },
      );
    }
    const rt = o.runner.runtime(name);
    // Fills the runtimes' caches (no process once warm), which
    // supportsSqlLinting() and the metadata read.
    await rt.availability().catch(() => {});
    return c.json({
      name,
      default: name === o.defaultRuntime,
      supports_parallel_execution: rt.supportsParallelExecution(),
      supports_sql_linting: rt.supportsSqlLinting(),
      metadata: rt.getRuntimeMetadata(),
    });
  });

  app.get("/v1/version", (c) =>
    c.json({
      agent_version: AGENT_VERSION,
      floe_api_version: FLOE_API_VERSION,
      runtimes: o.runtimeNames,
      default_runtime: o.defaultRuntime,
    }));
}
