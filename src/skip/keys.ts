/**
 * Input keys of `--skip-unchanged`: for every model, seed, snapshot, data
 * test and unit test of a parsed manifest, a hash of what its built relation (or its
 * result) depends on: its definition (checksum, config, contract, relation
 * name, the macros it uses, the invocation's vars and the project's vars,
 * the values of the `env_var`s it reads (as sha256), the target), the keys
 * its parents have in the warehouse, and the data version of each source
 * it reads; whether it reads the clock (its relation differs from one
 * build to the next whatever its inputs, so it is never reused: its hooks
 * count only when they write its own relation); and whether it reads an
 * input the key cannot see (an `env_var` whose name is not a literal). Pure functions over the manifest; the data versions and
 * seed file checksums come from the caller.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { MacroCalls, recordsMacroCalls } from "./macro_calls.ts";
import { codeOnly, jinjaOf } from "./sql_text.ts";
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
  /**
   * What in the node's own code or macros, or in an ephemeral model it
   * inlines (or, for a unit test, in its model), reads the clock or
   * otherwise makes each build differ (a macro id, or an SQL function or
   * dbt variable), or null: such a node is never reused.
   */
  clock: string | null;
  /**
   * An input the key cannot see (an `env_var` whose name is not a
   * literal), or null: such a node is never reused.
   */
  opaque: string | null;
  /**
   * The parent nodes whose relations the node reads (an ephemeral parent's
   * own parents in its place, as dbt inlines it), no sources: the node is
   * rebuilt when one of them was built again since the node's last build.
   */
  relationParents: string[];
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
  /**
   * The environment dbt gets (the runtime's child environment, secrets of
   * the agent left out): a node's `env_var('NAME')` values are keyed (as
   * sha256, never the value). Undefined: none keyed.
   */
  env?: Readonly<Record<string, string>>;
  /** Data version per source unique_id. */
  sources: Record<string, DataVersion>;
  /** Seed file checksums (sha256 of the file), per seed unique_id. */
  seeds: Record<string, string>;
  /**
   * Unit test fixture file checksums, per path the manifest names (Fusion
   * names the file and records no rows; dbt-core records the rows).
   */
  fixtures?: Record<string, string>;
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
  "unit_test",
]);

/** A data test or a unit test: a result, no relation of its own. */
export function isTest(resourceType: unknown): boolean {
  return resourceType === "test" || resourceType === "unit_test";
}

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
export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
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
  /** The manifest's nodes and its unit tests (resource_type `unit_test`). */
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
    nodes: {
      ...obj(manifest.nodes),
      ...obj(manifest.unit_tests),
    } as Record<string, Obj>,
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

/** Per-manifest memos: macro hashes, materialization macros, closures. */
class MacroIndex {
  readonly #view: ManifestView;
  readonly #hash = new Map<string, { hash: string; vars: boolean }>();
  readonly #materializations = new Map<string, string[]>();
  readonly #closures = new Map<string, { hash: string; vars: boolean }>();
  readonly #clocks = new Map<string, string | null>();

  /** Set when the manifest does not record macro calls (Fusion's parse). */
  readonly #scan: MacroCalls | undefined;
  readonly #scanned = new Map<string, string[]>();

  constructor(view: ManifestView) {
    this.#view = view;
    this.#scan = recordsMacroCalls(view.macros)
      ? undefined
      : new MacroCalls(view.macros);
  }

  /** The macros a node's code calls (as recorded, plus read when not). */
  #nodeCalls(node: Obj): string[] {
    const recorded = strings(obj(node.depends_on).macros);
    if (!this.#scan) return recorded;
    return [
      ...new Set([
        ...recorded,
        ...this.#scan.calls(String(node.raw_code ?? "")),
      ]),
    ];
  }

