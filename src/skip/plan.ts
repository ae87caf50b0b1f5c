/**
 * The decision of `--skip-unchanged`: for each node the call would build,
 * reuse it (its key equals the key of its last success on the target and
 * its relation still exists) or rebuild it, with the reason; a node that
 * failed or was skipped last time is never reused, and a test runs again
 * when a parent is rebuilt. A node reading the clock is never reused. A
 * node is rebuilt when a parent relation it reads is rebuilt in the call,
 * or was built again since the build the node was built on (kept in its
 * record), whatever the parent's key: a parent reading the clock keeps its
 * key but not its rows. Then the dbt selection that builds exactly the
 * rebuilt nodes, as `fqn:` selectors (dbt takes no unique_id). Unit
 * tests are keyed and decided like data tests.
 *
 * @module
 */
import { selectorProblem } from "../dbt/validate.ts";
import {
  isEphemeral,
  isTest,
  type ManifestView,
  type NodeKey,
} from "./keys.ts";
import { relationKey, relationParts } from "./data.ts";
import { buildStamp, type NodeRecord, REUSABLE } from "./store.ts";

/** Reused and rebuilt nodes, in build order. */
export interface Decision {
  /** unique_id -> why it is rebuilt. */
  rebuild: Map<string, string>;
  /** unique_id -> the record of the build it reuses. */
  reuse: Map<string, NodeRecord>;
}

function changedPart(k: NodeKey, r: NodeRecord): string | undefined {
  if (k.parts.code !== r.parts.code) {
    return k.resource_type === "unit_test"
      ? "unit test changed"
      : "code changed";
  }
  if (k.parts.macros !== r.parts.macros) return "macro changed";
  if (k.parts.config !== r.parts.config) return "config changed";
  if (k.parts.target !== r.parts.target) return "config changed";
  if (k.parts.vars !== r.parts.vars) return "vars changed";
  return undefined;
}

/**
 * Decide every candidate (`candidates`: the nodes this call would build,
 * in any order). `existing` holds the relations present in the warehouse
 * (see data.ts relationKey); a relation not in it is missing.
 */
export function decide(
  view: ManifestView,
  keys: ReadonlyMap<string, NodeKey>,
  records: Readonly<Record<string, NodeRecord>>,
  candidates: ReadonlySet<string>,
  existing: ReadonlySet<string>,
): Decision {
  const rebuild = new Map<string, string>();
  const reuse = new Map<string, NodeRecord>();
  // keys is in build order (parents first).
  for (const [id, k] of keys) {
    if (!candidates.has(id)) continue;
    const node = view.nodes[id] ?? {};
    const reason = reasonFor(id, k, records[id], rebuild);
    if (k.clock) {
      rebuild.set(
        id,
        !reason || reason.startsWith("upstream")
          ? `reads the clock: ${k.clock}`
          : reason,
      );
      continue;
    }
    if (k.opaque) {
      rebuild.set(
        id,
        !reason || reason.startsWith("upstream")
          ? `unknown input: ${k.opaque}`
          : reason,
      );
      continue;
    }
    const why = reason ?? parentBuilt(k, records, rebuild);
    if (why) {
      rebuild.set(id, why);
      continue;
    }
    if (!isTest(k.resource_type)) {
      const p = relationParts(node);
      if (!existing.has(relationKey(p.database, p.schema, p.name))) {
        rebuild.set(id, "relation missing");
        continue;
      }
    }
    reuse.set(id, records[id]!);
  }
  return { rebuild, reuse };
}

/**
 * `upstream rebuilt: <parent>` when a parent relation the node reads is
 * rebuilt in this call, or was built again (in another call) since the
 * build the node's record was built on; else undefined. A parent built
 * again with the same key may hold other rows (it reads the clock, it is
 * incremental, a snapshot), so any new build of it counts.
 */
function parentBuilt(
  k: NodeKey,
  records: Readonly<Record<string, NodeRecord>>,
  rebuilt: ReadonlyMap<string, string>,
): string | undefined {
  const own = records[k.unique_id];
  for (const p of k.relationParents) {
    if (rebuilt.has(p)) return `upstream rebuilt: ${p}`;
    const pr = records[p];
    const now = pr ? buildStamp(pr) : "none";
    if (own?.built_on?.[p] !== now) return `upstream rebuilt: ${p}`;
  }
  return undefined;
}

