/**
 * `deno task check-jaffle --sources DIR [--runtime local|fusion|both]`:
 * checks `--skip-unchanged` on dbt Labs' jaffle-shop with its packages
 * (dbt_utils, dbt_date, audit_helper), on dbt-core and on Fusion, over
 * checkouts of the four public repositories that DIR holds (none of their
 * files are in this repository; CI cannot reach GitHub, so this is a check
 * a person runs, not a test):
 *
 *   git clone https://github.com/dbt-labs/jaffle-shop.git DIR/jaffle-shop
 *   git clone --branch 1.3.3 https://github.com/dbt-labs/dbt-utils.git DIR/dbt-utils
 *   git clone --branch 0.17.1 https://github.com/godatadriven/dbt-date.git DIR/dbt-date
 *   git clone https://github.com/dbt-labs/dbt-audit-helper.git DIR/dbt-audit-helper
 *
 * (the versions jaffle-shop's packages.yml asks for at its commit 7be2c58;
 * audit_helper: its `main`). The project is assembled in a temporary
 * folder (scripts/jaffle_project.ts) and the scenario run there
 * (scripts/jaffle_scenario.ts); each step's checks and figures are
 * printed; the exit code is 1 when any check failed, 2 on a usage error.
 *
 * @module
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  type JaffleRuntime,
  jaffleScenario,
  type StepReport,
} from "./jaffle_scenario.ts";
import { missingSources, requestedPackages } from "./jaffle_project.ts";

const USAGE =
  "usage: deno task check-jaffle --sources DIR [--runtime local|fusion|both]\n" +
  "DIR holds checkouts named jaffle-shop/, dbt-utils/, dbt-date/ and dbt-audit-helper/ (see docs/skip-unchanged.md)";

function formatStep(s: StepReport): string {
  const time = s.seconds === null ? "" : ` (${s.seconds.toFixed(2)} s)`;
  const lines = [`[${s.runtime}] ${s.step}${time}`];
  const figures = Object.entries(s.figures).map(([k, v]) => `${k} ${v}`);
  if (figures.length) lines.push(`    ${figures.join(", ")}`);
  for (const c of s.checks) {
    lines.push(`    ${c.ok ? "ok  " : "FAIL"} ${c.what}`);
    if (c.detail) {
      lines.push(...c.detail.split("\n").map((l) => `         ${l}`));
    }
  }
  return lines.join("\n");
}

function args(): { sources?: string; runtime?: string } {
  try {
    return parseArgs({
      args: Deno.args,
      options: {
        sources: { type: "string" },
        runtime: { type: "string", default: "both" },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`check-jaffle: ${e instanceof Error ? e.message : e}`);
    console.error(USAGE);
    Deno.exit(2);
  }
}

const values = args();
const runtimes: JaffleRuntime[] | null = values.runtime === "both"
  ? ["local", "fusion"]
  : values.runtime === "local" || values.runtime === "fusion"
  ? [values.runtime]
  : null;
if (!values.sources || !runtimes) {
  console.error(USAGE);
  Deno.exit(2);
}
const sources = resolve(values.sources);
const missing = await missingSources(sources);
if (missing.length) {
  console.error(`check-jaffle: ${sources} lacks ${missing.join(", ")}`);
  console.error(USAGE);
  Deno.exit(2);
}
console.log(`sources: ${sources}`);
console.log(
  `jaffle-shop's packages.yml asks for: ${
    (await requestedPackages(sources)).join("; ")
  }`,
);

const steps: StepReport[] = [];
for (const runtime of runtimes) {
  await jaffleScenario(sources, runtime, (s) => {
    steps.push(s);
    console.log(formatStep(s));
  });
}
const checks = steps.flatMap((s) => s.checks);
const failed = checks.filter((c) => !c.ok).length;
console.log(
  `\ncheck-jaffle: ${checks.length - failed} of ${checks.length} checks held` +
    (failed ? `, ${failed} FAILED` : ""),
);
Deno.exit(failed ? 1 : 0);
