/**
 * A fake dbt Cloud built from the public Admin API v2 docs and OpenAPI
 * document: the same paths (trailing slashes), the envelope
 * `{"status": {code, is_success, user_message, developer_message}, "data"}`,
 * run status codes 1 -> 2 -> 3 -> 10/20/30 (one step per GET of the run, so no
 * test waits on time), raw artifacts per run (the last step's, or `?step=N`),
 * list-run filters, ordering and pagination, cancel, retry of a failed run, a
 * small Discovery GraphQL endpoint, bearer
 * authentication only (as the document's securitySchemes declare), fault
 * injection (statuses with Retry-After, storms while a condition holds, lost
 * answers, hangs, redirects) and recording of each request with its answer.
 * The facts it follows beyond the OpenAPI document: tests/testdata/dbt-cloud-api.md.
 *
 * @module
 */
import {
  envelope,
  graphqlAnswer,
  HUMAN_HTTP,
  raw,
  runJson,
  SETUP_STEPS,
} from "./fake_payloads.ts";

/** What the fake "dbt Cloud" executes for a run's steps. */
export type Executor = (
  steps: string[],
) => Promise<{
  ok: boolean;
  /** The last step's artifacts (what an artifact GET without `step` gives). */
  artifacts: Record<string, string>;
  /**
   * Each dbt step's artifacts, in order: `?step=N` asks for the run step
   * with index N, and the set-up steps before them have none.
   */
  stepArtifacts?: Record<string, string>[];
}>;

/** A recorded request. */
export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  auth: string | null;
  /** The answer's status. */
  status?: number;
  /** The answer's JSON body (undefined when not JSON). */
  response?: unknown;
}

/** Routes faults can target. */
export type Route =
  | "trigger"
  | "run"
  | "runs"
  | "cancel"
  | "retry"
  | "run_artifact"
  | "job_artifact"
  | "graphql"
  | "any";

/**
 * One injected fault; applies to the next `times` matching requests, or to
 * every matching request while `active()` returns true (a storm window).
 */
export type Fault =
  & {
    route: Route;
    times?: number;
    active?: () => boolean;
    /** Something else that happens in dbt Cloud when the fault fires. */
    onFire?: () => void;
  }
  & (
    | {
      kind: "status";
      status: number;
      retryAfter?: string;
      userMessage?: string;
    }
    | { kind: "lose_response"; status?: number } // process, then 502/504 or hang
    | { kind: "hang" } // never answer (until the client gives up)
    | { kind: "malformed" } // 200 with broken JSON
    | { kind: "redirect"; status?: number; location: string }
  );

/** One run as the fake stores it. */
export interface FakeRun {
  id: number;
  job: number;
  status: 1 | 2 | 3 | 10 | 20 | 30;
  cause: string;
  steps: string[] | null;
  created: Date;
  artifacts: Record<string, string>;
  /** Each step's artifacts, when the executor gave them (`?step=N`). */
  stepArtifacts?: Record<string, string>[];
  message: string | null;
  /** target_name_override of the trigger. */
  target?: string | null;
  /** threads_override of the trigger. */
  threads?: number | null;
  /** The failed run this run retries (POST runs/{id}/retry/). */
  retryOf?: number;
  /** The trigger's cause_category (CauseCategoryEnum); default `api`. */
  category?: string;
}

/** The fake server; `await using` stops it. */
export class FakeDbtCloud {
  readonly requests: Recorded[] = [];
  readonly faults: Fault[] = [];
  readonly runs = new Map<number, FakeRun>();
  /** Job id -> the job's own steps. */
  readonly jobs = new Map<number, string[]>();
  /** Models served by the Discovery endpoint. */
  appliedModels: { uniqueId: string; name: string; status: string }[] = [];
  /** While true, runs stay at status 3 (running) and never finish. */
  holdRunning = false;
  #nextId = 70_000_000_001; // beyond 2^32, like real run ids
  #server: Deno.HttpServer<Deno.NetAddr>;
  #hangs = new Set<() => void>();

