/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Browser side: the token and the daemon's API. The token comes from the
 * address's fragment (`#token=...`, never sent to the server), is kept in
 * this tab's sessionStorage and removed from the address bar; every call
 * sends it as `Authorization: Bearer` (no cookies, so no CSRF). Event
 * streams are read with fetch (EventSource cannot send the header).
 *
 * @module
 */

const KEY = "floe-dbt-token";

/** Move a `#token=...` from the address into sessionStorage. */
export function takeTokenFromFragment(): void {
  const m = location.hash.match(/(?:^#|&)token=([^&]*)/);
  if (!m) return;
  const t = decodeURIComponent(m[1] ?? "").trim();
  if (t) sessionStorage.setItem(KEY, t);
  history.replaceState(null, "", location.pathname + location.search);
}

/** The token of this tab, if any. */
export function token(): string | null {
  return sessionStorage.getItem(KEY);
}

/** Keep `t` as this tab's token. */
export function setToken(t: string): void {
  sessionStorage.setItem(KEY, t.trim());
}

/** Forget the token. */
export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

/** No token, or the daemon refused it (401). */
export class Unauthorized extends Error {
  constructor(message = "Sign in with the daemon's token") {
    super(message);
  }
}

/** The daemon answered with an error body. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly hint: string | undefined;
  constructor(
    status: number,
    body: { code?: string; message?: string; hint?: string },
  ) {
    super(body.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body.code;
    this.hint = body.hint;
  }
}

async function call(
  path: string,
  method: string,
  signal?: AbortSignal,
): Promise<Response> {
  const t = token();
  if (!t) throw new Unauthorized();
  const headers: Record<string, string> = { authorization: `Bearer ${t}` };
  // The daemon takes only JSON bodies, bodyless POSTs included.
  if (method !== "GET") headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    cache: "no-store",
    credentials: "omit",
    ...(signal ? { signal } : {}),
  });
  if (res.status === 401) {
    clearToken();
    throw new Unauthorized("The daemon refused the token");
  }
  if (!res.ok) {
    throw new ApiError(res.status, await res.json().catch(() => ({})));
  }
  return res;
}

/** GET (or POST) `path` and parse its JSON answer. */
export async function api<T>(
  path: string,
  method = "GET",
  signal?: AbortSignal,
): Promise<T> {
  return await (await call(path, method, signal)).json() as T;
}

/** GET `path` as a Blob (an artifact download). */
export async function apiBlob(path: string): Promise<Blob> {
  return await (await call(path, "GET")).blob();
}

/** A progress event as the daemon streams it (schema v1). */
export interface ProgressEvent {
  type: string;
  ts: string;
  unique_id?: string;
  resource_type?: string;
  name?: string;
  status?: string;
  execution_time?: number | null;
  message?: string | null;
  thread?: string;
  level?: string;
  command?: string;
  runtime?: string;
  success?: boolean;
  index?: number | null;
  total?: number | null;
}

/**
 * Read a job's events (every one from the first, then live) until the job
 * ends or `signal` aborts; `onEvent` gets each one.
 */
export async function streamEvents(
  id: string,
  onEvent: (e: ProgressEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const res = await call(
    `/v1/jobs/${encodeURIComponent(id)}/events`,
    "GET",
    signal,
  );
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = chunk.split("\n").filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trim()).join("\n");
      if (!data) continue;
      try {
        onEvent(JSON.parse(data) as ProgressEvent);
      } catch {
        // not an event: skipped
      }
    }
  }
}

/** A job as `GET /v1/jobs/{id}` returns it (the fields the page reads). */
export interface Job {
  id: string;
  status: string;
  runtime: string;
  request: {
    command: string;
    project_dir: string;
    target?: string;
    select?: string[];
    exclude?: string[];
    selector?: string;
    full_refresh?: boolean;
    threads?: number;
    [k: string]: unknown;
  };
  idempotency_key: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  result?: Record<string, unknown> | null;
  error: { code: string; message: string; hint?: string } | null;
  remote_run_id: string | null;
  trace_id?: string | null;
}

/** `GET /v1/jobs`. */
export interface JobPage {
  jobs: Job[];
  next_cursor: string | null;
}

/** True for states a job never leaves. */
export function isFinal(status: string): boolean {
  return status !== "queued" && status !== "running";
}

/** What the job selected, as dbt flags would say it. */
export function selection(j: Job): string {
  const r = j.request;
  const parts: string[] = [];
  if (r.select?.length) parts.push(`--select ${r.select.join(" ")}`);
  if (r.exclude?.length) parts.push(`--exclude ${r.exclude.join(" ")}`);
  if (r.selector) parts.push(`--selector ${r.selector}`);
  if (r.full_refresh) parts.push("--full-refresh");
  if (r.target) parts.push(`--target ${r.target}`);
  return parts.join(" ") || "all";
}
