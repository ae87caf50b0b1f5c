/**
 * The daemon's HTTP API (Hono): the browser boundary, the probes and the page,
 * the token, then the resources, one route group each (routes/: jobs,
 * runtimes, project). Bodies are validated with the same zod schemas as the
 * CLI; errors become `{code, message}` in exactly one onError.
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { RuntimeName } from "../config/config.ts";
import {
  ERROR_CODES,
  FloeDbtError,
  httpStatusFor,
} from "../contract/errors.ts";
import type { JobPolicy } from "../jobs/policy.ts";
import type { JobRunner } from "../jobs/runner.ts";
import { FLOE_API_VERSION } from "../contract/schemas.ts";
import { AGENT_VERSION } from "../version.ts";
import { boundary, type BoundaryOptions } from "./boundary.ts";
import { tokenMatches } from "./guard.ts";
import { openApiDocument } from "./openapi.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { projectRoutes } from "./routes/project.ts";
import { runtimeRoutes } from "./routes/runtimes.ts";
import { StreamCaps } from "./sse.ts";
import { addUiRoutes } from "./ui/routes.ts";

export { MAX_TRACEPARENT_LENGTH } from "./routes/jobs.ts";

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

  app.route("/v1/jobs", jobRoutes(o, streamCaps));
  app.route("/v1/runtimes", runtimeRoutes(o));
  app.route("/v1/project", projectRoutes(o));
  app.get("/v1/version", (c) =>
    c.json({
      agent_version: AGENT_VERSION,
      floe_api_version: FLOE_API_VERSION,
      runtimes: o.runtimeNames,
      default_runtime: o.defaultRuntime,
    }));

  return app;
}
