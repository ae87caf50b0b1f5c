/**
 * A small validator of recorded requests and responses against the official
 * dbt Cloud Admin API v2 OpenAPI document (dbt Labs' openapi-v2.yaml,
 * formatted by deno fmt, checked in beside this file; origin and terms in
 * tests/testdata/README.md): the method and
 * path template exist, path and query parameters are declared and typed,
 * required ones are present, the body follows the request schema (no unknown
 * fields), bearer authentication is used as the security scheme declares, and
 * JSON answers follow the response schema. A subset of JSON Schema: $ref,
 * allOf/oneOf/anyOf, type, enum, required, properties, items, minLength.
 *
 * @module
 */
import { parse } from "yaml";
import { join } from "../_path.ts";
import type { Recorded } from "./fake_server.ts";

type Schema = Record<string, unknown>;
type Operation = {
  parameters?: {
    in: string;
    name: string;
    required?: boolean;
    schema?: Schema;
  }[];
  requestBody?: {
    required?: boolean;
    content?: Record<string, { schema: Schema }>;
  };
  security?: Record<string, unknown>[];
  responses?: Record<
    string,
    { content?: Record<string, { schema: Schema }> }
  >;
};
type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Schema>;
    securitySchemes: Record<string, Schema>;
  };
};

/** The official document, checked in beside this file (same content). */
export const SPEC_PATH = join(
  new URL(".", import.meta.url).pathname,
  "dbt-cloud-openapi-v2.yaml",
);

let cached: Doc | undefined;

/** The parsed OpenAPI document. */
export async function loadSpec(path = SPEC_PATH): Promise<Doc> {
  cached ??= parse(await Deno.readTextFile(path)) as Doc;
  return cached;
}

function templateRegex(template: string): RegExp {
  const re = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(
    /\{([^}]+)\}/g,
    (_, name: string) => name === "remainder" ? "(.+)" : "([^/]+)",
  );
  return new RegExp(`^${re}$`);
}

/** The operation of a method and path, with the template and path values. */
export function findOperation(
  doc: Doc,
  method: string,
  path: string,
):
  | { template: string; op: Operation | undefined; values: string[] }
  | undefined {
  for (const [template, item] of Object.entries(doc.paths)) {
    const m = templateRegex(template).exec(path);
    if (!m) continue;
    return {
      template,
      op: item[method.toLowerCase()],
      values: m.slice(1),
    };
  }
  return undefined;
}

function resolve(doc: Doc, schema: Schema): Schema {
  let s = schema;
  while (typeof s.$ref === "string") {
    const name = s.$ref.replace("#/components/schemas/", "");
    const next = doc.components.schemas[name];
    if (!next) throw new Error(`unresolved $ref ${s.$ref}`);
    s = next;
  }
  return s;
}

