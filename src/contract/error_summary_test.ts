import assert from "node:assert/strict";
import { ERROR_CODES, FloeDbtError } from "./errors.ts";
import {
  dbtHeadline,
  nodeErrorsSummary,
  thrownSummary,
} from "./error_summary.ts";

Deno.test("error summary: dbt's class and node, never the text after them", () => {
  assert.deepEqual(
    dbtHeadline(
      "Runtime Error in model oops (models/oops.sql)\n  Conversion Error: Could not convert string 'secret-42' to INT32",
    ),
    { cls: "Runtime Error", node: "model oops" },
  );
  assert.deepEqual(dbtHeadline("Database Error\n  syntax error at 'x'"), {
    cls: "Database Error",
  });
  assert.deepEqual(
    dbtHeadline("Got 3 results, configured to fail if != 0"),
    {},
  );

  const thrown = new FloeDbtError(
    ERROR_CODES.compilation,
    "dbt run failed (CompilationError): Compilation Error in model orders (models/orders.sql)\n  secret-42",
    { details: { dbt_exception: "CompilationError" } },
  );
  assert.equal(
    thrownSummary(thrown),
    "FLOE-DBT-E001 compilation failed (CompilationError) in model orders",
  );
  assert.equal(
    thrownSummary(new TypeError("secret-42")),
    "internal error (TypeError)",
  );
  assert.equal(
    thrownSummary(
      new FloeDbtError(ERROR_CODES.timeout, "waited for secret-42"),
    ),
    "FLOE-DBT-E007 timed out",
  );

  assert.equal(
    nodeErrorsSummary([
      {
        unique_id: "model.p.a",
        status: "error",
        message: "Database Error in model a (models/a.sql)\n  secret-42",
      },
      {
        unique_id: "test.p.t",
        status: "fail",
        message: "Got 1 result, secret-42",
      },
    ], "dbt run failed"),
    "model.p.a: error (Database Error)\ntest.p.t: fail",
  );
  assert.equal(nodeErrorsSummary([], "dbt run failed"), "dbt run failed");
});
