/**
 * Local receivers for observability tests: an OTLP/HTTP JSON trace receiver
 * and a plain JSON receiver (OpenLineage), both on 127.0.0.1 port 0.
 *
 * @module
 */

/** One received span, attributes decoded to plain values. */
export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  scope: string;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  status: { code?: number; message?: string };
}

type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
};

function decode(v: AnyValue): unknown {
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(decode);
  return undefined;
}

function attrs(list: { key: string; value: AnyValue }[] = []) {
  return Object.fromEntries(list.map((a) => [a.key, decode(a.value)]));
}

/** A local server that records the JSON bodies POSTed to it. */
export interface Receiver {
  url: string;
  /** Parsed bodies by path, in arrival order. */
  bodies(path: string): unknown[];
  close(): Promise<void>;
}

/** Start a receiver answering `status` to every POST. */
export function startReceiver(status = 200): Receiver {
  const got: { path: string; body: unknown }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      const text = await req.text();
      try {
        got.push({ path, body: JSON.parse(text) });
      } catch {
        got.push({ path, body: text });
      }
      return new Response("{}", {
        status,
        headers: { "content-type": "application/json" },
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    bodies: (path) => got.filter((g) => g.path === path).map((g) => g.body),
    close: () => server.shutdown(),
  };
}

/** Every span in the OTLP JSON bodies received on /v1/traces. */
export function spansOf(r: Receiver): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const body of r.bodies("/v1/traces")) {
    const b = body as {
      resourceSpans?: {
        scopeSpans?: {
          scope?: { name?: string };
          spans?: {
            name: string;
            traceId: string;
            spanId: string;
            parentSpanId?: string;
            attributes?: { key: string; value: AnyValue }[];
            events?: {
              name: string;
              attributes?: { key: string; value: AnyValue }[];
            }[];
            status?: { code?: number; message?: string };
          }[];
        }[];
      }[];
    };
    for (const rs of b.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          out.push({
            name: s.name,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? "",
            scope: ss.scope?.name ?? "",
            attributes: attrs(s.attributes),
            events: (s.events ?? []).map((e) => ({
              name: e.name,
              attributes: attrs(e.attributes),
            })),
            status: s.status ?? {},
          });
        }
      }
    }
  }
  return out;
}

/** The environment that makes the agent export spans to `r`. */
export function otelEnv(r: Receiver): Record<string, string> {
  return {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
    OTEL_SERVICE_NAME: "floe-dbt-test",
  };
}
