/**
 * The daemon's own page: `GET /`, `/jobs/{id}` and `/history` answer the
 * same HTML shell, `/ui/app.js` and `/ui/app.css` its script and style, all
 * from strings inside the agent (no CDN, nothing fetched). They carry no
 * data, so they need no token; the script reads everything through the API
 * with the token the page was opened with. Strict headers: a Content
 * Security Policy of `'self'` only (no inline script or style, no framing,
 * no form posts), nosniff, no referrer.
 *
 * @module
 */
import type { Context, Hono } from "hono";
import { APP_JS } from "./app_js.ts";
import { APP_CSS, PAGE_HTML } from "./page.ts";

/** The Content-Security-Policy of the page and its assets. */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

const HEADERS = {
  "Content-Security-Policy": UI_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-cache",
};

function send(c: Context, body: string, type: string): Response {
  return c.body(body, 200, { ...HEADERS, "Content-Type": type });
}

/** Add the page routes to `app` (before the token check). */
export function addUiRoutes(app: Hono): void {
  const page = (c: Context) => send(c, PAGE_HTML, "text/html; charset=utf-8");
  app.get("/", page);
  app.get("/history", page);
  app.get("/jobs/:id", page);
  app.get(
    "/ui/app.js",
    (c) => send(c, APP_JS, "text/javascript; charset=utf-8"),
  );
  app.get("/ui/app.css", (c) => send(c, APP_CSS, "text/css; charset=utf-8"));
}
