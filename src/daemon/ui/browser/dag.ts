/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Browser side: the part of the DAG a job selected, from the job's kept
 * manifest.json: its models, seeds and snapshots in layers (each one column
 * right of its furthest parent), edges from `depends_on`, boxes coloured by
 * the node's status in the job.
 *
 * @module
 */
import { s, statusClass } from "./dom.ts";

const W = 176;
const H = 28;
const GAP_X = 56;
const GAP_Y = 12;
/** More nodes than this are not drawn (the nodes table lists them). */
export const MAX_DAG_NODES = 400;
const DRAWN = new Set(["model", "seed", "snapshot"]);

interface ManifestNode {
  name?: string;
  resource_type?: string;
  depends_on?: { nodes?: string[] };
}

/**
 * Draw into `svg` the nodes of `statuses` (unique_id → status) that the
 * manifest knows; returns how many were drawn (-1: too many).
 */
export function drawDag(
  svg: SVGSVGElement,
  manifest: { nodes?: Record<string, ManifestNode> },
  statuses: Map<string, string>,
): number {
  const nodes = manifest.nodes ?? {};
  const ids = [...statuses.keys()].filter((id) =>
    nodes[id] && DRAWN.has(nodes[id]!.resource_type ?? id.split(".")[0]!)
  );
  svg.replaceChildren();
  if (ids.length > MAX_DAG_NODES) return -1;
  const set = new Set(ids);
  const parents = (id: string) =>
    (nodes[id]?.depends_on?.nodes ?? []).filter((p) => set.has(p));
  const layer = new Map<string, number>();
  const depth = (id: string, seen: Set<string>): number => {
    if (layer.has(id)) return layer.get(id)!;
    if (seen.has(id)) return 0;
    seen.add(id);
    const d = Math.max(-1, ...parents(id).map((p) => depth(p, seen))) + 1;
    layer.set(id, d);
    return d;
  };
  for (const id of ids) depth(id, new Set());
  const columns: string[][] = [];
  for (const id of ids.sort()) (columns[layer.get(id)!] ??= []).push(id);
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, c) =>
    col.forEach((id, r) =>
      pos.set(id, { x: 8 + c * (W + GAP_X), y: 8 + r * (H + GAP_Y) })
    )
  );
  const width = 16 + columns.length * (W + GAP_X) - GAP_X;
  const height = 16 +
    Math.max(1, ...columns.map((c) => c.length)) * (H + GAP_Y) - GAP_Y;
  svg.setAttribute("width", String(Math.max(width, 0)));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${Math.max(width, 0)} ${height}`);
  svg.setAttribute(
    "aria-label",
    `The selected part of the DAG: ${ids.length} nodes`,
  );
  for (const id of ids) {
    const to = pos.get(id)!;
    for (const p of parents(id)) {
      const from = pos.get(p)!;
      const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x, y2 = to.y + H / 2;
      const mx = (x1 + x2) / 2;
      svg.append(
        s("path", {
          d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
          class: "edge",
        }),
      );
    }
  }
  for (const id of ids) {
    const { x, y } = pos.get(id)!;
    const name = nodes[id]!.name ?? id;
    const status = statuses.get(id) ?? "not run";
    svg.append(
      s(
        "g",
        { class: "dag-node", "data-node": id },
        s(
          "rect",
          {
            x,
            y,
            width: W,
            height: H,
            rx: 4,
            class: `bar ${statusClass(status)}`,
          },
          s("title", {}, `${id}: ${status}`),
        ),
        s(
          "text",
          { x: x + 6, y: y + 18, class: "bar-label" },
          name.length > 22 ? name.slice(0, 21) + "…" : name,
        ),
      ),
    );
  }
  return ids.length;
}
