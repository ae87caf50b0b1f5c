/**
 * The rest of the runtime contract over HTTP, `/v1/project`: a project's
 * manifest and latest run results without running a job (cloud reads the
 * latest run's artifacts through its cache and never triggers a run), and
 * its per-model duration history.
 *
 * @module
 */
import { Hono } from "hono";
import type { RuntimeName } from "../../config/config.ts";
import { ERROR_CODES, FloeDbtError } from "../../contract/errors.ts";
import { JobRequestSchema } from "../../jobs/schemas.ts";
import type { JobRunner } from "../../jobs/runner.ts";
import type { ProjectRef } from "../../contract/runtime.ts";
import { confine } from "../guard.ts";
import { addHistoryRoute } from "../history.ts";

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

/** `/v1/project`: a project's manifest, latest run results and history. */
export function projectRoutes(o: ProjectRouteOptions): Hono {
  const project = new Hono();
  const resolve = (query: Record<string, string>) => {
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

  project.get("/manifest", async (c) => {
    const { ref, rt } = resolve(c.req.query());
    return c.json(await rt.getManifest(ref));
  });

  project.get("/run_results", async (c) => {
    const { ref, rt } = resolve(c.req.query());
    return c.json(await rt.getRunResults(ref));
  });

  addHistoryRoute(project, o.runner);
  return project;
}
