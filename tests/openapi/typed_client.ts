/**
 * A small client of the daemon written against the TypeScript types that
 * openapi-typescript generates from docs/openapi.json. The generated-client
 * test (tests/openapi_clients_test.ts) writes them as `floe_api.d.ts` beside a
 * copy of this file, type-checks the copy with `deno check` and runs it:
 * `typed_client.ts BASE_URL PROJECT_DIR` (the token in FLOE_TOKEN). It prints
 * one JSON line of what it read.
 *
 * @module
 */
import type { components, paths } from "./floe_api.d.ts";

type Job = components["schemas"]["Job"];
type JobRequest = components["schemas"]["JobRequest"];
type JobList =
  paths["/v1/jobs"]["get"]["responses"][200]["content"]["application/json"];
type Version = paths["/v1/version"]["get"]["responses"][200]["content"][
  "application/json"
];
type ApiError = components["schemas"]["Error"];

const [base, projectDir] = Deno.args;
const auth = { authorization: `Bearer ${Deno.env.get("FLOE_TOKEN")}` };

/** One call: the parsed JSON answer and its status. */
async function call<T>(
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    ...init,
    headers: { ...auth, ...(init.headers as Record<string, string>) },
  });
  return { status: res.status, body: await res.json() as T };
}

const version = await call<Version>("/v1/version");
const request: JobRequest = {
  command: "compile",
  project_dir: projectDir!,
  select: ["customers"],
};
const submitted = await call<Job>("/v1/jobs", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(request),
});
const list = await call<JobList>("/v1/jobs?limit=10");
// A POST without a body: no Content-Type.
const cancelled = await call<Job>(`/v1/jobs/${submitted.body.id}/cancel`, {
  method: "POST",
});
const missing = await call<ApiError>("/v1/jobs/no-such-job");
console.log(JSON.stringify({
  agent_version: version.body.agent_version,
  submitted: { status: submitted.status, job: submitted.body.status },
  listed: list.body.jobs.map((j) => j.id),
  cancelled: { status: cancelled.status, id: cancelled.body.id },
  missing: { status: missing.status, code: missing.body.code },
}));
