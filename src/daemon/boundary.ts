/**
 * The daemon's browser boundary, checked before auth and routing: a loopback
 * daemon answers only Host headers naming this machine (DNS rebinding), a
 * request with an Origin is refused unless that origin is allowed (no CORS
 * grants otherwise) or is the daemon's own page (a loopback daemon's origin,
 * `http://` + the Host the check above accepted), and every request with a
 * body must be JSON (so no HTML form or no-cors `fetch` can reach a route; a
 * request without a body needs no Content-Type).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { ERROR_CODES } from "../contract/errors.ts";
import { isLoopbackAddress } from "../os/loopback.ts";

/** What the boundary checks against. */
export interface BoundaryOptions {
  /** True when the daemon listens on a loopback address: Host is checked. */
  loopback: boolean;
  /** The port the daemon listens on (known once it listens). */
  port: () => number;
  /** Extra Host names accepted on loopback (`serve --allow-host`). */
  allowHosts: readonly string[];
  /** Origins that may call the daemon from a browser (`serve --allow-origin`). */
  allowOrigins: readonly string[];
  /** Where refusals are reported (the daemon log). */
  log: (
    level: "info" | "warn" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
}

const METHODS_WITH_BODY = new Set(["POST", "PUT", "PATCH"]);
const ALLOWED_HEADERS =
  "authorization, content-type, idempotency-key, traceparent";
const ALLOWED_METHODS = "GET, POST, OPTIONS";

/** `scheme://host[:port]` lower-cased, or undefined when not a plain origin. */
export function normalizeOrigin(origin: string): string | undefined {
  try {
    const u = new URL(origin);
    if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
    if (u.pathname !== "/" || u.search || u.hash || u.username) {
      return undefined;
    }
    return u.origin.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Split a Host header into a lower-case name and a port (undefined if none). */
export function splitHost(
  host: string,
): { name: string; port: number | undefined } | undefined {
  const m = host.trim().toLowerCase().match(
    /^(\[[0-9a-f:.]+\]|[^\s:[\]/@]+)(?::(\d{1,5}))?$/,
  );
  if (!m) return undefined;
  return { name: m[1]!, port: m[2] === undefined ? undefined : Number(m[2]) };
}

/** Loopback names and addresses a Host header may carry (any spelling). */
function loopbackName(name: string): boolean {
  return isLoopbackAddress(name);
}

/** Content types a body may have: JSON, optionally with a UTF-8 charset. */
export function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  return /^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i.test(
    value.trim(),
  );
}

function refuse(
  c: Context,
  o: BoundaryOptions,
  status: 403 | 415,
  reason: string,
  message: string,
  hint: string,
): Response {
  o.log("warn", `refused request: ${reason}`, {
    method: c.req.method,
    path: c.req.path,
    origin: c.req.header("origin") ?? null,
    host: c.req.header("host") ?? null,
    status,
  });
  return c.json({
    code: status === 415 ? ERROR_CODES.usage : ERROR_CODES.forbidden,
    message,
    hint,
  }, status);
}

/** The middleware: Host, then Origin (and CORS preflight), then Content-Type. */
export function boundary(o: BoundaryOptions): MiddlewareHandler {
  const origins = new Set(
    o.allowOrigins.map((x) => normalizeOrigin(x) ?? x.toLowerCase()),
  );
  const hosts = new Set(o.allowHosts.map((h) => h.toLowerCase()));
  return async (c, next) => {
    // The daemon's own page: only once the Host check below has passed.
    let own: string | undefined;
    if (o.loopback) {
      const raw = c.req.header("host") ?? "";
      const h = splitHost(raw);
      const ok = h !== undefined && (
        hosts.has(h.name) ||
        (loopbackName(h.name) &&
          (h.port ?? 80) === o.port())
      );
      if (!ok) {
        return refuse(
          c,
          o,
          403,
          "host not allowed",
          `Host '${raw}' is not this daemon: it listens on a loopback address and answers only localhost, 127.0.0.1 or [::1] with its port`,
          "call it as http://127.0.0.1:PORT, or start serve with --allow-host NAME for a name that points here",
        );
      }
      own = normalizeOrigin(`http://${raw.trim()}`);
    }
    const origin = c.req.header("origin");
    // Same origin: the page the daemon served (src/daemon/ui/); no CORS.
    const self = origin !== undefined && own !== undefined &&
      normalizeOrigin(origin) === own;
    if (origin !== undefined && !self) {
      const norm = normalizeOrigin(origin);
      if (norm === undefined || !origins.has(norm)) {
        return refuse(
          c,
          o,
          403,
          "origin not allowed",
          `Requests from the web origin '${origin}' are refused`,
          "browsers may call the daemon only from an origin the operator allows with serve --allow-origin ORIGIN",
        );
      }
      c.header("Access-Control-Allow-Origin", origin);
      c.header("Vary", "Origin");
      if (
        c.req.method === "OPTIONS" &&
        c.req.header("access-control-request-method")
      ) {
        return c.body(null, 204, {
          "Access-Control-Allow-Origin": origin,
          "Access-Control-Allow-Methods": ALLOWED_METHODS,
          "Access-Control-Allow-Headers": ALLOWED_HEADERS,
          "Access-Control-Max-Age": "600",
          Vary: "Origin",
        });
      }
    }
    // A body-less POST (no Content-Length or 0, not chunked) needs no
    // Content-Type, as curl and generated clients send it; a Content-Type
    // on a POST must still be JSON (an HTML form always sends one).
    const length = Number(c.req.header("content-length") ?? "0");
    const given = c.req.header("content-type");
    const mustBeJson = c.req.header("transfer-encoding") !== undefined ||
      !(length === 0) || // NaN (a malformed length) counts as a body
      (METHODS_WITH_BODY.has(c.req.method) && given !== undefined);
    if (mustBeJson && !isJsonContentType(given)) {
      return refuse(
        c,
        o,
        415,
        "content type not JSON",
        given
          ? `Content-Type '${given}' is not accepted: request bodies must be JSON`
          : "A request with a body needs Content-Type: application/json",
        "send Content-Type: application/json with a body (a POST without a body needs no Content-Type)",
      );
    }
    return await next();
  };
}
