/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Browser side: one job's page (`/jobs/{id}`): its facts, the error with its
 * hint, a cancel button while it runs, the timeline drawn as the events
 * arrive, the nodes and the selected part of the DAG, which nodes a
 * `--skip-unchanged` job reused and why, the log with a search box, and its
 * artifacts (fetched with the token, saved as files).
 *
 * @module
 */
import {
  api,
  apiBlob,
  ApiError,
  isFinal,
  type Job,
  type ProgressEvent,
  selection,
  streamEvents,
} from "./api.ts";
import { drawDag } from "./dag.ts";
import {
  badge,
  between,
  duration,
  h,
  labelCells,
  put,
  s,
  when,
} from "./dom.ts";
import { barsOf, reasons } from "./bars.ts";
import { drawTimeline } from "./timeline.ts";

const POLL_MS = 1500;
const ARTIFACTS = [
  ["manifest", "manifest.json"],
  ["run_results", "run_results.json"],
  ["catalog", "catalog.json"],
  ["dbt_log", "dbt.log"],
] as const;
/** What to do next for an error code when the job's error has no hint. */
const HINTS: Record<string, string> = {
  "FLOE-DBT-E001":
    "a model does not compile: fix the Jinja or SQL named in the message, then run the job again",
  "FLOE-DBT-E002":
    "look at the failing nodes in the timeline and the log below; run one alone with --select NAME",
  "FLOE-DBT-E003":
    "check dbt_project.yml, profiles.yml and the daemon's configuration named in the message",
  "FLOE-DBT-E007":
    "the job passed its deadline: raise timeout_seconds, or make the slow model faster (see History)",
  "FLOE-DBT-E008": "the job was stopped on request; run it again if needed",
  "FLOE-DBT-E011":
    "the project is outside the daemon's project roots: ask the operator",
};

function fact(label: string, value: Node | string): Node[] {
  return [h("dt", {}, label), h("dd", {}, value)];
}

