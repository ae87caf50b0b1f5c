import assert from "node:assert/strict";
import { documents } from "../scripts/openapi.ts";
import { ROOT } from "./_helpers.ts";
import { join } from "./_path.ts";

type Op = { responses: Record<string, { content?: unknown }> };

const REDOCLY = join(
  ROOT,
  ".tools",
  "redocly",
  "node_modules",
  ".bin",
  "redocly",
);

async function lint(path: string): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(REDOCLY, {
    args: ["lint", "--format", "stylish", path],
    cwd: ROOT,
    env: {
      NO_COLOR: "1",
      REDOCLY_TELEMETRY: "off",
      REDOCLY_SUPPRESS_UPDATE_NOTICE: "true",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    out: dec.decode(out.stdout) + dec.decode(out.stderr),
  };
}

Deno.test("docs/openapi.json is what the code generates (deno task openapi)", async () => {
  for (const [path, text] of Object.entries(documents())) {
    assert.equal(
      await Deno.readTextFile(join(ROOT, path)),
      text,
      `${path} is stale: run 'deno task openapi'`,
    );
  }
});

Deno.test("OpenAPI: named components for every request and response, errors on every route", () => {
  const doc = JSON.parse(documents()["docs/openapi.json"]!);
  for (
    const name of [
      "RunResult",
      "LintResult",
      "LintIssue",
      "Job",
      "JobRequest",
      "JobList",
      "ProgressEvent",
      "Error",
      "Runtime",
    ]
  ) assert.ok(doc.components.schemas[name], name);
  const job = doc.components.schemas.Job;
  assert.deepEqual(job.properties.result.anyOf[0].anyOf, [
    { $ref: "#/components/schemas/RunResult" },
    { $ref: "#/components/schemas/LintResult" },
  ]);
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item as Record<string, Op>)) {
      const codes = Object.keys(op.responses);
      assert.ok(codes.some((c) => c.startsWith("2")), `${method} ${path}`);
      assert.ok(codes.some((c) => /^[45]/.test(c)), `${method} ${path} errors`);
      for (
        const [code, r] of Object.entries(op.responses)
      ) {
        assert.ok(r.content, `${method} ${path} ${code} has a schema`);
      }
    }
  }
  const submit = doc.paths["/v1/jobs"].post.responses;
  for (const c of ["400", "401", "403", "413", "415", "422", "429", "503"]) {
    assert.ok(submit[c], `POST /v1/jobs documents ${c}`);
  }
});

Deno.test("OpenAPI: the document passes Redocly's lint, and a broken one does not", async () => {
  const ok = await lint("docs/openapi.json");
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /valid/);
  const doc = JSON.parse(documents()["docs/openapi.json"]!);
  doc.paths["/v1/jobs/{id}"].get.responses[200].content["application/json"]
    .schema = { $ref: "#/components/schemas/NoSuchThing" };
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(join(dir, "broken.json"), JSON.stringify(doc));
  const bad = await lint(join(dir, "broken.json"));
  assert.notEqual(bad.code, 0, bad.out);
  assert.match(bad.out, /Validation failed with 1 error/);
  await Deno.remove(dir, { recursive: true });
});
