/**
 * Input keys of `--skip-unchanged`: for every model, seed, snapshot and
 * test of a parsed manifest, a hash of what its built relation (or its
 * result) depends on: its definition (checksum, config, contract, relation
 * name, the macros it uses, the invocation's vars and the project's vars,
 * the target), the keys its parents have in the warehouse, and the data
 * version of each source it reads. Pure functions over the manifest; the
 * data versions and seed file checksums come from the caller.
 *
 * @module
 */
/** The parts of a node's definition, hashed one by one (for the reasons). */
export interface DefinitionParts {
  code: string;
  config: string;
  macros: string;
  vars: string;
  target: string;
}

/** A node's input key and what it was made of. */
export interface NodeKey {
  unique_id: string;
  resource_type: string;
  /** sha256 over the definition, the parents' keys and the sources' versions. */
  key: string;
  parts: DefinitionParts;
  /** Each parent node's key (as built in the warehouse) or source's data version. */
  parents: Record<string, string>;
  /** A source upstream without a data version: never reused (its id). */
  unknown: string | null;
}

/** A source's data version; `null`: no signal (descendants always rebuilt). */
export interface DataVersion {
  version: string | null;
  /** How it was taken: `freshness`, `fingerprint`, or why there is none. */
  method: string;
}

/** What the keys depend on besides the manifest. */
export interface KeyInputs {
  /** The invocation's `--vars`. */
  vars: Record<string, unknown> | undefined;
  /** The project's own `vars:` (dbt_project.yml). */
  projectVars: unknown;
  /** The profile target name. */
  target: string;
  /** Data version per source unique_id. */
  sources: Record<string, DataVersion>;
  /** Seed file checksums (sha256 of the file), per seed unique_id. */
  seeds: Record<string, string>;
  /**
   * The key a parent node counts with in its children's keys, given its
   * current key: the current key when this call builds it (or it is
   * ephemeral), else the key it has in the warehouse (its last recorded
   * success).
   */
  builtKey: (uniqueId: string, currentKey: string) => string;
}

/** The resource types keyed here. */
export const KEYED_TYPES: ReadonlySet<string> = new Set([
  "model",
  "seed",
  "snapshot",
  "test",
]);

/** JSON with object keys sorted: one text per value. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
          a < b ? -1 : a > b ? 1 : 0
        ),
      );
    }
    return v;
  }) ?? "null";
}

/** sha256 of a text, hex. */
export async function sha256(text: string): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Obj : {};
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
}

/** The manifest's nodes, sources and macros, read loosely. */
export interface ManifestView {
  nodes: Record<string, Obj>;
  sources: Record<string, Obj>;
  macros: Record<string, Obj>;
  adapterType: string;
  projectName: string;
}

/** Read the parts of a manifest the keys use. */
export function manifestView(manifest: Obj): ManifestView {
  const meta = obj(manifest.metadata);
  return {
    nodes: obj(manifest.nodes) as Record<string, Obj>,
    sources: obj(manifest.sources) as Record<string, Obj>,
    macros: obj(manifest.macros) as Record<string, Obj>,
    adapterType: String(meta.adapter_type ?? ""),
    projectName: String(meta.project_name ?? ""),
  };
}

/** The unique_ids a node depends on (nodes and sources). */
export function parentsOf(node: Obj): string[] {
  return strings(obj(node.depends_on).nodes);
}

/** True for a model materialized as ephemeral (no relation of its own). */
export function isEphemeral(node: Obj): boolean {
  return String(obj(node.config).materialized ?? "") === "ephemeral";
}

/** The macros a node uses, closed over the macros they use in turn. */
function macroClosure(
  view: ManifestView,
  node: Obj,
): string[] {
  const seen = new Set<string>();
  const stack = [...strings(obj(node.depends_on).macros)];
  // Materializations are called by name, not listed: a project's own
  // override of the node's materialization counts too.
  const mat = String(obj(node.config).materialized ?? "");
  if (mat) {
    for (const [id, m] of Object.entries(view.macros)) {
      if (String(m.name ?? "").startsWith(`materialization_${mat}_`)) {
        stack.push(id);
      }
    }
  }
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...strings(obj(view.macros[id]?.depends_on).macros));
  }
  return [...seen].sort();
}

/** A mention of dbt's `var` in Jinja code. */
const VAR_USE = /\bvar\b/;

async function definition(
  view: ManifestView,
  id: string,
  node: Obj,
  inputs: KeyInputs,
): Promise<DefinitionParts> {
  const checksum = node.resource_type === "seed" && inputs.seeds[id]
    ? inputs.seeds[id]
    : String(obj(node.checksum).checksum ?? "");
  const code = await sha256(stableJson({
    checksum,
    // A test's or snapshot's SQL may be generated: keep the text too.
    raw_code: node.raw_code ?? null,
    language: node.language ?? null,
    test_metadata: node.test_metadata ?? null,
  }));
  const contract = obj(node.contract);
  const config = await sha256(stableJson({
    config: node.config ?? null,
    contract,
    columns: contract.enforced ? node.columns ?? null : null,
    relation: node.relation_name ?? [
      node.database,
      node.schema,
      node.alias ?? node.name,
    ],
  }));
  const macros: Record<string, string> = {};
  let usesVars = VAR_USE.test(String(node.raw_code ?? ""));
  for (const m of macroClosure(view, node)) {
    macros[m] = String(view.macros[m]?.macro_sql ?? "missing");
    usesVars ||= VAR_USE.test(macros[m]!);
  }
  return {
    code,
    config,
    macros: await sha256(stableJson(macros)),
    // Only a node whose code or macros mention `var` reads vars (a var in
    // a config is in the config already).
    vars: await sha256(
      usesVars
        ? stableJson({
          invocation: inputs.vars ?? null,
          project: inputs.projectVars ?? null,
        })
        : "no var used",
    ),
    target: await sha256(inputs.target),
  };
}

/**
 * The key of every keyed node of the manifest (parents before children).
 * A parent the call does not build counts with its key in the warehouse
 * (`inputs.builtKey`); an ephemeral parent with its current key.
 */
export async function computeKeys(
  view: ManifestView,
  inputs: KeyInputs,
): Promise<Map<string, NodeKey>> {
  const out = new Map<string, NodeKey>();
  const visiting = new Set<string>();
  const visit = async (id: string): Promise<NodeKey | undefined> => {
    const have = out.get(id);
    if (have) return have;
    const node = view.nodes[id];
    if (!node || !KEYED_TYPES.has(String(node.resource_type))) return undefined;
    if (visiting.has(id)) return undefined; // a cycle: dbt refuses it anyway
    visiting.add(id);
    const parents: Record<string, string> = {};
    let unknown: string | null = null;
    for (const p of parentsOf(node)) {
      if (p.startsWith("source.")) {
        const v = inputs.sources[p];
        if (!v || v.version === null) {
          unknown ??= p;
          parents[p] = "unknown";
        } else parents[p] = v.version;
        continue;
      }
      const pk = await visit(p);
      if (!pk) {
        parents[p] = "unkeyed"; // e.g. a unit test fixture, a metric
        continue;
      }
      unknown ??= pk.unknown;
      parents[p] = inputs.builtKey(p, pk.key);
    }
    const parts = await definition(view, id, node, inputs);
    const key = await sha256(stableJson({ parts, parents }));
    const k: NodeKey = {
      unique_id: id,
      resource_type: String(node.resource_type),
      key,
      parts,
      parents,
      unknown,
    };
    visiting.delete(id);
    out.set(id, k);
    return k;
  };
  for (const id of Object.keys(view.nodes)) await visit(id);
  return out;
}
