/**
 * The OpenAPI document the daemon serves (and `docs/openapi.json` checks in),
 * generated from the zod schemas: every request and response is a named
 * component, every route lists its error responses.
 *
 * @module
 */
import { z } from "zod";
import {
  JobRequestSchema,
  JobSchema,
  JobStatusSchema,
} from "../jobs/schemas.ts";
import {
  FLOE_API_VERSION,
  LintIssueSchema,
  LintResultSchema,
  LintSeveritySchema,
  ProgressEventSchema,
  RunResultSchema,
} from "../contract/schemas.ts";
import { AGENT_VERSION } from "../version.ts";
import {
  DbtArtifactSchema,
  ErrorSchema,
  HealthSchema,
  JobListSchema,
  JobSummarySchema,
  ReadySchema,
  RuntimeListSchema,
  RuntimeSchema,
  VersionSchema,
} from "./api_schemas.ts";
import {
  HistoryJobSchema,
  NodeHistorySchema,
  ProjectHistorySchema,
  SlowerMarginSchema,
} from "./history.ts";

const OUTPUT: Record<string, z.ZodType> = {
  RunResult: RunResultSchema,
  LintResult: LintResultSchema,
  LintIssue: LintIssueSchema,
  LintSeverity: LintSeveritySchema,
  Job: JobSchema,
  JobStatus: JobStatusSchema,
  JobSummary: JobSummarySchema,
  JobList: JobListSchema,
  ProgressEvent: ProgressEventSchema,
  Error: ErrorSchema,
  Health: HealthSchema,
  Ready: ReadySchema,
  Runtime: RuntimeSchema,
  RuntimeList: RuntimeListSchema,
  Version: VersionSchema,
  DbtArtifact: DbtArtifactSchema,
  ProjectHistory: ProjectHistorySchema,
};

/** Parts of the schemas above that get a name of their own (no inline objects). */
const PARTS: Record<string, z.ZodType> = {
  JobError: JobSchema.shape.error.unwrap(),
  JobStartedEvent: ProgressEventSchema.options[0],
  NodeStartedEvent: ProgressEventSchema.options[1],
  NodeFinishedEvent: ProgressEventSchema.options[2],
  LogEvent: ProgressEventSchema.options[3],
  JobFinishedEvent: ProgressEventSchema.options[4],
  HistoryJob: HistoryJobSchema,
  NodeHistory: NodeHistorySchema,
  SlowerMargin: SlowerMarginSchema,
};

function components(): Record<string, unknown> {
  const uri = (id: string) => `#/components/schemas/${id}`;
  const out = z.registry<{ id: string }>();
  for (const [id, s] of Object.entries({ ...OUTPUT, ...PARTS })) {
    out.add(s, { id });
  }
  // A job's request refers to JobRequest; the input form written below
  // replaces this output form (it accepts every request a job echoes back).
  out.add(JobRequestSchema, { id: "JobRequest" });
  const input = z.registry<{ id: string }>();
  input.add(JobRequestSchema, { id: "JobRequest" });
  const strip = (schemas: Record<string, Record<string, unknown>>) =>
    Object.fromEntries(
      Object.entries(schemas).map(([k, v]) => {
        const { $schema: _s, $id: _d, id: _i, ...rest } = v;
        return [k, rest];
      }),
    );
  return {
    ...strip(
      z.toJSONSchema(out, { io: "output", unrepresentable: "any", uri })
        .schemas as Record<string, Record<string, unknown>>,
    ),
    ...strip(
      z.toJSONSchema(input, { io: "input", unrepresentable: "any", uri })
        .schemas as Record<string, Record<string, unknown>>,
    ),
  };
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string, description: string) => ({
  description,
  content: { "application/json": { schema: ref(id) } },
});

const ERRORS: Record<number, string> = {
  400:
    "invalid request: the body names the field, the value and what is allowed",
  401: "missing or wrong bearer token",
  403: "refused: an Origin or Host not allowed, or a project outside the roots",
  404: "no such job, artifact or runtime",
  410: "the job's artifacts were pruned (past the artifact retention)",
  413: "request body too large",
  415: "a request body that is not application/json",
  422: "an Idempotency-Key reused with a different body",
  429:
    "too many jobs queued (max_queued), or too many event streams for this job: retry after the Retry-After header",
  502: "the remote runtime (dbt Cloud) answered with an error",
  503:
    "the agent is starting (recovering its job journal) or shutting down, the runtime is unavailable, or too many event streams are open (Retry-After)",
  504: "the remote runtime (dbt Cloud) did not answer in time",
};

const RETRY_AFTER = {
  "Retry-After": {
    description: "seconds to wait before trying again",
    schema: { type: "integer" },
  },
};

