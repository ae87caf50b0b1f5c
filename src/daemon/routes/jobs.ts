/**
 * `/v1/jobs`: submit (validated, confined to the roots, checked against the
 * operator's job policy, idempotent), list, read, cancel, a job's artifacts
 * and its live progress over SSE.
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ERROR_CODES, FloeDbtError } from "../../contract/errors.ts";
import { artifactName } from "../../jobs/artifact_store.ts";
import { checkJobRequest } from "../../jobs/policy.ts";
import { isFinal, JobRequestSchema } from "../../jobs/schemas.ts";
import type { AppOptions } from "../app.ts";
import { confineRequest } from "../guard.ts";
import { jobPage, pageQuery } from "../job_list.ts";
import { lastEventIdOf, sseStream, type StreamCaps } from "../sse.ts";

/** A longer `traceparent` is ignored (a new trace starts), as a malformed one. */
export const MAX_TRACEPARENT_LENGTH = 512;

function fail(
  code: (typeof ERROR_CODES)[keyof typeof ERROR_CODES],
  message: string,
  hint?: string,
): never {
  throw new FloeDbtError(code, message, hint ? { hint } : {});
}

/** The job routes, to mount at `/v1/jobs` behind the token. */
export function jobRoutes(o: AppOptions, streamCaps: StreamCaps): Hono {
  const jobs = new Hono();

  jobs.post(
    "/",
    bodyLimit({
      maxSize: o.maxBodyBytes,
      onError: (c) =>
        c.json({
          code: ERROR_CODES.usage,
          message: `Request body over ${o.maxBodyBytes} bytes`,
        }, 413),
    }),
    async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        fail(
          ERROR_CODES.usage,
          "The request body is not valid JSON",
          "send a JSON object, Content-Type: application/json",
        );
      }
      const parsed = JobRequestSchema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const key = issue.code === "unrecognized_keys"
          ? issue.keys.join(", ")
          : issue.path.join(".") || "(body)";
        const msg = issue.code === "unrecognized_keys"
          ? "unknown field"
          : issue.message;
        fail(
          ERROR_CODES.usage,
          `Invalid job request: '${key}': ${msg}`,
          "see GET /openapi.json for the JobRequest schema",
        );
      }
      let req;
      try {
        req = confineRequest(parsed.data, o.projectRoots);
      } catch (e) {
        if (e instanceof FloeDbtError && e.code === ERROR_CODES.forbidden) {
          o.boundary.log("warn", "refused job: outside the project roots", {
            project_dir: parsed.data.project_dir,
            profiles_dir: parsed.data.profiles_dir,
            project_roots: o.projectRoots,
            status: 403,
          });
        }
        throw e;
      }
      // Vars are data, state inside the project, profiles not ~/.dbt: 400.
      checkJobRequest(
        req,
        o.chooseRuntime?.(req.runtime) ?? req.runtime ?? o.defaultRuntime,
        o.jobPolicy ?? {},
      );
      const key = c.req.header("idempotency-key") ?? undefined;
      if (key !== undefined && (key.length === 0 || key.length > 200)) {
        fail(ERROR_CODES.usage, "Idempotency-Key must be 1 to 200 characters");
      }
      const traceparent = c.req.header("traceparent") ?? undefined;
      if (traceparent && traceparent.length > MAX_TRACEPARENT_LENGTH) {
        o.boundary.log("warn", "ignored traceparent: too long", {
          length: traceparent.length,
          max: MAX_TRACEPARENT_LENGTH,
        });
      }
      const { job, created } = await o.runner.submit(
        req,
        key,
        traceparent && traceparent.length <= MAX_TRACEPARENT_LENGTH
          ? traceparent
          : undefined,
      );
      return c.json(job, created ? 202 : 200, {
        Location: `/v1/jobs/${job.id}`,
      });
    },
  );

  jobs.get("/", (c) => {
    const q = pageQuery({
      limit: c.req.query("limit"),
      cursor: c.req.query("cursor"),
      status: c.req.query("status"),
      project_dir: c.req.query("project_dir"),
    });
    return c.json(jobPage(o.runner.list(), q));
  });

  const job = (id: string) =>
    o.runner.get(id) ??
      fail(
        ERROR_CODES.notFound,
        `No job '${id}'`,
        "list jobs with GET /v1/jobs",
      );

  jobs.get("/:id", (c) => c.json(job(c.req.param("id"))));

  // Answers at once (202): a running job ends `cancelled` once stopped.
  jobs.post("/:id/cancel", async (c) => {
    job(c.req.param("id"));
    return c.json(await o.runner.cancel(c.req.param("id")), 202);
  });

  jobs.get("/:id/artifacts/:name", async (c) => {
    const j = job(c.req.param("id"));
    const given = c.req.param("name");
    const name = artifactName(given) ??
      fail(
        ERROR_CODES.usage,
        `Unknown artifact '${given}'`,
        "use manifest, run_results, catalog or dbt_log (with or without the file extension)",
      );
    if (!isFinal(j.status)) {
      fail(
        ERROR_CODES.notFound,
        `Job '${j.id}' is ${j.status}: its artifacts are kept when it ends`,
        "wait for the job to end (GET /v1/jobs/{id}/events)",
      );
    }
    const found = await o.runner.artifacts.find(j.id, name);
    if ("pruned" in found) {
      return c.json({
        code: ERROR_CODES.notFound,
        message: `The artifacts of job '${j.id}' were pruned`,
        hint:
          "artifacts are kept for the daemon's retention; run the job again",
      }, 410);
    }
    if ("missing" in found) {
      fail(ERROR_CODES.notFound, `Job '${j.id}' has no ${name} artifact`);
    }
    const file = await Deno.open(found.path, { read: true });
    const type = name === "dbt_log"
      ? "text/plain; charset=utf-8"
      : "application/json";
    return c.body(file.readable, 200, { "Content-Type": type });
  });

  jobs.get("/:id/events", (c) => {
    const id = c.req.param("id");
    job(id);
    const release = streamCaps.acquire(id);
    let body;
    try {
      body = sseStream({
        subscribe: (push) => o.runner.subscribe(id, push),
        lastEventId: lastEventIdOf(c.req.header("last-event-id")),
        streams: o.streams,
        onClose: release,
      });
    } catch (e) {
      release();
      throw e;
    }
    return new Response(body, {
      headers: {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
      },
    });
  });

  return jobs;
}
