import assert from "node:assert/strict";
import { FloeDbtError } from "../src/contract/errors.ts";
import { CAUSE_MAX, causeFor, dbtStep } from "../runtimes/cloud/steps.ts";
import { cloudSetup } from "./cloud/setup.ts";

Deno.test("dbtStep() builds one dbt command from argument lists", () => {
  assert.equal(
    dbtStep("run", {
      select: ["stg_orders+", "tag:nightly path:models/x"],
      exclude: ["@customers"],
      fullRefresh: true,
    }),
    "dbt run --select stg_orders+ tag:nightly path:models/x --exclude @customers --full-refresh",
  );
  assert.equal(
    dbtStep("test", { select: ["stg_*"], fullRefresh: true }),
    "dbt test --select stg_*",
  );
});

Deno.test("dbtStep() refuses any selector that could add a flag or a second command", () => {
  for (
    const bad of [
      "a;dbt run-operation drop",
      "a && rm -rf /",
      "a|b",
      "x\ndbt seed",
      "$(id)",
      "`id`",
      "'a'",
      '"a"',
      "--vars",
      "-x",
      "a>b",
    ]
  ) {
    assert.throws(() => dbtStep("run", { select: [bad] }), (e: unknown) => {
      return e instanceof FloeDbtError && e.code === "FLOE-DBT-E010" &&
        /Unsafe --select value/.test(e.message);
    }, bad);
  }
  assert.throws(
    () => dbtStep("run", { exclude: ["ok", "no;pe"] }),
    /Unsafe --exclude value "no;pe"/,
  );
});

Deno.test("causeFor() stays within 255 characters and keeps the nonce", () => {
  const long = dbtStep("run", {
    select: Array.from({ length: 80 }, (_, i) => `model_${i}`),
  });
  const cause = causeFor(long, "abc123");
  assert.equal(cause.length, CAUSE_MAX);
  assert.match(cause, /\.\.\. \[floe:abc123\]$/);
  assert.equal(causeFor("dbt run", "n"), "floe-dbt: dbt run [floe:n]");
});

Deno.test("an unsafe selector never reaches dbt Cloud", async () => {
  await using s = await cloudSetup();
  await assert.rejects(
    () =>
      s.runtime.runModels(s.project, { select: ["a; dbt run-operation x"] }),
    /Unsafe --select/,
  );
  assert.equal(s.server.requests.length, 0);
});