/** Error answers that carry Retry-After. */
const RETRYABLE = new Set([429, 503]);

function errors(...codes: number[]): Record<number, unknown> {
  return Object.fromEntries(
    codes.map((c) => [
      c,
      RETRYABLE.has(c)
        ? { ...json("Error", ERRORS[c]!), headers: RETRY_AFTER }
        : json("Error", ERRORS[c]!),
    ]),
  );
}

/**
 * On every route but the probes: the token (401), the Host and Origin checks
 * (403), and 503 while the agent starts (recovering its journal) or stops.
 */
const AUTH = [401, 403, 503];
const idParam = {
  name: "id",
  in: "path",
  required: true,
  description: "the job id",
  schema: { type: "string" },
};
const projectParams = [
  ["project_dir", true, "the dbt project directory (under a project root)"],
  ["profiles_dir", false, "where profiles.yml is (default: project_dir)"],
  ["target", false, "the dbt target"],
  ["runtime", false, "local, fusion or cloud (the platform config may fix it)"],
].map(([name, required, description]) => ({
  name,
  in: "query",
  required,
  description,
  schema: { type: "string" },
}));

/** OpenAPI 3.1 description of the daemon's API. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "floe-dbt agent",
      version: AGENT_VERSION,
      description:
        `The floe-dbt daemon: runs dbt jobs on the local, fusion or cloud runtime (floe API ${FLOE_API_VERSION}). Every route but the probes needs a bearer token; see docs/security.md.`,
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    servers: [{
      url: "http://127.0.0.1:8686",
      description: "the daemon on this machine (serve --port)",
    }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: components(),
    },
    security: [{ bearer: [] }],
    paths: {
      "/healthz": {
        get: {
          operationId: "health",
          summary: "Alive",
          security: [],
          responses: {
            200: json("Health", "alive"),
            ...errors(403, 503),
          },
        },
      },
      "/readyz": {
        get: {
          operationId: "ready",
          summary: "Ready: the default runtime is usable (from a cache)",
          security: [],
          responses: {
            200: json("Ready", "ready"),
            ...errors(403),
            503: {
              description:
                "not ready (Ready), or the agent is still starting (Error, with Retry-After)",
              headers: RETRY_AFTER,
              content: {
                "application/json": {
                  schema: { anyOf: [ref("Ready"), ref("Error")] },
                },
              },
            },
          },
        },
      },
      "/openapi.json": {
        get: {
          operationId: "openapi",
          summary: "This document",
          responses: {
            200: {
              description: "the OpenAPI document",
              content: { "application/json": { schema: { type: "object" } } },
            },
            ...errors(...AUTH),
          },
        },
      },
      "/v1/version": {
        get: {
          operationId: "getVersion",
          summary: "The agent's version and runtimes",
          responses: { 200: json("Version", "version"), ...errors(...AUTH) },
        },
      },
      "/v1/runtimes": {
        get: {
          operationId: "listRuntimes",
          summary: "Registered runtimes and whether each is usable here",
          responses: {
            200: json("RuntimeList", "runtimes"),
            ...errors(...AUTH),
          },
        },
      },
      "/v1/runtimes/{name}": {
        get: {
          operationId: "getRuntime",
          summary: "One runtime's capabilities and metadata",
          parameters: [{
            name: "name",
            in: "path",
            required: true,
            schema: { enum: ["local", "fusion", "cloud"] },
          }],
          responses: {
            200: json("Runtime", "the runtime"),
            ...errors(...AUTH, 404),
          },
        },
      },
      "/v1/jobs": {
        post: {
          operationId: "submitJob",
          summary: "Submit a job (journaled before it is acknowledged)",
          parameters: [{
            name: "Idempotency-Key",
            in: "header",
            description:
              "1-200 characters: a retried submit returns the first job; the same key with another body is 422",
            schema: { type: "string", minLength: 1, maxLength: 200 },
          }, {
            name: "traceparent",
            in: "header",
            description:
              "W3C trace context: the job's spans continue the caller's trace; a malformed value or one over 512 characters is ignored (a new trace starts)",
            schema: { type: "string", maxLength: 512 },
          }],
          requestBody: {
            required: true,
            content: { "application/json": { schema: ref("JobRequest") } },
          },
          responses: {
            202: {
              ...json("Job", "accepted (journaled)"),
              headers: {
                Location: {
                  description: "the job's URL",
                  schema: { type: "string" },
                },
              },
            },
            200: json("Job", "an earlier job with this Idempotency-Key"),
            ...errors(400, ...AUTH, 413, 415, 422, 429),
          },
        },
        get: {
          operationId: "listJobs",
          summary:
            "List jobs, newest first, a page at a time (summaries: GET /v1/jobs/{id} has the result)",
          parameters: [{
            name: "status",
            in: "query",
            description: "only jobs in this state (another value is 400)",
            schema: ref("JobStatus"),
          }, {
            name: "project_dir",
            in: "query",
            description:
              "only jobs of this project (its path as the jobs record it: request.project_dir)",
            schema: { type: "string" },
          }, {
            name: "limit",
            in: "query",
            description:
              "jobs per page at most; a page also ends once its jobs reach about 1 MiB of JSON (then next_cursor goes on)",
            schema: {
              type: "integer",
              minimum: 1,
              maximum: 1000,
              default: 100,
            },
          }, {
            name: "cursor",
            in: "query",
            description:
              "the next_cursor of the previous page (opaque; stays right when jobs are added meanwhile)",
            schema: { type: "string" },
          }],
          responses: {
            200: json("JobList", "jobs"),
            ...errors(400, ...AUTH),
          },
        },
      },
      "/v1/jobs/{id}": {
        get: {
          operationId: "getJob",
          summary: "One job",
          parameters: [idParam],
          responses: { 200: json("Job", "job"), ...errors(...AUTH, 404) },
        },
      },
      "/v1/jobs/{id}/events": {
        get: {
          operationId: "jobEvents",
          summary:
            "Server-Sent Events of progress (ProgressEvent v1), replayed from the start (or after Last-Event-ID), closed when the job ends",
          parameters: [idParam, {
            name: "Last-Event-ID",
            in: "header",
            description:
              "resume: only events after this id (ids are positions in the job's event sequence)",
            schema: { type: "integer", minimum: 0 },
          }],
          responses: {
            200: {
              description: "one SSE event per ProgressEvent (data: JSON)",
              content: {
                "text/event-stream": { schema: ref("ProgressEvent") },
              },
            },
            ...errors(...AUTH, 404, 429),
          },
        },
      },
      "/v1/jobs/{id}/cancel": {
        post: {
          operationId: "cancelJob",
          summary:
            "Cancel a queued or running job; answers at once, the job ends cancelled once its work has stopped",
          description:
            "Takes no request body: send the POST without one (no Content-Type needed). Cancelling a job that has ended changes nothing and answers it as it is.",
          parameters: [idParam],
          responses: {
            202: json(
              "Job",
              "the job as it is now (a running job may still say running; follow it with GET /v1/jobs/{id} or its events)",
            ),
            ...errors(...AUTH, 404),
          },
        },
      },
      "/v1/jobs/{id}/artifacts/{name}": {
        get: {
          operationId: "getJobArtifact",
          summary:
            "The job's own manifest, run_results, catalog or dbt log excerpt (kept when the job ended)",
          parameters: [idParam, {
            name: "name",
            in: "path",
            required: true,
            description: "with or without the file extension",
            schema: {
              enum: [
                "manifest",
                "manifest.json",
                "run_results",
                "run_results.json",
                "catalog",
                "catalog.json",
                "dbt_log",
                "dbt.log",
              ],
            },
          }],
          responses: {
            200: {
              description: "the artifact, streamed",
              content: {
                "application/json": { schema: ref("DbtArtifact") },
                "text/plain": { schema: { type: "string" } },
              },
            },
            ...errors(400, ...AUTH, 404, 410),
          },
        },
      },
      "/v1/project/manifest": {
        get: {
          operationId: "getManifest",
          summary:
            "The project's manifest.json (cloud: the latest run's, through the cache; never triggers a run)",
          parameters: projectParams,
          responses: {
            200: json("DbtArtifact", "manifest.json"),
            ...errors(400, ...AUTH, 404, 502, 504),
          },
        },
      },
      "/v1/project/run_results": {
        get: {
          operationId: "getRunResults",
          summary:
            "The project's latest run_results.json (cloud: the latest run's; never triggers a run)",
          parameters: projectParams,
          responses: {
            200: json("DbtArtifact", "run_results.json"),
            ...errors(400, ...AUTH, 404, 502, 504),
          },
        },
      },
      "/v1/project/history": {
        get: {
          operationId: "getProjectHistory",
          summary:
            "Each model's duration over the project's recent finished jobs (from their kept run_results.json), with the ones now slower than their median",
          parameters: [{
            name: "project_dir",
            in: "query",
            required: true,
            description:
              "the project's path as its jobs record it (request.project_dir)",
            schema: { type: "string" },
          }, {
            name: "limit",
            in: "query",
            description: "newest finished jobs to read",
            schema: { type: "integer", minimum: 1, maximum: 100, default: 20 },
          }],
          responses: {
            200: json("ProjectHistory", "durations per node, oldest job first"),
            ...errors(400, ...AUTH),
          },
        },
      },
    },
  };
}
