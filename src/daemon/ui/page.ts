/**
 * The page the daemon serves at `/`, `/jobs/{id}` and `/history`: one HTML
 * shell (no data in it, no inline script or style) that loads the app's
 * script and style from the daemon itself, and its style sheet.
 *
 * @module
 */

/** The HTML shell of every page. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>floe-dbt</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="bar">
<a class="brand" href="/">floe-dbt</a>
<nav class="top" aria-label="Pages"><a href="/">Jobs</a><a href="/history">History</a></nav>
<span id="account"></span>
</header>
<main id="main" tabindex="-1"><noscript>This page needs JavaScript.</noscript></main>
</body>
</html>
`;

/** The style sheet (light and dark, status colours with text beside them). */
export const APP_CSS = `
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de;
  --panel: #f6f8fa; --accent: #0550ae; --focus: #bf3989;
  --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --run: #0969da;
  --wait: #6e7781; --other: #8c959f; --reused: #8250df;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9da7b3; --line: #30363d;
    --panel: #161b22; --accent: #6cb6ff; --focus: #ff7bc5;
    --ok: #3fb950; --bad: #f85149; --warn: #d29922; --run: #58a6ff;
    --wait: #8b949e; --other: #6e7681; --reused: #a371f7;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, select:focus-visible, input:focus-visible, main:focus-visible {
  outline: 3px solid var(--focus); outline-offset: 2px;
}
code, pre, time { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; z-index: 2; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
header.bar { display: flex; align-items: center; gap: 20px; padding: 10px 20px; border-bottom: 1px solid var(--line); background: var(--panel); flex-wrap: wrap; }
.brand { font-weight: 700; color: var(--fg); text-decoration: none; font-size: 1.1em; }
nav.top { display: flex; gap: 14px; flex: 1; }
nav.top a { text-decoration: none; padding: 2px 4px; border-radius: 4px; }
nav.top a[aria-current="page"] { font-weight: 700; text-decoration: underline; }
main { padding: 16px 20px 40px; max-width: 1500px; margin: 0 auto; }
h1 { font-size: 1.5em; margin: 0.2em 0 0.6em; display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
h2 { font-size: 1.15em; margin: 1.4em 0 0.5em; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 1em; margin: 1em 0 0.3em; }
button, select, input { font: inherit; color: inherit; }
button { padding: 5px 12px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); cursor: pointer; }
button:disabled { opacity: 0.5; cursor: default; }
button.danger { border-color: var(--bad); color: var(--bad); font-weight: 600; }
button.link { border: none; background: none; color: var(--accent); text-decoration: underline; padding: 2px 4px; }
select, input { padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); max-width: 100%; }
.filters { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; margin-bottom: 12px; }
.filters label { font-weight: 600; }
.live, .muted { color: var(--muted); }
.live { margin-left: auto; font-size: 0.9em; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 0.85em; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); white-space: nowrap; }
table.jobs td { white-space: nowrap; }
table.jobs td.sel { white-space: normal; min-width: 8em; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.88em; }
td.msg { white-space: pre-wrap; font-size: 0.9em; max-width: 40em; }
.tag { color: var(--muted); font-size: 0.85em; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85em; font-weight: 600; color: #fff; white-space: nowrap; }
.badge.st-ok { background: var(--ok); } .badge.st-bad { background: var(--bad); }
.badge.st-warn { background: var(--warn); } .badge.st-run { background: var(--run); }
.badge.st-wait { background: var(--wait); } .badge.st-other { background: var(--other); }
.badge.st-reused { background: var(--reused); }
.pager { display: flex; gap: 8px; margin-top: 12px; }
.empty { color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 12px; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.actions { margin: 8px 0; }
section.error { border: 1px solid var(--bad); border-left-width: 6px; border-radius: 6px; padding: 4px 14px 10px; margin: 12px 0; }
section.error h2 { border: none; color: var(--bad); margin-top: 0.6em; }
div.error { border: 1px solid var(--bad); border-radius: 6px; padding: 4px 12px; margin-bottom: 12px; }
pre.message { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--panel); padding: 8px; border-radius: 4px; margin: 6px 0; }
.hint { margin: 6px 0; }
.error-text { color: var(--bad); }
svg text { fill: var(--fg); font: 12px system-ui, sans-serif; }
svg .axis { fill: var(--muted); font-size: 11px; }
svg .tick { stroke: var(--line); stroke-dasharray: 2 3; }
svg .lane { fill: transparent; } svg .lane.odd { fill: var(--panel); }
svg .lane-label { fill: var(--muted); font-size: 11px; }
svg .bar { stroke: rgba(0,0,0,0.25); }
svg .bar.st-ok { fill: var(--ok); } svg .bar.st-bad { fill: var(--bad); }
svg .bar.st-warn { fill: var(--warn); } svg .bar.st-run { fill: var(--run); }
svg .bar.st-wait, svg .bar.st-other { fill: var(--other); } svg .bar.st-reused { fill: var(--reused); }
svg .bar-label { fill: #fff; font-size: 11.5px; font-weight: 600; pointer-events: none; }
svg .muted { fill: var(--muted); }
svg .edge { fill: none; stroke: var(--muted); stroke-width: 1.3; }
svg.timeline, svg.dag { display: block; }
.legend { display: flex; gap: 6px; flex-wrap: wrap; font-size: 0.9em; }
ol.log { list-style: none; padding: 0; margin: 0; max-height: 28em; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
ol.log li { padding: 2px 8px; border-bottom: 1px solid var(--line); font-size: 0.88em; white-space: pre-wrap; overflow-wrap: anywhere; }
ol.log li .lv { display: inline-block; min-width: 3.5em; font-weight: 600; color: var(--muted); }
ol.log li.lv-error .lv { color: var(--bad); } ol.log li.lv-warn .lv { color: var(--warn); }
ul.artifacts { padding-left: 1.2em; }
.spark { display: block; } .spark-line { fill: none; stroke: var(--run); stroke-width: 1.5; }
.spark-dot { fill: var(--run); } .spark-last { fill: var(--accent); }
#sign-in { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
#sign-in input { min-width: 22em; }
@media (max-width: 700px) {
  main { padding: 12px; }
  header.bar { padding: 8px 12px; gap: 12px; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: 6px; }
  #sign-in input { min-width: 0; width: 100%; }
  .live { margin-left: 0; width: 100%; }
  table.cards thead { display: none; }
  table.cards, table.cards tbody, table.cards tr { display: block; width: 100%; }
  table.cards tr { border: 1px solid var(--line); border-radius: 6px; margin-bottom: 8px; padding: 4px 0; }
  table.cards td { display: grid; grid-template-columns: 7.5em minmax(0, 1fr); gap: 8px; border: none; padding: 2px 10px; white-space: normal; max-width: none; }
  table.cards td::before { content: attr(data-label); font: 600 0.8rem system-ui, sans-serif; color: var(--muted); }
  table.cards td > * { justify-self: start; }
  table.cards td { overflow-wrap: anywhere; }
  table.cards td:empty { display: none; }
}
`;
