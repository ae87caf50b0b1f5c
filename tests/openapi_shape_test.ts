/**
 * docs/openapi.json has the shape generators need: no inline object schema
 * (every object with properties is a named component, referred to by $ref),
 * and every operation lists the errors it can answer: 401/403/503 on every
 * route behind the token, 413 and 415 exactly where a body is taken, an Error
 * body on each, Retry-After on 429 and 503. The cancel route takes no body.
 *
 * @module
 */
import assert from "node:assert/strict";
import { documents } from "../scripts/openapi.ts";

type Schema = Record<string, unknown>;
type Response = {
  content?: Record<string, { schema: Schema }>;
  headers?: Record<string, unknown>;
};
type Operation = {
  operationId: string;
  security?: unknown[];
  requestBody?: unknown;
  description?: string;
  responses: Record<string, Response>;
};

const doc = JSON.parse(documents()["docs/openapi.json"]!) as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};

function operations(): [string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) =>
      [`${method.toUpperCase()} ${path}`, op] as [string, Operation]
    )
  );
}

/** Where, under `node`, an object schema with properties is written inline. */
function inlineObjects(node: unknown, at: string, out: string[]): string[] {
  if (Array.isArray(node)) {
    node.forEach((v, i) => inlineObjects(v, `${at}/${i}`, out));
  } else if (node && typeof node === "object") {
    const o = node as Schema;
    if (o.properties && typeof o.properties === "object") out.push(at);
    for (const [k, v] of Object.entries(o)) {
      inlineObjects(v, `${at}/${k}`, out);
    }
  }
  return out;
}

Deno.test("OpenAPI shape: no inline object schemas; Job.request is JobRequest, Job.error JobError, the events named", () => {
  const found: string[] = [];
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    // The component itself may have properties; nothing below it may.
    const { properties, ...rest } = schema;
    for (const [key, sub] of Object.entries(properties ?? {})) {
      inlineObjects(
        sub,
        `#/components/schemas/${name}/properties/${key}`,
        found,
      );
    }
    inlineObjects(rest, `#/components/schemas/${name}`, found);
  }
  inlineObjects(doc.paths, "#/paths", found);
  assert.deepEqual(found, []);

  const s = doc.components.schemas;
  const props = (n: string) => s[n]!.properties as Record<string, Schema>;
  for (const job of ["Job", "JobSummary"]) {
    assert.deepEqual(props(job).request, {
      $ref: "#/components/schemas/JobRequest",
    });
    assert.deepEqual(props(job).error, {
      anyOf: [{ $ref: "#/components/schemas/JobError" }, { type: "null" }],
    });
  }
  // JobRequest is the input form: what a client sends (a selector as one
  // string or a list), which also describes what a job echoes back.
  assert.ok(Array.isArray((props("JobRequest").select as Schema).anyOf));
  assert.equal(s.JobRequest!.additionalProperties, false);
  assert.deepEqual(
    (s.ProgressEvent!.oneOf as Schema[]).map((r) => r.$ref),
    [
      "JobStartedEvent",
      "NodeStartedEvent",
      "NodeFinishedEvent",
      "LogEvent",
      "JobFinishedEvent",
    ].map((n) => `#/components/schemas/${n}`),
  );
  // Every $ref points at a component that exists.
  const refs = JSON.stringify(doc).matchAll(
    /"\$ref":"#\/components\/schemas\/([^"]+)"/g,
  );
  for (const [, name] of refs) assert.ok(s[name!], `$ref to ${name}`);
});

Deno.test("OpenAPI shape: every operation lists its errors; 413/415 only where a body is taken; 429/503 carry Retry-After", () => {
  const ops = operations();
  assert.ok(ops.length >= 14, `${ops.length} operations`);
  for (const [name, op] of ops) {
    const codes = Object.keys(op.responses).map(Number);
    const probe = Array.isArray(op.security) && op.security.length === 0;
    const needed = probe ? [403, 503] : [401, 403, 503];
    for (const c of needed) {
      assert.ok(codes.includes(c), `${name} lists ${c}`);
    }
    const body = op.requestBody !== undefined;
    assert.equal(codes.includes(415), body, `${name}: 415 iff a body`);
    assert.equal(codes.includes(413), body, `${name}: 413 iff a body`);
    for (const [code, r] of Object.entries(op.responses)) {
      if (Number(code) < 400) continue;
      const schema = r.content?.["application/json"]?.schema;
      const refs = schema?.$ref
        ? [schema.$ref]
        : (schema?.anyOf as Schema[] | undefined)?.map((x) => x.$ref);
      assert.ok(
        refs?.includes("#/components/schemas/Error"),
        `${name} ${code} answers an Error`,
      );
      if (code === "429" || code === "503") {
        assert.ok(r.headers?.["Retry-After"], `${name} ${code} Retry-After`);
      }
    }
  }
  const byName = Object.fromEntries(ops);
  assert.deepEqual(
    Object.keys(byName["POST /v1/jobs"]!.responses).sort(),
    ["200", "202", "400", "401", "403", "413", "415", "422", "429", "503"],
  );
  const cancel = byName["POST /v1/jobs/{id}/cancel"]!;
  assert.equal(cancel.requestBody, undefined);
  assert.match(cancel.description!, /no request body/i);
  assert.deepEqual(
    Object.keys(cancel.responses).sort(),
    ["202", "401", "403", "404", "503"],
  );
  for (const p of ["/v1/project/manifest", "/v1/project/run_results"]) {
    assert.ok(byName[`GET ${p}`]!.responses["504"], `${p} lists 504`);
  }
});