  /** The macros a macro calls (as recorded, plus read when not). */
  #macroCalls(id: string): string[] {
    const recorded = strings(obj(this.#view.macros[id]?.depends_on).macros);
    if (!this.#scan) return recorded;
    let read = this.#scanned.get(id);
    if (!read) {
      read = this.#scan.calls(String(this.#view.macros[id]?.macro_sql ?? ""));
      this.#scanned.set(id, read);
    }
    return [...new Set([...recorded, ...read])];
  }

  #macro(id: string): { hash: string; vars: boolean } {
    let h = this.#hash.get(id);
    if (!h) {
      const sql = String(this.#view.macros[id]?.macro_sql ?? "missing");
      h = { hash: sha256(sql), vars: VAR_USE.test(sql) };
      this.#hash.set(id, h);
    }
    return h;
  }

  /**
   * Materializations are called by name, not listed: a project's own
   * override of the node's materialization counts too.
   */
  #materialization(mat: string): string[] {
    let ids = this.#materializations.get(mat);
    if (!ids) {
      ids = Object.entries(this.#view.macros).filter(([, m]) =>
        String(m.name ?? "").startsWith(`materialization_${mat}_`)
      ).map(([id]) => id);
      this.#materializations.set(mat, ids);
    }
    return ids;
  }

  /**
   * The hash of the macros a node uses (closed over the macros they use in
   * turn), and whether any of them mentions `var`.
   */
  closure(node: Obj): { hash: string; vars: boolean } {
    const direct = this.#nodeCalls(node);
    // A unit test runs through dbt's `unit` materialization.
    const mat = node.resource_type === "unit_test"
      ? "unit"
      : String(obj(node.config).materialized ?? "");
    if (mat) direct.push(...this.#materialization(mat));
    const memo = direct.sort().join("\n");
    const have = this.#closures.get(memo);
    if (have) return have;
    let vars = false;
    const parts = this.#reach(direct).map((id) => {
      const m = this.#macro(id);
      vars ||= m.vars;
      return `${id}:${m.hash}`;
    });
    const out = { hash: sha256(parts.join("\n")), vars };
    this.#closures.set(memo, out);
    return out;
  }

  /** A reader of macro calls in Jinja text (also where dbt records them). */
  #reader(): MacroCalls {
    return this.#scan ?? (this.#text ??= new MacroCalls(this.#view.macros));
  }
  #text: MacroCalls | undefined;

  /** The macros `direct` reach (closed over the macros they call). */
  #reach(direct: string[]): string[] {
    const seen = new Set<string>();
    const stack = [...direct];
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      stack.push(...this.#macroCalls(id));
    }
    return [...seen].sort();
  }

  /**
   * The first macro (by id) reading the clock among those the node's code
   * calls, closed over the macros they call: by name (dbt's clock macros)
   * or by its SQL (clockInCode). The materialization is left out (it may
   * stamp times in its own bookkeeping, not in the relation), and so are
   * macros named `materialization_*`. dbt records the macros of the node's
   * hooks among its own: those called only by a hook are left out too (an
   * audit hook writing the time into another table does not change the
   * node's rows); a hook that reads the clock and writes `{{ this }}`
   * (`update {{ this }} set loaded_at = now()`) makes the node read it.
   */
  clock(node: Obj): string | null {
    const hooks = hookTexts(node);
    let direct = this.#nodeCalls(node);
    if (hooks.length) {
      const reader = this.#reader();
      const inCode = new Set(reader.calls(String(node.raw_code ?? "")));
      const byHooks = new Set(hooks.flatMap((h) => reader.calls(h)));
      direct = direct.filter((id) => inCode.has(id) || !byHooks.has(id));
    }
    const hit = this.#clockOf(direct.sort());
    if (hit) return hit;
    for (const h of hooks) {
      const calls = this.#reach(this.#reader().calls(h));
      const writes = WRITES_THIS.test(h) ||
        calls.some((id) =>
          WRITES_THIS.test(String(this.#view.macros[id]?.macro_sql ?? ""))
        );
      if (!writes) continue;
      const found = clockInCode(h) ?? this.#clockOf(calls);
      if (found) return `hook: ${found}`;
    }
    return null;
  }

  /**
   * The `env_var` names a node reads, in its code, its hooks and the
   * macros they reach (closed); `dynamic` is the first call whose name is
   * not a literal (the value cannot be keyed).
   */
  envUse(node: Obj): { names: string[]; dynamic: string | null } {
    const hooks = hookTexts(node);
    const reader = this.#reader();
    const direct = [
      ...new Set([
        ...this.#nodeCalls(node),
        ...hooks.flatMap((h) => reader.calls(h)),
      ]),
    ].sort();
    const memo = direct.join("\n");
    let inMacros = this.#envs.get(memo);
    if (!inMacros) {
      inMacros = envCalls(
        this.#reach(direct).map((id) =>
          String(this.#view.macros[id]?.macro_sql ?? "")
        ),
      );
      this.#envs.set(memo, inMacros);
    }
    const own = envCalls([String(node.raw_code ?? ""), ...hooks]);
    return {
      names: [...new Set([...own.names, ...inMacros.names])].sort(),
      dynamic: own.dynamic ?? inMacros.dynamic,
    };
  }
  readonly #envs = new Map<
    string,
    { names: string[]; dynamic: string | null }
  >();

  /** The first macro reading the clock among those `direct` reach. */
  #clockOf(direct: string[]): string | null {
    const memo = direct.join("\n");
    const have = this.#clocks.get(memo);
    if (have !== undefined) return have;
    let hit: string | null = null;
    for (const id of this.#reach(direct)) {
      const m = this.#view.macros[id];
      const name = String(m?.name ?? "");
      if (CLOCK_MACROS.has(name)) {
        hit = id;
        break;
      }
      if (name.startsWith("materialization_")) continue;
      const found = clockInCode(String(m?.macro_sql ?? ""));
      if (found) {
        hit = `${id} (${found})`;
        break;
      }
    }
    this.#clocks.set(memo, hit);
    return hit;
  }
}

