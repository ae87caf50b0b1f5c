/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Browser side: build HTML and SVG elements from data. Text goes in as text
 * nodes only (never as HTML), so nothing a job carries can become markup.
 *
 * @module
 */

/** Attributes: strings set as attributes, functions as event listeners. */
export type Attrs = Record<
  string,
  string | number | boolean | undefined | null | ((e: Event) => void)
>;
/** A child: an element, text, or nothing. */
export type Child = Node | string | number | null | undefined | false;

function fill<E extends Element>(el: E, attrs: Attrs, children: Child[]): E {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
  return el;
}

/** An HTML element. Attribute `onclick` etc. attach listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  return fill(document.createElement(tag), attrs, children);
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element. */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  return fill(
    document.createElementNS(SVG_NS, tag) as SVGElementTagNameMap[K],
    attrs,
    children,
  );
}

/** Replace the children of `el`. */
export function put(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  fill(el, {}, children);
}

/** Seconds as a person reads them: 850 ms, 3.2 s, 2 min 05 s, 1 h 02 min. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return "–";
  }
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) {
    return `${m} min ${String(Math.floor(seconds % 60)).padStart(2, "0")} s`;
  }
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** Seconds between two ISO times (`to` default now). */
export function between(from: string, to?: string | null): number {
  return ((to ? Date.parse(to) : Date.now()) - Date.parse(from)) / 1000;
}

/** A local date and time. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** The last part of a path. */
export function baseName(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop() || path;
}

/** The CSS class of a job's or a node's status (colour; text says it too). */
export function statusClass(status: string): string {
  switch (status) {
    case "succeeded":
    case "success":
    case "pass":
      return "st-ok";
    case "failed":
    case "error":
    case "fail":
    case "runtime error":
      return "st-bad";
    case "warn":
      return "st-warn";
    case "running":
      return "st-run";
    case "queued":
      return "st-wait";
    case "reused":
      return "st-reused";
    default:
      return "st-other";
  }
}

/** A status as a badge: its word, coloured. */
export function badge(status: string): HTMLElement {
  return h("span", { class: `badge ${statusClass(status)}` }, status);
}

/**
 * Label each body cell of `table` with its column's heading (`data-label`),
 * so a narrow window can show the rows as cards.
 */
export function labelCells(table: HTMLTableElement): void {
  const heads = [...table.querySelectorAll("thead th")].map((th) =>
    th.textContent ?? ""
  );
  for (const tr of table.querySelectorAll("tbody tr")) {
    [...tr.children].forEach((td, i) => {
      if (heads[i]) td.setAttribute("data-label", heads[i]!);
    });
  }
}
