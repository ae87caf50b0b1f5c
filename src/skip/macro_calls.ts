/**
 * The macros a piece of Jinja calls, read from its text, for manifests
 * that do not record them: Fusion's `dbt parse` lists only a node's
 * project macros (not dbt_utils' or dbt's) and no macro's own calls, so the
 * input keys would miss a changed package macro and the clock read through
 * `dbt_date.today()`. Over-inclusive on purpose (a name may resolve to
 * several macros; a dispatch reaches every adapter's implementation): an
 * extra macro in a key can only cause a rebuild, never a wrong reuse.
 *
 * @module
 */

import { codeOnly } from "./sql_text.ts";

type Obj = Record<string, unknown>;

/** `pkg.name(` */
const QUALIFIED = /\b([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*)\s*\(/g;
/** `name(` not after a dot. */
const BARE = /(?<![\w.])([A-Za-z_]\w*)\s*\(/g;
/** `adapter.dispatch('name', 'pkg')` (the package is optional). */
const DISPATCH = /adapter\s*\.\s*dispatch\s*\(\s*['"](\w+)['"]/g;

/** Resolves names in Jinja text to macro unique_ids of one manifest. */
export class MacroCalls {
  readonly #byName = new Map<string, string[]>();
  readonly #qualified = new Map<string, string>();
  readonly #dispatched = new Map<string, string[]>();

  constructor(macros: Record<string, Obj>) {
    for (const [id, m] of Object.entries(macros)) {
      const name = String(m.name ?? "");
      const pkg = String(m.package_name ?? id.split(".")[1] ?? "");
      if (!name) continue;
      this.#byName.set(name, [...(this.#byName.get(name) ?? []), id]);
      this.#qualified.set(`${pkg}.${name}`, id);
      // `<adapter>__name` and `default__name` implement a dispatched `name`.
      const i = name.indexOf("__");
      if (i > 0) {
        const base = name.slice(i + 2);
        this.#dispatched.set(base, [...(this.#dispatched.get(base) ?? []), id]);
      }
    }
  }

  /** Every macro the text may call. */
  calls(text: string): string[] {
    // No calls in comments or in the text of strings (their Jinja counts).
    const code = codeOnly(text);
    const out = new Set<string>();
    for (const m of code.matchAll(QUALIFIED)) {
      const id = this.#qualified.get(`${m[1]}.${m[2]}`);
      if (id) out.add(id);
    }
    for (const m of code.matchAll(BARE)) {
      for (const id of this.#byName.get(m[1]!) ?? []) out.add(id);
    }
    for (const m of code.matchAll(DISPATCH)) {
      for (const id of this.#dispatched.get(m[1]!) ?? []) out.add(id);
      for (const id of this.#byName.get(m[1]!) ?? []) out.add(id);
    }
    return [...out].sort();
  }
}

/** True when the manifest records what its macros call (dbt-core does). */
export function recordsMacroCalls(macros: Record<string, Obj>): boolean {
  return Object.values(macros).some((m) => {
    const deps = (m.depends_on as { macros?: unknown } | undefined)?.macros;
    return Array.isArray(deps) && deps.length > 0;
  });
}
