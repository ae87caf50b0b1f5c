/**
 * The daemon's HTTP API (Hono): health, runtimes, jobs, live progress over
 * SSE, cancel, artifacts. Bodies are validated with the same zod schemas as
 * the CLI; errors become `{code, message}` in exactly one onError.
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { RuntimeName } from "../config.ts";
import { ERROR_CODES, FloeDbtError, httpStatusFor } from "../errors.ts";
import { artifactName } from "../jobs/artifact_store.ts";
import { isFinal, JobRequestSchema } from "../jobs/schemas.ts";
import { checkJobRequest, type JobPolicy } from "../jobs/policy.ts";
import type { JobRunner } from "../jobs/runner.ts";
import { boundary, type BoundaryOptions } from "./boundary.ts";
import { confineRequest, tokenMatches } from "./guard.ts";
import { addHistoryRoute } from "./history.ts";
import { jobPage, pageQuery } from "./job_list.ts";
import { runtimeRow } from "../runtime_rows.ts";
import { openApiDocument } from "./openapi.ts";
import { addProjectRoutes } from "./project_routes.ts";
import { lastEventIdOf, sseStream, StreamCaps } from "./sse.ts";
import { addUiRoutes } from "./ui/routes.ts";

/** A longer `traceparent` is ignored (a new trace starts), as a malformed one. */
export const MAX_TRACEPARENT_LENGTH = 512;

/** What the app needs. */
export interface AppOptions {
  runner: JobRunner;
  projectRoots: string[];
  /** The bearer token every route but the probes requires. */
  /** The bearer token, or a check that follows a rotating token file. */
  token: string | { matches(given: string): Promise<boolean> };
  defaultRuntime: RuntimeName;
  runtimeNames: readonly RuntimeName[];
  maxBodyBytes: number;
  /** The runtime a request may use (the platform's choice rules). */
  chooseRuntime?: (asked: RuntimeName | undefined) => RuntimeName;
  /** Streams to close on shutdown register here. */
  streams: Set<() => void>;
  /** Host, Origin and Content-Type checks (see boundary.ts). */
  boundary: BoundaryOptions;
  /** Caps on open event streams (default 64 per job, 1024 in all). */
  streamCaps?: StreamCaps;
  /** The operator's policy for jobs (profiles, Jinja in vars). */
  jobPolicy?: JobPolicy;
}

function fail(
  code: (typeof ERROR_CODES)[keyof typeof ERROR_CODES],
  message: string,
  hint?: string,
): never {
  throw new FloeDbtError(code, message, hint ? { hint } : {});
}

/** Build the Hono app. */
export function createApp(o: AppOptions): Hono {
  const app = new Hono();
  const streamCaps = o.streamCaps ?? new StreamCaps();

  app.onError((err, c) => {
    if (err instanceof FloeDbtError) {
      const status = typeof err.details.http_status === "number"
        ? err.details.http_status
        : httpStatusFor(err.code);
      const retry = err.details.retry_after;
      return c.json(
        err.toJSON(),
        status as ContentfulStatusCode,
        typeof retry === "number" ? { "Retry-After": String(retry) } : {},
      );
    }
    if (err instanceof HTTPException) {
      return c.json(
        { code: ERROR_CODES.usage, message: err.message },
        err.status,
      );
    }
    o.boundary.log("error", "internal error", {
      method: c.req.method,
      path: c.req.path,
      error: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    return c.json({
      code: ERROR_CODES.execution,
      message: "Internal error; see the agent's log",
    }, 500);
  });
  app.notFound((c) =>
    c.json({
      code: ERROR_CODES.notFound,
      message: `No route ${c.req.method} ${c.req.path}`,
    }, 404)
  );

  // Before anything else, probes included: browsers and rebinding stop here.
  app.use("*", boundary(o.boundary));

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  let lastReady: boolean | undefined;
  app.get("/readyz", async (c) => {
    let ready = false;
    let reason: string | undefined;
    try {
      const a = await o.runner.runtime(o.defaultRuntime).availability();
      ready = a.available;
      reason = a.reason;
    } catch (e) {
      reason = (e as Error).message;
    }
    // Open to anyone: only the answer; the why goes to the daemon log.
    if (ready !== lastReady) {
      o.boundary.log(
        ready ? "info" : "warn",
        ready ? "ready" : "not ready",
        { runtime: o.defaultRuntime, reason },
      );
      lastReady = ready;
    }
    return c.json({ ready }, ready ? 200 : 503);
  });

  // The page and its assets hold no data: served without the token.
  addUiRoutes(app);

  app.use("*", async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const m = header.match(/^Bearer\s+(.+)$/i);
    const given = m?.[1]?.trim() ?? "";
    const ok = m !== null &&
      (typeof o.token === "string"
        ? await tokenMatches(given, o.token)
        : await o.token.matches(given));
    if (!ok) {
      o.boundary.log("warn", "refused request: bearer token", {
        method: c.req.method,
        path: c.req.path,
        reason: m ? "wrong token" : "missing token",
        status: 401,
      });
      return c.json(
        {
          code: ERROR_CODES.forbidden,
          message: m ? "Wrong bearer token" : "Missing bearer token",
          hint:
            "send Authorization: Bearer <token>: the daemon's --token-file, or the token it generated in <state-dir>/token (the floe-dbt CLI on the same machine reads it with the same --state-dir / FLOE_STATE_DIR)",
        },
        401,
        { "WWW-Authenticate": "Bearer" },
      );
    }
    return await next();
  });

  app.get("/openapi.json", (c) => c.json(openApiDocument()));

  app.get("/v1/runtimes", async (c) => {
    const rows = [];
    for (const name of o.runtimeNames) {
      const row = await runtimeRow(name, () => o.runner.runtime(name));
      rows.push({ ...row, default: name === o.defaultRuntime });
    }
    return c.json({ runtimes: rows });
  });

  app.post(
    "/v1/jobs",
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

  addProjectRoutes(app, o);
  addHistoryRoute(app, o.runner);

  app.get("/v1/jobs", (c) => {
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

  app.get("/v1/jobs/:id", (c) => c.json(job(c.req.param("id"))));

  // Answers at once (202): a running job ends `cancelled` once stopped.
  app.post("/v1/jobs/:id/cancel", async (c) => {
    job(c.req.param("id"));
    return c.json(await o.runner.cancel(c.req.param("id")), 202);
  });

  app.get("/v1/jobs/:id/artifacts/:name", async (c) => {
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

  app.get("/v1/jobs/:id/events", (c) => {
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

  return app;
}
