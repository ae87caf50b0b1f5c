/**
 * Response bodies of the fake dbt Cloud: the Admin API envelope, raw
 * artifacts and the Discovery API's applied-models page.
 *
 * @module
 */
import type { FakeRun } from "./fake_server.ts";

/** The steps a real dbt Cloud run has before its dbt commands. */
export const SETUP_STEPS = [
  "Clone git repository",
  "Create profile from connection",
];

const HUMAN: Record<number, string> = {
  1: "Queued",
  2: "Starting",
  3: "Running",
  10: "Success",
  20: "Error",
  30: "Cancelled",
};

function dbtTime(d: Date): string {
  return d.toISOString().replace("T", " ").replace("Z", "000+00:00");
}

/** user_message per HTTP status. */
export const HUMAN_HTTP: Record<number, string> = {
  400: "Invalid request.",
  401: "Invalid token.",
  403: "You do not have permission.",
  404: "Not found.",
  429: "Too many requests.",
  500: "Internal server error.",
  502: "Bad gateway.",
  503: "Service unavailable.",
  504: "Gateway timeout.",
};

/** An Admin API envelope response. */
export function envelope(
  code: number,
  data: unknown,
  message: string,
  headers: Record<string, string> = {},
  extra?: unknown,
  developerMessage?: string,
): Response {
  const is_success = code < 400;
  return Response.json(
    {
      status: {
        code,
        is_success,
        user_message: message,
        developer_message: developerMessage ?? (is_success ? "" : message),
      },
      data,
      ...(extra ? { extra } : {}),
    },
    { status: code, headers },
  );
}

/** A raw (not enveloped) artifact response. */
export function raw(text: string): Response {
  return new Response(text, {
    status: 200,
    headers: { "content-type": "application/json" },
  });
}

/** The Discovery API answer for the applied-models query, paged by cursor. */
export function graphqlAnswer(
  models: { uniqueId: string; name: string; status: string }[],
  body: unknown,
): Response {
  const v =
    ((body ?? {}) as { variables?: Record<string, unknown> }).variables ?? {};
  const first = Number(v.first ?? 100);
  const start = v.after ? Number(atob(String(v.after))) : 0;
  const page = models.slice(start, start + first);
  const end = start + page.length;
  return Response.json({
    data: {
      environment: {
        applied: {
          models: {
            pageInfo: {
              endCursor: page.length ? btoa(String(end)) : null,
              hasNextPage: end < models.length,
            },
            edges: page.map((m) => ({
              node: {
                uniqueId: m.uniqueId,
                name: m.name,
                executionInfo: {
                  lastRunStatus: m.status,
                  lastRunError: null,
                  executeCompletedAt: "2024-01-01T00:00:00Z",
                  executionTime: 1.5,
                },
              },
            })),
          },
        },
      },
    },
  });
}

/**
 * A run as the Admin API returns it, shaped by RunResponse in the document:
 * absent values are left out rather than null (the document declares no
 * nullable field), `job` and `run_steps` only when include_related asks.
 */
export function runJson(
  server: { accountId: number; url: string; jobs: Map<number, string[]> },
  r: FakeRun,
  includeRelated: string | null = null,
): Record<string, unknown> {
  const done = r.status >= 10;
  const related = new Set((includeRelated ?? "").split(",").filter(Boolean));
  const at = dbtTime(r.created);
  return {
    id: r.id,
    trigger_id: r.id + 1,
    account_id: server.accountId,
    environment_id: 1,
    project_id: 1,
    job_definition_id: r.job,
    job_id: r.job,
    status: r.status,
    status_humanized: HUMAN[r.status],
    ...(r.message ? { status_message: r.message } : {}),
    dbt_version: "versionless",
    git_branch: "main",
    git_sha: "0".repeat(40),
    created_at: at,
    updated_at: at,
    ...(r.status >= 3 ? { started_at: at } : {}),
    ...(done ? { finished_at: dbtTime(new Date()) } : {}),
    in_progress: !done,
    is_complete: done,
    is_success: r.status === 10,
    is_error: r.status === 20,
    is_cancelled: r.status === 30,
    href: `${server.url}/deploy/${server.accountId}/projects/1/runs/${r.id}/`,
    ...(r.retryOf ? { retrying_run_id: r.retryOf } : {}),
    trigger: {
      id: r.id + 1,
      cause: r.cause,
      cause_category: r.category ?? "api",
      job_definition_id: r.job,
      ...(r.steps ? { steps_override: r.steps } : {}),
      ...(r.target ? { target_name_override: r.target } : {}),
      ...(r.threads ? { threads_override: r.threads } : {}),
    },
    ...(related.has("job")
      ? {
        job: {
          id: r.job,
          account_id: server.accountId,
          project_id: 1,
          environment_id: 1,
          name: `job ${r.job}`,
          execute_steps: server.jobs.get(r.job) ?? [],
          execution: { timeout_seconds: 0 },
          generate_docs: false,
          errors_on_lint_failure: true,
          lifecycle_webhooks: false,
          run_compare_changes: false,
          run_generate_sources: false,
          run_lint: false,
          settings: { threads: 4, target_name: "default" },
          state: 1,
          triggers: { github_webhook: false, schedule: false },
        },
      }
      : {}),
    ...(related.has("run_steps")
      ? {
        // A real run starts with its set-up steps; `index` counts them.
        run_steps: done
          ? [
            ...SETUP_STEPS,
            ...(r.steps ?? server.jobs.get(r.job) ?? []).map((s) =>
              `Invoke dbt with \`${s}\``
            ),
          ].map((name, i) => ({
            id: i + 1,
            run_id: r.id,
            account_id: server.accountId,
            index: i + 1,
            name,
            status: r.status,
            status_humanized: HUMAN[r.status],
            logs: "",
          }))
          : [],
      }
      : {}),
    artifacts_saved: done,
    has_docs_generated: r.artifacts["catalog.json"] !== undefined,
  };
}