function reasonFor(
  id: string,
  k: NodeKey,
  r: NodeRecord | undefined,
  rebuilt: ReadonlyMap<string, string>,
): string | undefined {
  if (k.unknown) return `source has no freshness signal: ${k.unknown}`;
  if (!r) return "no previous build";
  if (!REUSABLE.has(r.status)) return "failed last time";
  // A test (data or unit) runs again with any parent that is rebuilt.
  if (isTest(k.resource_type)) {
    const p = Object.keys(k.parents).find((p) => rebuilt.has(p));
    if (p) return `upstream rebuilt: ${p}`;
  }
  if (k.key === r.key) return undefined;
  const part = changedPart(k, r);
  if (part) return part;
  const names = new Set([...Object.keys(k.parents), ...Object.keys(r.parents)]);
  for (const p of names) {
    if (k.parents[p] === r.parents[p]) continue;
    if (!(p in k.parents) || !(p in r.parents)) return "code changed";
    if (p.startsWith("source.")) return `source data changed: ${p}`;
    // A unit test's model counts with its current definition.
    if (k.resource_type === "unit_test" && !rebuilt.has(p)) {
      return `model changed: ${p}`;
    }
    return rebuilt.has(p) ? `upstream rebuilt: ${p}` : `upstream changed: ${p}`;
  }
  return `key changed: ${id}`;
}

/** The candidates of a call: what dbt would build for the command. */
export function candidateTypes(command: string): ReadonlySet<string> {
  return command === "run"
    ? new Set(["model"])
    : new Set(["model", "seed", "snapshot", "test", "unit_test"]);
}

/** Keep only the nodes a call builds: keyed types, no ephemeral models. */
export function buildable(
  view: ManifestView,
  ids: Iterable<string>,
  types: ReadonlySet<string>,
): Set<string> {
  const out = new Set<string>();
  for (const id of ids) {
    const node = view.nodes[id];
    if (!node || !types.has(String(node.resource_type))) continue;
    if (node.resource_type === "model" && isEphemeral(node)) continue;
    out.add(id);
  }
  return out;
}

/**
 * dbt selectors for exactly these nodes (`fqn:a.b.c`; a unit test:
 * `unit_test:<package>.<name>,fqn:a.b.c`, as its fqn may also be a model
 * folder's and its name is unique only per model), or undefined when one
 * of them has no name dbt's selector syntax can carry. dbt-core and Fusion
 * both take these; a model's fqn selects its unit tests too in a build
 * (eager indirect selection), and dbt runs them before the model.
 */
export function fqnSelectors(
  view: ManifestView,
  ids: Iterable<string>,
): string[] | undefined {
  const out: string[] = [];
  for (const id of ids) {
    const fqn = view.nodes[id]?.fqn;
    if (!Array.isArray(fqn) || fqn.length === 0) return undefined;
    const node = view.nodes[id]!;
    const unit = node.resource_type === "unit_test";
    if (
      unit &&
      (typeof node.package_name !== "string" || typeof node.name !== "string")
    ) return undefined;
    const token = unit
      ? `unit_test:${node.package_name}.${node.name},fqn:${
        fqn.map(String).join(".")
      }`
      : `fqn:${fqn.map(String).join(".")}`;
    if (selectorProblem(token) || /[*?]/.test(token)) return undefined;
    out.push(token);
  }
  return out;
}

/** The sources upstream of `ids` (through models, seeds, snapshots). */
export function upstreamSources(
  view: ManifestView,
  ids: Iterable<string>,
): string[] {
  const seen = new Set<string>();
  const sources = new Set<string>();
  const stack = [...ids];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    if (id.startsWith("source.")) {
      sources.add(id);
      continue;
    }
    const deps = (view.nodes[id]?.depends_on as { nodes?: unknown } | undefined)
      ?.nodes;
    if (Array.isArray(deps)) stack.push(...deps.map(String));
  }
  return [...sources].sort();
}