  /** `token` is the one valid token: assign a new one to rotate it. */
  constructor(
    readonly accountId: number,
    public token: string,
    public executor: Executor,
  ) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => this.#handle(req),
    );
  }

  /** The access URL (what base_url is set to). */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Requests whose path ends with `suffix` (and method if given). */
  calls(route: RegExp, method?: string): Recorded[] {
    return this.requests.filter((r) =>
      route.test(r.path) && (!method || r.method === method)
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const release of this.#hangs) release();
    await this.#server.shutdown();
  }

  /** A run of `job` started by dbt Cloud's scheduler (not by the agent). */
  schedule(job: number): FakeRun {
    const run: FakeRun = {
      id: this.#nextId++,
      job,
      status: 1,
      cause: "Kicked off from the scheduler",
      steps: null,
      created: new Date(),
      artifacts: {},
      message: null,
      category: "scheduled",
    };
    this.runs.set(run.id, run);
    return run;
  }

  #fault(route: Route): Fault | undefined {
    const i = this.faults.findIndex((f) =>
      (f.route === route || f.route === "any") &&
      (!f.active || f.active())
    );
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    f.onFire?.();
    if (f.active) return f;
    f.times = (f.times ?? 1) - 1;
    if (f.times <= 0) this.faults.splice(i, 1);
    return f;
  }

  #hang(req: Request): Promise<Response> {
    return new Promise((resolve) => {
      const release = () => resolve(new Response(null, { status: 504 }));
      this.#hangs.add(release);
      req.signal.addEventListener("abort", release, { once: true });
    });
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const text = req.method === "POST" ? await req.text() : "";
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch { /* recorded as null */ }
    const rec: Recorded = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
      auth: req.headers.get("authorization"),
    };
    this.requests.push(rec);
    const res = await this.#respond(req, url, body);
    rec.status = res.status;
    if (res.headers.get("content-type")?.includes("application/json")) {
      try {
        rec.response = await res.clone().json();
      } catch { /* malformed on purpose */ }
    }
    return res;
  }

  async #respond(req: Request, url: URL, body: unknown): Promise<Response> {
    const route = this.#route(req.method, url.pathname);
    if (!route) return envelope(404, null, "Not found.");
    const auth = req.headers.get("authorization");
    if (auth !== `Bearer ${this.token}`) {
      return envelope(401, null, "Invalid token.");
    }
    if (
      Number(route.params.account ?? this.accountId) !== this.accountId &&
      route.name !== "graphql"
    ) {
      return envelope(404, null, "Account not found.");
    }
    const fault = this.#fault(route.name);
    if (fault?.kind === "hang") return await this.#hang(req);
    if (fault?.kind === "redirect") {
      return new Response(null, {
        status: fault.status ?? 302,
        headers: { location: fault.location },
      });
    }
    if (fault?.kind === "malformed") {
      return new Response('{"status": {"code": 200, ', {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    }
    if (fault?.kind === "status") {
      const headers: Record<string, string> = fault.retryAfter
        ? { "retry-after": fault.retryAfter }
        : {};
      return envelope(
        fault.status,
        null,
        fault.userMessage ?? HUMAN_HTTP[fault.status] ?? "Error",
        headers,
      );
    }
    const res = await this.#answer(route.name, route.params, url, body);
    if (fault?.kind === "lose_response") {
      return fault.status
        ? new Response("<html>bad gateway</html>", { status: fault.status })
        : await this.#hang(req);
    }
    return res;
  }

  #route(
    method: string,
    path: string,
  ): { name: Route; params: Record<string, string> } | undefined {
    const table: [string, Route, RegExp][] = [
      [
        "POST",
        "trigger",
        /^\/api\/v2\/accounts\/(?<account>\d+)\/jobs\/(?<job>\d+)\/run\/$/,
      ],
      [
        "GET",
        "run",
        /^\/api\/v2\/accounts\/(?<account>\d+)\/runs\/(?<run>\d+)\/$/,
      ],
      ["GET", "runs", /^\/api\/v2\/accounts\/(?<account>\d+)\/runs\/$/],
      [
        "POST",
        "cancel",
        /^\/api\/v2\/accounts\/(?<account>\d+)\/runs\/(?<run>\d+)\/cancel\/$/,
      ],
      [
        "POST",
        "retry",
        /^\/api\/v2\/accounts\/(?<account>\d+)\/runs\/(?<run>\d+)\/retry\/$/,
      ],
      [
        "GET",
        "run_artifact",
        /^\/api\/v2\/accounts\/(?<account>\d+)\/runs\/(?<run>\d+)\/artifacts\/(?<path>.+)$/,
      ],
      [
        "GET",
        "job_artifact",
        /^\/api\/v2\/accounts\/(?<account>\d+)\/jobs\/(?<job>\d+)\/artifacts\/(?<path>.+)$/,
      ],
      ["POST", "graphql", /^\/graphql\/?$/],
    ];
    for (const [m, name, re] of table) {
      const match = re.exec(path);
      if (match && m === method) return { name, params: { ...match.groups } };
    }
    return undefined;
  }

  async #answer(
    name: Route,
    p: Record<string, string>,
    url: URL,
    body: unknown,
  ): Promise<Response> {
    switch (name) {
      case "trigger": {
        const job = Number(p.job);
        if (!this.jobs.has(job)) return envelope(404, null, "Job not found.");
        const b = (body ?? {}) as {
          cause?: unknown;
          steps_override?: unknown;
          target_name_override?: unknown;
          threads_override?: unknown;
        };
        if (typeof b.cause !== "string" || !b.cause || b.cause.length > 255) {
          return envelope(400, {
            cause: ["Ensure this field has no more than 255 characters."],
          }, "Invalid request.");
        }
        const steps = b.steps_override ?? null;
        if (
          steps !== null &&
          (!Array.isArray(steps) ||
            steps.some((s) =>
              typeof s !== "string" || !s.startsWith("dbt ") ||
              /[;&|\n`$]/.test(s)
            ))
        ) {
          return envelope(400, {
            steps_override: ["Each step must be a dbt command."],
          }, "Invalid request.");
        }
        const run: FakeRun = {
          id: this.#nextId++,
          job,
          status: 1,
          cause: b.cause,
          steps: steps as string[] | null,
          created: new Date(),
          artifacts: {},
          message: null,
          target: typeof b.target_name_override === "string"
            ? b.target_name_override
            : null,
          threads: typeof b.threads_override === "number"
            ? b.threads_override
            : null,
        };
        this.runs.set(run.id, run);
        return envelope(200, runJson(this, run), "Success!");
      }
      case "run": {
        const run = this.runs.get(Number(p.run));
        if (!run) return envelope(404, null, "Run not found.");
        await this.#advance(run);
        return envelope(
          200,
          runJson(this, run, url.searchParams.get("include_related")),
          "Success!",
        );
      }
      case "runs": {
        const q = url.searchParams;
        let list = [...this.runs.values()];
        if (q.get("job_definition_id")) {
          list = list.filter((r) =>
            r.job === Number(q.get("job_definition_id"))
          );
        }
        if (q.get("id__gt")) {
          list = list.filter((r) => r.id > Number(q.get("id__gt")));
        }
        if (q.get("status")) {
          list = list.filter((r) => r.status === Number(q.get("status")));
        }
        const order = q.get("order_by") ?? "id";
        const key = (r: FakeRun) =>
          order.endsWith("created_at")
            ? r.created.getTime() * 1e3 + r.id % 1e3
            : r.id;
        list.sort((a, b) =>
          order.startsWith("-") ? key(b) - key(a) : key(a) - key(b)
        );
        const offset = Number(q.get("offset") ?? 0);
        const limit = Number(q.get("limit") ?? 100);
        const page = list.slice(offset, offset + limit);
        return envelope(
          200,
          page.map((r) => runJson(this, r)),
          "Success!",
          {},
          {
            filters: Object.fromEntries(q),
            order_by: order,
            pagination: { count: page.length, total_count: list.length },
          },
        );
      }
      case "cancel": {
        const run = this.runs.get(Number(p.run));
        if (!run) return envelope(404, null, "Run not found.");
        if (run.status < 10) run.status = 30;
        return envelope(200, runJson(this, run), "Success!");
      }
      case "retry":
        return this.#retry(Number(p.run));
      case "run_artifact": {
        const run = this.runs.get(Number(p.run));
        // ?step=N: the artifacts of the run step with index N (1-based,
        // set-up steps counted, which have none); none: the last step's.
        // The last step's index gives the same files as no index.
        const step = url.searchParams.get("step");
        const dbtSteps = run ? (run.steps ?? this.jobs.get(run.job) ?? []) : [];
        const last = SETUP_STEPS.length + dbtSteps.length;
        const text = step === null ||
            (!run?.stepArtifacts && Number(step) === last)
          ? run?.artifacts[p.path!]
          : run?.stepArtifacts?.[Number(step) - 1 - SETUP_STEPS.length]
            ?.[p.path!];
        return text === undefined
          ? envelope(404, null, "The requested artifact was not found.")
          : raw(text);
      }
      case "job_artifact": {
        const latest =
          [...this.runs.values()].filter((r) =>
            r.job === Number(p.job) && r.status === 10
          ).sort((a, b) => b.id - a.id)[0];
        const text = latest?.artifacts[p.path!];
        return text === undefined
          ? envelope(404, null, "The requested artifact was not found.")
          : raw(text);
      }
      case "graphql":
        return graphqlAnswer(this.appliedModels, body);
      default:
        return envelope(404, null, "Not found.");
    }
  }

  /**
   * Retry Run: a new run of the failed run's job, with its trigger's
   * overrides, that re-runs what failed. Only the job's newest run, and only
   * when it failed: a 400 envelope otherwise (the reasons of the document's
   * RetryNotSupportedReasonEnum).
   */
  #retry(id: number): Response {
    const failed = this.runs.get(id);
    if (!failed) return envelope(404, null, "Run not found.");
    const newer = [...this.runs.values()].some((r) =>
      r.job === failed.job && r.id > failed.id
    );
    if (failed.status !== 20 || newer) {
      const reason = failed.status !== 20
        ? "RETRY_NOT_FAILED_RUN"
        : "RETRY_NOT_LATEST_RUN";
      return envelope(
        400,
        null,
        failed.status !== 20
          ? "Only a failed run can be retried."
          : "Only the latest run of a job can be retried.",
        {},
        undefined,
        reason,
      );
    }
    const run: FakeRun = {
      id: this.#nextId++,
      job: failed.job,
      status: 1,
      cause: `Retry of run ${failed.id}`,
      steps: failed.steps,
      created: new Date(),
      artifacts: {},
      message: null,
      target: failed.target ?? null,
      threads: failed.threads ?? null,
      retryOf: failed.id,
      category: "rerun",
    };
    this.runs.set(run.id, run);
    return envelope(200, runJson(this, run), "Success!");
  }

  async #advance(run: FakeRun): Promise<void> {
    if (run.status === 1 || run.status === 2) {
      run.status = (run.status + 1) as 2 | 3;
    } else if (run.status === 3 && !this.holdRunning) {
      const steps = run.steps ?? this.jobs.get(run.job) ?? [];
      const r = await this.executor(steps);
      run.artifacts = r.artifacts;
      if (r.stepArtifacts) run.stepArtifacts = r.stepArtifacts;
      run.status = r.ok ? 10 : 20;
      run.message = r.ok ? null : "Job run failed: a step errored";
    }
  }
}