/** Validate a JSON value; `strict` refuses properties the schema does not name. */
export function validateValue(
  doc: Doc,
  schema: Schema,
  value: unknown,
  at: string,
  strict: boolean,
): string[] {
  const s = resolve(doc, schema);
  const errors: string[] = [];
  if (Array.isArray(s.allOf)) {
    for (const sub of s.allOf as Schema[]) {
      errors.push(...validateValue(doc, sub, value, at, strict));
    }
  }
  for (const key of ["oneOf", "anyOf"]) {
    const subs = s[key] as Schema[] | undefined;
    if (Array.isArray(subs)) {
      const ok = subs.some((sub) =>
        validateValue(doc, sub, value, at, strict).length === 0
      );
      if (!ok) errors.push(`${at}: matches none of ${key}`);
    }
  }
  if (value === null) {
    return s.nullable || !s.type
      ? errors
      : [...errors, `${at}: null where ${s.type} expected`];
  }
  const type = s.type as string | undefined;
  const actual = Array.isArray(value)
    ? "array"
    : Number.isInteger(value)
    ? "integer"
    : typeof value;
  if (type) {
    const fits = type === actual ||
      (type === "number" && actual === "integer") ||
      (type === "object" && actual === "object");
    if (!fits) return [...errors, `${at}: ${actual} where ${type} expected`];
  }
  if (Array.isArray(s.enum) && !s.enum.includes(value)) {
    errors.push(`${at}: ${JSON.stringify(value)} not in ${s.enum.join(", ")}`);
  }
  if (
    typeof value === "string" && typeof s.minLength === "number" &&
    value.length < s.minLength
  ) {
    errors.push(`${at}: shorter than ${s.minLength}`);
  }
  if (Array.isArray(value) && s.items) {
    value.forEach((v, i) =>
      errors.push(
        ...validateValue(doc, s.items as Schema, v, `${at}[${i}]`, strict),
      )
    );
  }
  if (actual === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const r of (s.required ?? []) as string[]) {
      if (!(r in obj)) errors.push(`${at}.${r}: required field missing`);
    }
    for (const [k, v] of Object.entries(obj)) {
      const p = props[k];
      if (p) errors.push(...validateValue(doc, p, v, `${at}.${k}`, strict));
      else if (strict && s.properties) {
        errors.push(`${at}.${k}: not a field of the schema`);
      }
    }
  }
  return errors;
}

function paramFits(schema: Schema | undefined, value: string): boolean {
  const t = schema?.type;
  if (t === "integer") return /^-?\d+$/.test(value);
  if (t === "boolean") return value === "true" || value === "false";
  return true;
}

/** Every way a recorded request (and its JSON answer) departs from the spec. */
export function validateRecorded(doc: Doc, r: Recorded): string[] {
  const where = `${r.method} ${r.path}`;
  const found = findOperation(doc, r.method, r.path);
  if (!found) return [`${where}: no such path in the spec`];
  const { op, template, values } = found;
  if (!op) return [`${where}: ${r.method} not allowed on ${template}`];
  const errors: string[] = [];
  const params = op.parameters ?? [];
  const pathParams = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  pathParams.forEach((name, i) => {
    const p = params.find((q) => q.in === "path" && q.name === name);
    if (!p) errors.push(`${where}: path parameter ${name} undeclared`);
    else if (!paramFits(p.schema, values[i]!)) {
      errors.push(`${where}: path parameter ${name}=${values[i]} mistyped`);
    }
  });
  for (const [k, v] of Object.entries(r.query)) {
    const p = params.find((q) => q.in === "query" && q.name === k);
    if (!p) errors.push(`${where}: query parameter ${k} not in the spec`);
    else if (!paramFits(p.schema, v)) {
      errors.push(`${where}: query parameter ${k}=${v} mistyped`);
    }
  }
  for (const p of params) {
    if (p.in === "query" && p.required && !(p.name in r.query)) {
      errors.push(`${where}: required query parameter ${p.name} missing`);
    }
  }
  const body = op.requestBody;
  if (body?.required && r.body === null) {
    errors.push(`${where}: request body required`);
  }
  if (!body && r.body !== null) {
    errors.push(`${where}: the operation takes no request body`);
  }
  const schema = body?.content?.["application/json"]?.schema;
  if (schema && r.body !== null) {
    errors.push(...validateValue(doc, schema, r.body, `${where} body`, true));
  }
  for (const requirement of op.security ?? []) {
    for (const name of Object.keys(requirement)) {
      const scheme = doc.components.securitySchemes[name];
      if (scheme?.type === "http" && scheme.scheme === "bearer") {
        if (!/^Bearer \S+$/.test(r.auth ?? "")) {
          errors.push(`${where}: Authorization is not 'Bearer <token>'`);
        }
      }
    }
  }
  const answer = op.responses?.[String(r.status)]?.content?.["application/json"]
    ?.schema;
  if (answer && r.response !== undefined) {
    errors.push(
      ...validateValue(
        doc,
        answer,
        r.response,
        `${where} -> ${r.status}`,
        false,
      ),
    );
  }
  return errors;
}
