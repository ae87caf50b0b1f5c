/**
 * Per-node facts of a dbt Cloud run (src/dbt/node_facts.ts) from the
 * artifacts the runtime collected: relation and `rows_affected` from
 * manifest.json and run_results.json, columns with the catalog's types when
 * the job generated docs (catalog.json), else the manifest's columns with
 * their `data_type`; no row counts (the agent has no warehouse access here);
 * column lineage by sqlglot over the manifest's compiled SQL and the
 * upstream columns the catalog or the manifest knows (src/dbt/lineage.ts).
 * Anything unreadable gives no facts and a debug line, never an error.
 *
 * @module
 */
import {
  factsFromArtifacts,
  type TypedColumn,
} from "../../src/dbt/artifact_facts.ts";
import type { NodeFactsMap } from "../../src/dbt/node_facts.ts";
import {
  type DbtCommand,
  dbtCommandWords,
} from "../../src/contract/schemas.ts";

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Obj : {};
}

function parse(text: string | undefined): Obj | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? v as Obj : {};
  } catch {
    return undefined;
  }
}

/** A catalog entry's columns in the relation's order, with their types. */
export function catalogColumns(entry: unknown): TypedColumn[] | undefined {
  const cols = Object.values(obj(obj(entry).columns)).map((c) => obj(c));
  if (!cols.length) return undefined;
  return cols
    .sort((a, b) => Number(a.index ?? 0) - Number(b.index ?? 0))
    .map((c) => ({
      name: String(c.name ?? ""),
      data_type: typeof c.type === "string" ? c.type : null,
    }))
    .filter((c) => c.name);
}

/** The dbt commands whose run_results.json reports nodes built or tested. */
const BUILDING = ["build", "run", "seed", "snapshot", "test", "retry"];

/**
 * What a step's run_results.json may say ran (`args.which`) for `command`:
 * a job mapped to a building command may run another one (its own steps,
 * or a retry repeating them), never docs generate or a run-operation.
 */
function whichOf(command: DbtCommand): ReadonlySet<string> {
  if (command === "docs-generate") return new Set(["generate"]);
  if (BUILDING.includes(command)) return new Set(BUILDING);
  return new Set([command]);
}

/** `dbt <one of words>` as a step names it (`dbt run`, not `dbt run-operation`). */
function stepPattern(words: string[]): RegExp {
  return new RegExp(`\\bdbt\\s+(?:${words.join("|")})(?=[\\s\`'"]|$)`);
}

/** The command's own run_results.json, or why there is none. */
export type CommandRunResults = { text: string } | { problem: string };

/**
 * The run_results.json of the step that ran `command`. An artifact GET
 * gives the last step's; a job that generates docs ends with `dbt docs
 * generate` (whose run_results.json only compiled), and a job may end with
 * another step (`dbt run-operation`): then the last step that ran the
 * command (`?step=N` with the run step's `index`, which the Admin API
 * counts over all of a run's steps, set-up steps included).
 */
export async function commandRunResults(
  command: DbtCommand,
  files: Record<string, string>,
  runSteps: readonly Obj[] | null | undefined,
  fetchStep: (step: number) => Promise<string | undefined>,
): Promise<CommandRunResults> {
  const last = files["run_results.json"]!;
  const which = obj(obj(parse(last)).args).which;
  const wanted = whichOf(command);
  const self = command === "docs-generate" ? "generate" : command;
  if (typeof which !== "string" || which === self) return { text: last };
  // The command's own step (a job of `dbt run` then `dbt test`, called as
  // run, reports its run), else, when the last step is one like it (a
  // retry, or a run mapped to a job that builds), that one, else the last
  // building step.
  const own = stepPattern([dbtCommandWords(command).join("\\s+")]);
  const any = stepPattern([...wanted]);
  const indexed = (runSteps ?? []).filter((s) => typeof s.index === "number");
  const mine = indexed.filter((s) => own.test(String(s.name ?? ""))).at(-1);
  if (!mine && wanted.has(which)) return { text: last };
  const step = mine ??
    indexed.filter((s) => any.test(String(s.name ?? ""))).at(-1);
  if (!step) {
    return {
      problem:
        `the run's last dbt step was dbt ${which} and no step with an index ran dbt ${command}`,
    };
  }
  const text = await fetchStep(step.index as number);
  if (text === undefined || obj(obj(parse(text)).args).which === undefined) {
    return {
      problem: `dbt Cloud has no run_results.json for step ${step.index} (${
        String(step.name)
      })`,
    };
  }
  return { text };
}

/**
 * The facts of a cloud run's artifacts (`files` by name), or undefined
 * (with a debug line) when manifest.json or run_results.json is missing or
 * not JSON.
 */
export async function cloudFacts(
  files: Record<string, string>,
  python: string | undefined,
  debug: (message: string) => void,
): Promise<NodeFactsMap | undefined> {
  const manifest = parse(files["manifest.json"]);
  const runResults = parse(files["run_results.json"]);
  if (!manifest || !runResults) {
    debug(
      "no node facts: the run left no readable manifest.json and run_results.json",
    );
    return undefined;
  }
  const catalog = parse(files["catalog.json"]);
  const entries = { ...obj(catalog?.sources), ...obj(catalog?.nodes) };
  return await factsFromArtifacts(manifest, runResults, {
    columnsOf: (uid) => catalogColumns(entries[uid]),
    modelZeroIsCount: true,
    python,
    adapterType: String(obj(manifest.metadata).adapter_type ?? ""),
    debug,
  });
}
