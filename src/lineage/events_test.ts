import assert from "node:assert/strict";
import { parseConfig } from "../config/config.ts";
import { datasetsOf } from "./events.ts";

Deno.test("parseConfig() reads plugins.lineage with defaults and rejects unknown keys", () => {
  const c = parseConfig(
    "plugins:\n  lineage:\n    url: http://127.0.0.1:5000/api/v1/lineage\n",
    "m.yaml",
  );
  assert.deepEqual(c.plugins.lineage, {
    url: "http://127.0.0.1:5000/api/v1/lineage",
    namespace: "floe-dbt",
    timeout_seconds: 5,
  });
  assert.throws(
    () =>
      parseConfig(
        "plugins:\n  lineage:\n    url: https://x/\n    endpoint: y\n",
        "m.yaml",
      ),
    /plugins\.lineage\.endpoint.*unknown key/,
  );
  assert.equal(
    parseConfig("plugins: {}\n", "m.yaml").plugins.lineage,
    undefined,
  );
});

Deno.test("datasetsOf() puts built nodes out and their data parents in, none out for compile", () => {
  const manifest = {
    nodes: {
      "model.p.a": {
        resource_type: "model",
        database: "db",
        schema: "main",
        alias: "a_alias",
        depends_on: { nodes: ["source.p.raw.t", "seed.p.s"] },
      },
      "seed.p.s": {
        resource_type: "seed",
        database: "db",
        schema: "main",
        alias: "s",
      },
      "test.p.not_null": {
        resource_type: "test",
        depends_on: { nodes: ["model.p.a"] },
      },
    },
    sources: {
      "source.p.raw.t": {
        resource_type: "source",
        database: "db",
        schema: "raw",
        identifier: "t_file",
        name: "t",
      },
    },
  };
  const runResults = {
    results: [
      { unique_id: "model.p.a", status: "success" },
      { unique_id: "test.p.not_null", status: "pass" },
    ],
  };
  const d = datasetsOf("build", manifest, runResults, "ns");
  assert.deepEqual(d.outputs, [{ namespace: "ns", name: "db.main.a_alias" }]);
  assert.deepEqual(d.inputs.map((x) => x.name), [
    "db.main.a_alias",
    "db.main.s",
    "db.raw.t_file",
  ]);
  assert.deepEqual(
    datasetsOf("compile", manifest, runResults, "ns").outputs,
    [],
  );
});