/** Render job `id` into `main`; returns a stop function. */
export function jobPage(
  main: HTMLElement,
  id: string,
  onError: (e: unknown) => void,
) {
  const stop = new AbortController();
  const events: ProgressEvent[] = [];
  let job: Job | undefined;
  let manifest: Parameters<typeof drawDag>[1] | undefined;
  let manifestAsked = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending = false;

  const title = h("h1", {}, "Job ", h("code", {}, id.slice(0, 12)), " ");
  const facts = h("dl", { class: "facts" });
  const actions = h("div", { class: "actions" });
  const errorBox = h("section", {
    class: "error",
    hidden: true,
    "aria-labelledby": "h-error",
  });
  const reuseBox = h("section", { hidden: true, "aria-labelledby": "h-reuse" });
  const svg = s("svg", { id: "timeline", role: "img", class: "timeline" });
  const nodesBody = h("tbody");
  const dagSvg = s("svg", {
    id: "dag",
    role: "img",
    class: "dag",
    width: 0,
    height: 0,
  });
  const dagNote = h(
    "p",
    { class: "muted" },
    "The DAG is drawn from the job's manifest once the job ends.",
  );
  const search = h("input", {
    type: "search",
    id: "log-search",
    placeholder: "Filter the log",
    oninput: () => filterLog(),
  });
  const logCount = h("span", { class: "muted", "aria-live": "polite" });
  const logList = h("ol", { class: "log", id: "log" });
  const artifacts = h("ul", { class: "artifacts" });
  const result = h("dl", { class: "facts" });
  const timelineBox = h("div", { class: "scroll" }, svg);

  put(
    main,
    h("p", {}, h("a", { href: "/" }, "← All jobs")),
    title,
    facts,
    actions,
    errorBox,
    reuseBox,
    h(
      "section",
      { "aria-labelledby": "h-timeline" },
      h("h2", { id: "h-timeline" }, "Timeline"),
      timelineBox,
      h(
        "p",
        { class: "legend" },
        ...["success", "error", "warn", "skipped", "running"].map((st) =>
          badge(st)
        ),
      ),
    ),
    h(
      "section",
      { "aria-labelledby": "h-dag" },
      h("h2", { id: "h-dag" }, "Selected DAG"),
      dagNote,
      h("div", { class: "scroll" }, dagSvg),
    ),
    h(
      "section",
      { "aria-labelledby": "h-nodes" },
      h("h2", { id: "h-nodes" }, "Nodes"),
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { id: "nodes", class: "cards" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Node", "Type", "Status", "Thread", "Duration", "Message"]
                .map((t) => h("th", { scope: "col" }, t)),
            ),
          ),
          nodesBody,
        ),
      ),
    ),
    h(
      "section",
      { "aria-labelledby": "h-result" },
      h("h2", { id: "h-result" }, "Result"),
      result,
    ),
    h(
      "section",
      { "aria-labelledby": "h-log" },
      h("h2", { id: "h-log" }, "Log"),
      h(
        "div",
        { class: "filters" },
        h("label", { for: "log-search" }, "Search "),
        search,
        logCount,
      ),
      logList,
    ),
    h(
      "section",
      { "aria-labelledby": "h-artifacts" },
      h("h2", { id: "h-artifacts" }, "Artifacts"),
      artifacts,
    ),
  );

  function drawFacts(j: Job) {
    put(
      title,
      "Job ",
      h("code", { title: j.id }, j.id.slice(0, 12)),
      " ",
      badge(j.status),
    );
    const dur = j.started_at
      ? duration(between(j.started_at, j.finished_at))
      : "–";
    put(
      facts,
      ...fact("Status", badge(j.status)),
      ...fact("Command", j.request.command),
      ...fact("Project", h("code", {}, j.request.project_dir)),
      ...fact("Runtime", j.runtime),
      ...fact("Selection", selection(j)),
      ...fact("Created", when(j.created_at)),
      ...fact("Started", when(j.started_at)),
      ...fact("Finished", when(j.finished_at)),
      ...fact("Duration", dur),
      ...(j.idempotency_key
        ? fact("Idempotency key", h("code", {}, j.idempotency_key))
        : []),
      ...(j.trace_id ? fact("Trace", h("code", {}, j.trace_id)) : []),
      ...(j.remote_run_id
        ? fact("Remote run", h("code", {}, j.remote_run_id))
        : []),
      ...fact(
        "History",
        h("a", {
          href: `/history?project=${encodeURIComponent(j.request.project_dir)}`,
        }, "durations of this project's models"),
      ),
    );
    if (!isFinal(j.status)) {
      if (!actions.querySelector("#cancel")) {
        put(
          actions,
          h("button", {
            id: "cancel",
            type: "button",
            class: "danger",
            onclick: cancel,
          }, "Cancel job"),
        );
      }
    } else put(actions);
    if (j.error) {
      errorBox.hidden = false;
      const hint = j.error.hint ?? HINTS[j.error.code];
      put(
        errorBox,
        h("h2", { id: "h-error" }, "Error"),
        h("p", {}, h("code", {}, j.error.code)),
        h("pre", { class: "message" }, j.error.message),
        hint
          ? h("p", { class: "hint" }, h("strong", {}, "What to do: "), hint)
          : null,
      );
    } else errorBox.hidden = true;
    const meta = (j.result?.metadata ?? {}) as Record<string, unknown>;
    const reused = reasons(meta.reused);
    const rebuilt = reasons(meta.rebuilt);
    if (reused.length || rebuilt.length) {
      reuseBox.hidden = false;
      const list = (rows: [string, string][]) =>
        h(
          "ul",
          {},
          ...rows.map(([n, why]) =>
            h("li", {}, h("code", {}, n), why ? ` — ${why}` : "")
          ),
        );
      put(
        reuseBox,
        h("h2", { id: "h-reuse" }, "Skip unchanged"),
        h("h3", {}, `Reused (${reused.length})`),
        reused.length ? list(reused) : h("p", {}, "none"),
        h("h3", {}, `Rebuilt (${rebuilt.length})`),
        rebuilt.length ? list(rebuilt) : h("p", {}, "none"),
      );
    }
    const r = j.result as Record<string, unknown> | null | undefined;
    if (r) {
      const keys = "models_run" in r
        ? [
          "success",
          "models_run",
          "tests_run",
          "failures",
          "execution_time_seconds",
        ]
        : ["passed", "total_issues", "errors", "warnings"];
      put(
        result,
        ...keys.flatMap((k) =>
          fact(
            k.replaceAll("_", " "),
            k === "execution_time_seconds"
              ? duration(r[k] as number)
              : String(r[k]),
          )
        ),
      );
    } else {put(
        result,
        h(
          "dd",
          { class: "muted" },
          isFinal(j.status) ? "No result." : "When the job ends.",
        ),
      );}
    drawArtifacts(j);
  }

  function drawArtifacts(j: Job) {
    if (!isFinal(j.status)) {
      put(artifacts, h("li", { class: "muted" }, "Kept when the job ends."));
      return;
    }
    if (artifacts.dataset.for === j.id) return;
    artifacts.dataset.for = j.id;
    put(
      artifacts,
      ...ARTIFACTS.map(([name, file]) => {
        const note = h("span", { class: "muted" });
        const path = `/v1/jobs/${encodeURIComponent(j.id)}/artifacts/${name}`;
        return h(
          "li",
          {},
          h("a", {
            href: path,
            download: file,
            onclick: (e: Event) => {
              e.preventDefault();
              apiBlob(path).then((blob) => {
                const url = URL.createObjectURL(blob);
                const a = h("a", { href: url, download: file });
                document.body.append(a);
                a.click();
                a.remove();
                setTimeout(() => URL.revokeObjectURL(url), 10_000);
                note.textContent = "";
              }).catch((err) => {
                note.textContent = ` ${
                  err instanceof ApiError ? err.message : String(err)
                }`;
              });
            },
          }, file),
          note,
        );
      }),
    );
  }

  async function cancel(e: Event) {
    const b = e.currentTarget as HTMLButtonElement;
    b.disabled = true;
    b.textContent = "Cancelling…";
    try {
      await api(`/v1/jobs/${encodeURIComponent(id)}/cancel`, "POST");
      await refresh();
    } catch (err) {
      b.disabled = false;
      b.textContent = "Cancel job";
      onError(err);
    }
  }

  function logText(e: ProgressEvent): string {
    switch (e.type) {
      case "job_started":
        return `job started: ${e.command} on ${e.runtime}`;
      case "node_started":
        return `${e.resource_type} ${e.unique_id} started${
          e.thread ? ` on ${e.thread}` : ""
        }`;
      case "node_finished":
        return `${e.resource_type} ${e.unique_id} ${e.status}${
          e.execution_time != null ? ` in ${duration(e.execution_time)}` : ""
        }${e.message ? `: ${e.message}` : ""}`;
      case "log":
        return e.message ?? "";
      case "job_finished":
        return `job finished: ${e.success ? "success" : "not successful"}`;
      default:
        return JSON.stringify(e);
    }
  }

  function addLog(e: ProgressEvent) {
    const text = logText(e);
    const level = e.type === "log"
      ? e.level ?? "info"
      : e.type === "node_finished" && /error|fail/.test(e.status ?? "")
      ? "error"
      : "info";
    const li = h(
      "li",
      { class: `lv-${level}` },
      h(
        "time",
        { datetime: e.ts },
        new Date(e.ts).toLocaleTimeString(undefined, { hour12: false }),
      ),
      " ",
      h("span", { class: "lv" }, level),
      " ",
      h("span", { class: "msg" }, text),
    );
    const q = search.value.trim().toLowerCase();
    if (q && !text.toLowerCase().includes(q)) li.hidden = true;
    logList.append(li);
  }

  function filterLog() {
    const q = search.value.trim().toLowerCase();
    let shown = 0;
    const items = logList.querySelectorAll<HTMLLIElement>("li");
    for (const li of items) {
      li.hidden = q !== "" && !(li.textContent ?? "").toLowerCase().includes(q);
      if (!li.hidden) shown++;
    }
    logCount.textContent = q
      ? ` ${shown} of ${items.length} lines`
      : ` ${items.length} lines`;
  }

  function drawNodes() {
    const { bars } = barsOf(events);
    put(
      nodesBody,
      ...bars.map((b) =>
        h(
          "tr",
          {},
          h("td", {}, b.name),
          h("td", {}, b.type),
          h("td", {}, badge(b.status)),
          h("td", {}, b.thread ?? "–"),
          h(
            "td",
            {},
            duration(b.seconds ?? ((b.end ?? Date.now()) - b.start) / 1000),
          ),
          h("td", { class: "msg" }, b.message ?? ""),
        )
      ),
    );
    labelCells(nodesBody.parentElement as HTMLTableElement);
  }

  function redraw() {
    pending = false;
    drawTimeline(svg, events, timelineBox.clientWidth || main.clientWidth);
    drawNodes();
    drawDagNow();
    filterLog();
  }

  function schedule() {
    if (pending) return;
    pending = true;
    setTimeout(redraw, 100);
  }

  function drawDagNow() {
    if (!manifest) return;
    const statuses = new Map(
      barsOf(events).bars.map((b) => [b.id, b.status]),
    );
    const n = drawDag(dagSvg, manifest, statuses);
    dagNote.textContent = n < 0
      ? `Too many nodes to draw (${statuses.size}); the nodes table lists them.`
      : n === 0
      ? "No model, seed or snapshot ran in this job."
      : `${n} ${
        n === 1 ? "node" : "nodes"
      } (models, seeds, snapshots) the job ran, left to right in dependency order; tests are in the nodes table.`;
  }

  async function loadManifest(j: Job) {
    if (manifestAsked || !isFinal(j.status)) return;
    manifestAsked = true;
    try {
      manifest = await api<Parameters<typeof drawDag>[1]>(
        `/v1/jobs/${encodeURIComponent(j.id)}/artifacts/manifest`,
      );
      drawDagNow();
    } catch (e) {
      dagNote.textContent = `No DAG: ${
        e instanceof Error ? e.message : String(e)
      }`;
    }
  }

  async function refresh() {
    clearTimeout(timer);
    const j = await api<Job>(
      `/v1/jobs/${encodeURIComponent(id)}`,
      "GET",
      stop.signal,
    );
    job = j;
    drawFacts(j);
    if (isFinal(j.status)) {
      schedule();
      await loadManifest(j);
    } else {
      timer = setTimeout(() => refresh().catch(onError), POLL_MS);
    }
  }

  // Running bars grow with the clock.
  const tick = setInterval(() => {
    if (job && !isFinal(job.status)) schedule();
  }, 1000);
  const resize = () => schedule();
  addEventListener("resize", resize);

  refresh().then(() =>
    streamEvents(id, (e) => {
      events.push(e);
      addLog(e);
      schedule();
      if (e.type === "job_finished") void refresh().catch(onError);
    }, stop.signal)
  ).then(() => schedule()).catch((e) => {
    if (!stop.signal.aborted) onError(e);
  });

  return () => {
    stop.abort();
    clearTimeout(timer);
    clearInterval(tick);
    removeEventListener("resize", resize);
  };
}
