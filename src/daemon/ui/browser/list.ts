/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Browser side: the jobs list (`/`), newest first, a page at a time through
 * the API's cursor, filtered by status and project (kept in the address's
 * query), refreshed every two seconds.
 *
 * @module
 */
import { api, isFinal, type Job, type JobPage, selection } from "./api.ts";
import {
  badge,
  baseName,
  between,
  duration,
  h,
  labelCells,
  put,
  when,
} from "./dom.ts";

const STATUSES = [
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "interrupted",
];
/** Jobs per page unless the address says `?limit=N` (1 to 1000). */
const PAGE = 50;
const POLL_MS = 2000;

/** Every project the daemon has jobs for (from the newest 1000 jobs). */
export async function knownProjects(): Promise<string[]> {
  const page = await api<JobPage>("/v1/jobs?limit=1000");
  return [...new Set(page.jobs.map((j) => j.request.project_dir))].sort();
}

function askedBy(j: Job): Node {
  const parts: Node[] = [];
  if (j.idempotency_key) {
    parts.push(
      h("span", { class: "tag", title: "Idempotency-Key" }, "key "),
      h("code", {}, j.idempotency_key),
    );
  }
  if (j.trace_id) {
    if (parts.length) parts.push(h("br"));
    parts.push(
      h("span", { class: "tag", title: "trace id" }, "trace "),
      h("code", { title: j.trace_id }, j.trace_id.slice(0, 12)),
    );
  }
  return parts.length ? h("span", {}, ...parts) : h("span", {}, "–");
}

function row(j: Job): HTMLTableRowElement {
  const dur = j.started_at
    ? h("td", {
      ...(isFinal(j.status) ? {} : { "data-since": j.started_at }),
    }, duration(between(j.started_at, j.finished_at)))
    : h("td", {}, "–");
  return h(
    "tr",
    { class: "job", "data-id": j.id, "data-status": j.status },
    h("td", {}, badge(j.status)),
    h(
      "td",
      {},
      h("a", { href: `/jobs/${encodeURIComponent(j.id)}` }, j.id.slice(0, 12)),
    ),
    h("td", {}, j.request.command),
    h(
      "td",
      { title: j.request.project_dir },
      baseName(j.request.project_dir),
    ),
    h("td", {}, j.runtime),
    h("td", { class: "sel" }, selection(j)),
    h("td", {}, when(j.started_at ?? j.created_at)),
    dur,
    h("td", {}, askedBy(j)),
  );
}

/** Render the jobs list into `main`; returns a stop function. */
export function listPage(main: HTMLElement, onError: (e: unknown) => void) {
  const params = new URLSearchParams(location.search);
  let status = params.get("status") ?? "";
  let project = params.get("project") ?? "";
  const asked = Number(params.get("limit"));
  const limit = asked >= 1 && asked <= 1000 ? Math.floor(asked) : PAGE;
  const cursors: (string | null)[] = [null];
  let at = 0;
  let next: string | null = null;
  let shown = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const statusSel = h(
    "select",
    { id: "f-status", onchange: () => changed() },
    h("option", { value: "" }, "All statuses"),
    ...STATUSES.map((s) =>
      h("option", { value: s, selected: s === status }, s)
    ),
  );
  const projectSel = h(
    "select",
    { id: "f-project", onchange: () => changed() },
    h("option", { value: "" }, "All projects"),
  );
  const live = h("span", { class: "live", "aria-live": "polite" }, "");
  const tbody = h("tbody");
  const empty = h("p", { class: "empty", hidden: true }, "No jobs.");
  const newer = h("button", {
    type: "button",
    disabled: true,
    onclick: () => {
      at--;
      void load();
    },
  }, "← Newer");
  const older = h("button", {
    type: "button",
    disabled: true,
    onclick: () => {
      if (!next) return;
      cursors[at + 1] = next;
      at++;
      void load();
    },
  }, "Older →");

  put(
    main,
    h("h1", {}, "Jobs"),
    h(
      "div",
      { class: "filters" },
      h("label", { for: "f-status" }, "Status "),
      statusSel,
      h("label", { for: "f-project" }, "Project "),
      projectSel,
      live,
    ),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "jobs cards", id: "jobs" },
        h("caption", { class: "sr-only" }, "Jobs, newest first"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...[
              "Status",
              "Job",
              "Command",
              "Project",
              "Runtime",
              "Selection",
              "Started",
              "Duration",
              "Asked by",
            ].map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        tbody,
      ),
    ),
    empty,
    h("nav", { class: "pager", "aria-label": "Pages" }, newer, older),
  );

  function setProjects(list: string[]) {
    const all = [...new Set([...list, ...(project ? [project] : [])])].sort();
    put(
      projectSel,
      h("option", { value: "" }, "All projects"),
      ...all.map((p) =>
        h("option", { value: p, selected: p === project, title: p }, p)
      ),
    );
  }

  function changed() {
    status = statusSel.value;
    project = projectSel.value;
    const q = new URLSearchParams();
    if (status) q.set("status", status);
    if (project) q.set("project", project);
    if (limit !== PAGE) q.set("limit", String(limit));
    const qs = q.toString();
    history.replaceState(null, "", qs ? `/?${qs}` : "/");
    cursors.length = 1;
    at = 0;
    void load();
  }

  async function load() {
    clearTimeout(timer);
    try {
      const q = new URLSearchParams({ limit: String(limit) });
      if (status) q.set("status", status);
      if (project) q.set("project_dir", project);
      const c = cursors[at];
      if (c) q.set("cursor", c);
      const page = await api<JobPage>(`/v1/jobs?${q}`);
      if (stopped) return;
      next = page.next_cursor;
      const text = JSON.stringify(page);
      if (text !== shown) {
        shown = text;
        put(tbody, ...page.jobs.map(row));
        labelCells(tbody.parentElement as HTMLTableElement);
        empty.hidden = page.jobs.length > 0;
      }
      newer.disabled = at === 0;
      older.disabled = !next;
      live.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      onError(e);
      return;
    }
    timer = setTimeout(load, POLL_MS);
  }

  // Running jobs' durations tick every second without a reload.
  const tick = setInterval(() => {
    for (const td of tbody.querySelectorAll<HTMLElement>("[data-since]")) {
      td.textContent = duration(between(td.dataset.since!));
    }
  }, 1000);

  setProjects([]);
  knownProjects().then(setProjects).catch(() => {});
  void load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearInterval(tick);
  };
}
