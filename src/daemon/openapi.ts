/**
 * The OpenAPI document the daemon serves, generated from the zod schemas.
 *
 * @module
 */
import { z } from "zod";
import { JobRequestSchema, JobSchema } from "../jobs/schemas.ts";
import { ProgressEventSchema } from "../schemas.ts";

const ErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
});

function schema(s: z.ZodType, io: "input" | "output" = "output"): unknown {
  return z.toJSONSchema(s, { io, unrepresentable: "any" });
}

const err = (description: string) => ({
  description,
  content: {
    "application/json": { schema: { $ref: "#/components/schemas/Error" } },
  },
});

/** OpenAPI 3.1 description of the daemon's API. */
export function openApiDocument(): Record<string, unknown> {
  const jobRef = { $ref: "#/components/schemas/Job" };
  const idParam = {
    name: "id",
    in: "path",
    required: true,
    schema: { type: "string" },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "floe-dbt agent",
      version: "1",
      description:
        "Every route but /healthz and /readyz needs Authorization: Bearer. Requests with a body must be application/json (415); a request with an Origin not allowed by serve --allow-origin is 403; a loopback daemon refuses foreign Host headers (403). See docs/security.md.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        JobRequest: schema(JobRequestSchema, "input"),
        Job: schema(JobSchema),
        ProgressEvent: schema(ProgressEventSchema),
        Error: schema(ErrorSchema),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      "/healthz": {
        get: {
          summary: "Alive",
          security: [],
          responses: { 200: { description: "alive" } },
        },
      },
      "/readyz": {
        get: {
          summary: "Config loaded and default runtime usable",
          security: [],
          responses: {
            200: { description: 'ready: {"ready": true}' },
            503: { description: 'not ready: {"ready": false}' },
          },
        },
      },
      "/v1/runtimes": {
        get: {
          summary: "Registered runtimes",
          responses: { 200: { description: "runtimes" } },
        },
      },
      "/v1/jobs": {
        post: {
          summary: "Submit a job",
          parameters: [{
            name: "Idempotency-Key",
            in: "header",
            schema: { type: "string" },
          }, {
            name: "traceparent",
            in: "header",
            description:
              "W3C trace context: the job's spans continue the caller's trace",
            schema: { type: "string" },
          }],
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: { $ref: "#/components/schemas/JobRequest" },
              },
            },
          },
          responses: {
            202: {
              description: "accepted (journaled)",
              content: { "application/json": { schema: jobRef } },
            },
            200: {
              description: "an earlier job with this Idempotency-Key",
              content: { "application/json": { schema: jobRef } },
            },
            400: err("invalid body"),
            401: err("missing or wrong token"),
            403: err(
              "project outside the roots, Origin not allowed, or a foreign Host",
            ),
            413: err("body too large"),
            415: err("body not application/json"),
            422: err("Idempotency-Key reused with a different request"),
          },
        },
        get: {
          summary: "List jobs",
          parameters: [{
            name: "status",
            in: "query",
            schema: { type: "string" },
          }],
          responses: { 200: { description: "jobs" } },
        },
      },
      "/v1/jobs/{id}": {
        get: {
          summary: "One job",
          parameters: [idParam],
          responses: {
            200: {
              description: "job",
              content: { "application/json": { schema: jobRef } },
            },
            404: err("no such job"),
          },
        },
      },
      "/v1/jobs/{id}/events": {
        get: {
          summary:
            "Server-Sent Events of progress (ProgressEvent v1), replayed from the start, closed when the job ends",
          parameters: [idParam],
          responses: {
            200: { description: "text/event-stream" },
            404: err("no such job"),
          },
        },
      },
      "/v1/jobs/{id}/cancel": {
        post: {
          summary: "Cancel",
          parameters: [idParam],
          responses: { 200: { description: "job" }, 404: err("no such job") },
        },
      },
      "/v1/jobs/{id}/artifacts/{name}": {
        get: {
          summary: "manifest, run_results or catalog of the job",
          parameters: [idParam, {
            name: "name",
            in: "path",
            required: true,
            schema: { enum: ["manifest", "run_results", "catalog"] },
          }],
          responses: {
            200: { description: "the artifact (JSON)" },
            404: err("no such artifact"),
          },
        },
      },
    },
  };
}