/** A Jinja comment (its `env_var` calls do not run). */
const JINJA_COMMENT = /\{#[\s\S]*?#\}/g;
/**
 * An `env_var(` call: 2 is a literal name, 3 what follows it (`,` or `)`;
 * absent when the name is an expression).
 */
const ENV_CALL = /\benv_var\s*\(\s*(?:(['"])([^'"\\]*)\1\s*([,)]))?/g;

/** The `env_var` names called in texts, and the first non-literal call. */
function envCalls(
  texts: string[],
): { names: string[]; dynamic: string | null } {
  const names = new Set<string>();
  let dynamic: string | null = null;
  for (const text of texts) {
    if (!text.includes("env_var")) continue;
    for (const m of text.replace(JINJA_COMMENT, "").matchAll(ENV_CALL)) {
      if (m[2] !== undefined && m[3]) names.add(m[2]);
      else dynamic ??= m[0].trim();
    }
  }
  return { names: [...names], dynamic };
}

/** SQL that writes the node's own relation (in a hook or its macros). */
const WRITES_THIS =
  /\b(?:update|insert\s+(?:or\s+\w+\s+)?into|merge\s+into|delete\s+from|alter\s+table|truncate(?:\s+table)?|copy)\s+\{\{-?\s*this\b/i;

/**
 * The SQL text of a node's pre- and post-hooks, as dbt-core's manifest
 * keeps them (`config["post-hook"]`: a list of `{sql, transaction}`).
 */
export function hookTexts(node: Obj): string[] {
  const config = obj(node.config);
  const out: string[] = [];
  for (
    const key of ["pre-hook", "post-hook", "pre_hook", "post_hook"]
  ) {
    const v = config[key];
    for (const h of Array.isArray(v) ? v : v === undefined ? [] : [v]) {
      if (typeof h === "string") out.push(h);
      else if (h && typeof h === "object") {
        const sql = (h as Obj).sql;
        if (typeof sql === "string") out.push(sql);
      }
    }
  }
  return out;
}

/**
 * dbt's macros that return the time of the call (adapters implement them
 * as `<adapter>__current_timestamp`, reached through these).
 */
const CLOCK_MACROS: ReadonlySet<string> = new Set([
  "current_timestamp",
  "current_timestamp_backcompat",
  "current_timestamp_in_utc_backcompat",
]);

/**
 * SQL functions whose value is the time of the run, or random, or new on
 * every call (a node using one is never reused), across the adapters:
 * names used without parentheses, then functions.
 */
const CLOCK_SQL = new RegExp(
  String
    .raw`\b(?:(current_timestamp|current_date|current_time|localtimestamp|localtime|sysdate|sysdatetime|systimestamp|tablesample|using\s+sample)\b|(now|current_datetime|timeofday|generate_uuid|uuid_string|today|utcnow|getdate|getutcdate|sysutcdatetime|unix_timestamp|get_current_timestamp|get_current_time|current_localtimestamp|current_localtime|transaction_timestamp|statement_timestamp|clock_timestamp|random|rand|gen_random_uuid|uuid|uuid_generate_v1|uuid_generate_v4|newid)\s*\()`,
  "i",
);
/** A Postgres clock literal, as codeOnly keeps it. */
const CLOCK_LITERAL = /'(now|today|tomorrow|yesterday)'/i;
/**
 * dbt context variables different on every invocation, and the Python
 * modules dbt exposes that read the clock or are random (in Jinja only).
 */
const CLOCK_JINJA =
  /\b(run_started_at|invocation_id|modules\s*\.\s*(?:time|random)\b)/;

/**
 * What in a piece of SQL and Jinja reads the clock, is random or is new on
 * every invocation, or null. Comments and the text of string literals are
 * left out (the Jinja inside a string counts).
 */
export function clockInCode(text: string): string | null {
  const code = codeOnly(text);
  const m = CLOCK_SQL.exec(code);
  if (m) {
    return m[1]
      ? m[1].toLowerCase().replace(/\s+/g, " ")
      : `${m[2]!.toLowerCase()}()`;
  }
  const lit = CLOCK_LITERAL.exec(code);
  if (lit) return `'${lit[1]!.toLowerCase()}'`;
  return CLOCK_JINJA.exec(jinjaOf(code))?.[1]?.replace(/\s+/g, "") ?? null;
}

/** A mention of dbt's `var` in Jinja code. */
const VAR_USE = /\bvar\b/;

function definition(
  macros: MacroIndex,
  id: string,
  node: Obj,
  inputs: KeyInputs,
): DefinitionParts {
  const checksum = node.resource_type === "seed" && inputs.seeds[id]
    ? inputs.seeds[id]
    : String(obj(node.checksum).checksum ?? "");
  const code = node.resource_type === "unit_test"
    ? unitTestCode(node, inputs)
    : sha256(stableJson({
      checksum,
      // A test's or snapshot's SQL may be generated: keep the text too.
      raw_code: node.raw_code ?? null,
      language: node.language ?? null,
      test_metadata: node.test_metadata ?? null,
    }));
  const contract = obj(node.contract);
  const config = sha256(stableJson({
    config: node.config ?? null,
    contract,
    columns: contract.enforced ? node.columns ?? null : null,
    relation: node.relation_name ?? [
      node.database,
      node.schema,
      node.alias ?? node.name,
    ],
  }));
  const used = macros.closure(node);
  const usesVars = used.vars || VAR_USE.test(String(node.raw_code ?? ""));
  // The values (as sha256: a DBT_ENV_SECRET_* value is never kept) of the
  // env_var names the node reads, as dbt gets them.
  const envNames = macros.envUse(node).names;
  const env = envNames.length
    ? {
      env: Object.fromEntries(envNames.map((n) => {
        const v = inputs.env?.[n];
        return [n, v === undefined ? null : sha256(v)];
      })),
    }
    : {};
  return {
    code,
    config,
    macros: used.hash,
    // Only a node whose code or macros mention `var` reads vars (a var in
    // a config is in the config already); its env_var values count here.
    vars: sha256(
      usesVars
        ? stableJson({
          invocation: inputs.vars ?? null,
          project: inputs.projectVars ?? null,
          ...env,
        })
        : envNames.length
        ? stableJson(env)
        : "no var used",
    ),
    target: sha256(inputs.target),
  };
}

/** Why a node's key cannot see one of its inputs, or null. */
function dynamicEnv(macros: MacroIndex, node: Obj): string | null {
  const d = macros.envUse(node).dynamic;
  return d ? `env_var name not a literal: ${d}` : null;
}

/**
 * What defines a unit test: its tested model (and version), given rows,
 * expected rows and overrides, each fixture file's contents where the
 * manifest names a file instead of recording its rows (Fusion), and
 * dbt-core's own checksum (a string; Fusion records none). Its description
 * is left out, as dbt-core's checksum leaves it out.
 */
function unitTestCode(node: Obj, inputs: KeyInputs): string {
  const files: Record<string, string> = {};
  const expect = obj(node.expect);
  for (
    const part of [...(Array.isArray(node.given) ? node.given : []), expect]
  ) {
    const fixture = obj(part).fixture;
    // dbt-core records the rows (a list, or a csv or sql text) and names
    // the fixture; only a path without rows (Fusion) is read from the file.
    const rows = obj(part).rows;
    if (typeof fixture !== "string" || (rows !== undefined && rows !== null)) {
      continue;
    }
    // A file that could not be read has no version: the test always runs.
    files[fixture] = inputs.fixtures?.[fixture] ??
      `unread:${crypto.randomUUID()}`;
  }
  return sha256(stableJson({
    checksum: typeof node.checksum === "string" ? node.checksum : null,
    model: node.model ?? null,
    versions: node.versions ?? null,
    version: node.version ?? null,
    given: node.given ?? null,
    expect: node.expect ?? null,
    overrides: node.overrides ?? null,
    fixtures: files,
  }));
}

/**
 * The key of every keyed node of the manifest (parents before children).
 * A parent the call does not build counts with its key in the warehouse
 * (`inputs.builtKey`); an ephemeral parent with its current key.
 */
export function computeKeys(
  view: ManifestView,
  inputs: KeyInputs,
): Map<string, NodeKey> {
  const out = new Map<string, NodeKey>();
  const visiting = new Set<string>();
  const macros = new MacroIndex(view);
  const visit = (id: string): NodeKey | undefined => {
    const have = out.get(id);
    if (have) return have;
    const node = view.nodes[id];
    if (!node || !KEYED_TYPES.has(String(node.resource_type))) return undefined;
    if (visiting.has(id)) return undefined; // a cycle: dbt refuses it anyway
    visiting.add(id);
    const parents: Record<string, string> = {};
    let unknown: string | null = null;
    const relationParents = new Set<string>();
    // A clock read by an ephemeral parent (inlined into this node's SQL),
    // or by a unit test's model (its SQL runs on the fixtures).
    let inherited: string | null = null;
    let opaque: string | null = null;
    for (const p of parentsOf(node)) {
      if (p.startsWith("source.")) {
        const v = inputs.sources[p];
        if (!v || v.version === null) {
          unknown ??= p;
          parents[p] = "unknown";
        } else parents[p] = v.version;
        continue;
      }
      const pk = visit(p);
      if (!pk) {
        parents[p] = "unkeyed"; // e.g. a unit test fixture, a metric
        continue;
      }
      unknown ??= pk.unknown;
      const parentNode = view.nodes[p]!;
      if (
        pk.opaque &&
        ((parentNode.resource_type === "model" && isEphemeral(parentNode)) ||
          node.resource_type === "unit_test")
      ) {
        opaque ??= pk.opaque.includes(" via ")
          ? pk.opaque
          : `${pk.opaque} via ${p}`;
      }
      if (parentNode.resource_type === "model" && isEphemeral(parentNode)) {
        for (const q of pk.relationParents) relationParents.add(q);
        if (pk.clock) {
          inherited ??= pk.clock.includes(" via ")
            ? pk.clock
            : `${pk.clock} via ${p}`;
        }
      } else relationParents.add(p);
      if (node.resource_type === "unit_test" && pk.clock) {
        inherited ??= `${pk.clock} via ${p}`;
      }
      // A unit test tests its model's code, not its relation: the model
      // counts with its current key even when this call does not build it.
      parents[p] = node.resource_type === "unit_test"
        ? pk.key
        : inputs.builtKey(p, pk.key);
    }
    const parts = definition(macros, id, node, inputs);
    const key = sha256(stableJson({ parts, parents }));
    const clock = node.resource_type === "seed"
      ? null
      : clockInCode(String(node.raw_code ?? "")) ?? macros.clock(node) ??
        inherited;
    const k: NodeKey = {
      unique_id: id,
      resource_type: String(node.resource_type),
      key,
      parts,
      parents,
      unknown,
      clock,
      opaque: dynamicEnv(macros, node) ?? opaque,
      relationParents: [...relationParents].sort(),
    };
    visiting.delete(id);
    out.set(id, k);
    return k;
  };
  for (const id of Object.keys(view.nodes)) visit(id);
  return out;
}
