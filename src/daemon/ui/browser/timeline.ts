/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Browser side: a job's timeline from its progress events: one bar per node
 * on the dbt thread that ran it (threads as dbt-core names them; without
 * thread names, each bar goes to the first lane free when it started),
 * coloured by status, labelled with the node's name; running nodes grow
 * until they finish.
 *
 * @module
 */
import type { ProgressEvent } from "./api.ts";
import { barsOf } from "./bars.ts";
import { duration, s, statusClass } from "./dom.ts";

const LABEL = 96;
const ROW = 30;
const AXIS = 22;

/** Draw the timeline of `events` into `svg`, `width` pixels wide. */
export function drawTimeline(
  svg: SVGSVGElement,
  events: ProgressEvent[],
  width: number,
  now = Date.now(),
): number {
  const { bars, lanes } = barsOf(events);
  width = Math.max(width, 480);
  const height = AXIS + Math.max(lanes.length, 1) * ROW + 6;
  svg.replaceChildren();
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute(
    "aria-label",
    `Timeline: ${bars.length} nodes on ${lanes.length} threads`,
  );
  if (!bars.length) {
    svg.append(
      s(
        "text",
        { x: 8, y: AXIS + 18, class: "muted" },
        "No node has started yet.",
      ),
    );
    return 0;
  }
  const t0 = bars[0]!.start;
  const t1 = Math.max(
    ...bars.map((b) => b.end ?? now),
    now > t0 && bars.some((b) => b.end === null) ? now : 0,
  );
  const span = Math.max(t1 - t0, 1000);
  const plot = width - LABEL - 12;
  const x = (t: number) => LABEL + ((t - t0) / span) * plot;
  for (let i = 0; i <= 4; i++) {
    const tx = LABEL + (plot * i) / 4;
    svg.append(
      s("line", { x1: tx, x2: tx, y1: AXIS - 4, y2: height, class: "tick" }),
      s("text", {
        x: tx,
        y: AXIS - 8,
        class: "axis",
        "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle",
      }, duration((span * i) / 4000)),
    );
  }
  lanes.forEach((name, i) => {
    const y = AXIS + i * ROW;
    svg.append(
      s("rect", {
        x: 0,
        y,
        width,
        height: ROW,
        class: i % 2 ? "lane odd" : "lane",
      }),
      s("text", { x: 6, y: y + 19, class: "lane-label" }, name),
    );
  });
  bars.forEach((b, i) => {
    const y = AXIS + b.lane * ROW + 4;
    const bx = x(b.start);
    const bw = Math.max(x(b.end ?? now) - bx, 3);
    const clip = `tl-clip-${i}`;
    const secs = b.seconds ?? ((b.end ?? now) - b.start) / 1000;
    svg.append(
      s(
        "g",
        { class: "bar-g", "data-node": b.id, "data-status": b.status },
        s(
          "clipPath",
          { id: clip },
          s("rect", { x: bx, y, width: bw, height: ROW - 8 }),
        ),
        s(
          "rect",
          {
            x: bx,
            y,
            width: bw,
            height: ROW - 8,
            rx: 3,
            class: `bar ${statusClass(b.status)}`,
          },
          s(
            "title",
            {},
            `${b.name} (${b.type}): ${b.status}, ${duration(secs)}${
              b.thread ? `, ${b.thread}` : ""
            }${b.message ? `: ${b.message}` : ""}`,
          ),
        ),
        s("text", {
          x: bx + 4,
          y: y + 15,
          "clip-path": `url(#${clip})`,
          class: "bar-label",
        }, b.name),
      ),
    );
  });
  return bars.length;
}
