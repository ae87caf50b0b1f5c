/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Browser side: a project's history (`/history?project=DIR`): each model's
 * duration over the project's recent jobs as a sparkline, the slowest
 * models, and the ones now slower than their median (from
 * `GET /v1/project/history`).
 *
 * @module
 */
import { api } from "./api.ts";
import { duration, h, labelCells, put, s } from "./dom.ts";
import { knownProjects } from "./list.ts";

interface NodeHistory {
  unique_id: string;
  name: string;
  resource_type: string;
  durations: (number | null)[];
  median: number | null;
  latest: number | null;
  slower: boolean;
}

interface History {
  project_dir: string;
  jobs: { id: string; command: string; status: string; created_at: string }[];
  nodes: NodeHistory[];
  margin: { ratio: number; seconds: number };
  without_artifacts: number;
}

/** A small line of `values` (null: a gap), the last point marked. */
export function sparkline(
  values: (number | null)[],
  max: number,
): SVGSVGElement {
  const W = 140, H = 28, P = 3;
  const n = Math.max(values.length - 1, 1);
  const x = (i: number) => P + (i / n) * (W - 2 * P);
  const y = (v: number) => H - P - (max > 0 ? v / max : 0) * (H - 2 * P);
  const svg = s("svg", {
    class: "spark",
    width: W,
    height: H,
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": `durations, oldest first: ${
      values.map((v) => v === null ? "not run" : duration(v)).join(", ")
    }`,
  });
  let run: string[] = [];
  const flush = () => {
    if (run.length > 1) {
      svg.append(s("polyline", { points: run.join(" "), class: "spark-line" }));
    } else if (run.length === 1) {
      const [px, py] = run[0]!.split(",");
      svg.append(s("circle", { cx: px, cy: py, r: 1.5, class: "spark-dot" }));
    }
    run = [];
  };
  values.forEach((v, i) => {
    if (v === null) flush();
    else run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  });
  flush();
  const last = values.length - 1;
  const lv = values[last];
  if (lv !== null && lv !== undefined) {
    svg.append(
      s("circle", { cx: x(last), cy: y(lv), r: 2.5, class: "spark-last" }),
    );
  }
  return svg;
}

/** Render the history page into `main`. */
export function historyPage(main: HTMLElement, onError: (e: unknown) => void) {
  const params = new URLSearchParams(location.search);
  let project = params.get("project") ?? "";
  const select = h("select", {
    id: "h-project",
    onchange: () => {
      project = select.value;
      history.replaceState(
        null,
        "",
        project
          ? `/history?project=${encodeURIComponent(project)}`
          : "/history",
      );
      void load();
    },
  });
  const body = h("div", { id: "history" });
  put(
    main,
    h("h1", {}, "History"),
    h(
      "div",
      { class: "filters" },
      h("label", { for: "h-project" }, "Project "),
      select,
    ),
    body,
  );

  async function load() {
    if (!project) {
      put(body, h("p", { class: "muted" }, "Choose a project."));
      return;
    }
    put(body, h("p", { class: "muted" }, "Loading…"));
    let hist: History;
    try {
      hist = await api<History>(
        `/v1/project/history?project_dir=${encodeURIComponent(project)}`,
      );
    } catch (e) {
      onError(e);
      return;
    }
    const max = Math.max(
      0,
      ...hist.nodes.flatMap((n) =>
        n.durations.filter((d): d is number => d !== null)
      ),
    );
    const slower = hist.nodes.filter((n) => n.slower);
    const slowest = [...hist.nodes].filter((n) => n.latest !== null).sort((
      a,
      b,
    ) => b.latest! - a.latest!).slice(0, 10);
    const table = (rows: NodeHistory[], id: string) => {
      const box = h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { id, class: "cards" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...[
                "Model",
                "Type",
                `Last ${hist.jobs.length} jobs`,
                "Latest",
                "Median",
                "Runs",
                "Note",
              ].map((t) => h("th", { scope: "col" }, t)),
            ),
          ),
          h(
            "tbody",
            {},
            ...rows.map((n) =>
              h(
                "tr",
                { "data-node": n.unique_id },
                h("td", { title: n.unique_id }, n.name),
                h("td", {}, n.resource_type),
                h("td", {}, sparkline(n.durations, max)),
                h("td", {}, duration(n.latest)),
                h("td", {}, duration(n.median)),
                h(
                  "td",
                  {},
                  String(n.durations.filter((d) => d !== null).length),
                ),
                h(
                  "td",
                  {},
                  n.slower
                    ? h("span", { class: "badge st-warn" }, "slower than usual")
                    : "",
                ),
              )
            ),
          ),
        ),
      );
      labelCells(box.querySelector("table")!);
      return box;
    };
    put(
      body,
      h(
        "p",
        {},
        `${hist.jobs.length} finished jobs read, oldest first in each line`,
        hist.without_artifacts
          ? ` (${hist.without_artifacts} more without kept run_results)`
          : "",
        ".",
      ),
      h("h2", {}, "Slower than usual"),
      slower.length
        ? h(
          "ul",
          { id: "slower" },
          ...slower.map((n) =>
            h(
              "li",
              {},
              h("strong", {}, n.name),
              ` took ${duration(n.latest)} in the latest job; its median is ${
                duration(n.median)
              }`,
            )
          ),
        )
        : h(
          "p",
          { class: "muted" },
          `None: no model's latest run is over ${hist.margin.ratio}× its median and ${
            duration(hist.margin.seconds)
          } more.`,
        ),
      h("h2", {}, "Slowest models (latest job)"),
      slowest.length
        ? table(slowest, "slowest")
        : h("p", { class: "muted" }, "No runs with timings yet."),
      h("h2", {}, "Every model"),
      hist.nodes.length
        ? table(hist.nodes, "all-models")
        : h("p", { class: "muted" }, "No runs with timings yet."),
    );
  }

  knownProjects().then((list) => {
    if (!project && list.length === 1) project = list[0]!;
    put(
      select,
      h("option", { value: "" }, "Choose a project"),
      ...[...new Set([...list, ...(project ? [project] : [])])].map((p) =>
        h("option", { value: p, selected: p === project }, p)
      ),
    );
    return load();
  }).catch(onError);
  return () => {};
}
