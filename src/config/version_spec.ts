/**
 * Version specs of `local.dbt_version` / `local.python_version`: an exact
 * version ("1.8.0", "==1.8.0", "1.8" or "1.8.*" for any 1.8.x) pins; a spec
 * with an operator (">=1.7", "~=1.11", ">=1.8,<2", "!=1.9.0") is a range.
 *
 * @module
 */

/** How a spec relates to an installed version. */
export interface SpecCheck {
  /** "pin" for an exact version, "range" for anything with an operator. */
  kind: "pin" | "range";
  /** Whether the installed version satisfies the spec. */
  satisfied: boolean;
}

/** The numeric release parts of a version ("1.11.0rc1" -> [1, 11, 0]). */
export function releaseParts(version: string): number[] {
  const parts: number[] = [];
  for (const piece of version.trim().replace(/^v/, "").split(".")) {
    const m = /^(\d+)/.exec(piece);
    if (!m) break;
    parts.push(Number(m[1]));
    if (m[1]!.length !== piece.length) break;
  }
  return parts;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function startsWith(installed: number[], prefix: number[]): boolean {
  return prefix.every((p, i) => installed[i] === p);
}

function clause(op: string, want: string, installed: number[]): boolean {
  const wildcard = want.endsWith(".*");
  const w = releaseParts(wildcard ? want.slice(0, -2) : want);
  if (w.length === 0) throw new Error(`not a version: '${want}'`);
  switch (op) {
    case "":
    case "==":
    case "===":
      // "1.8" and "1.8.*" mean any 1.8.x; "1.8.0" means exactly 1.8.0.
      return startsWith(installed, w);
    case "!=":
      return !startsWith(installed, w);
    case ">=":
      return compare(installed, w) >= 0;
    case ">":
      return compare(installed, w) > 0;
    case "<=":
      return compare(installed, w) <= 0;
    case "<":
      return compare(installed, w) < 0;
    case "~=":
      // PEP 440: ~=1.7 is >=1.7,==1.*; ~=1.7.2 is >=1.7.2,==1.7.*
      return compare(installed, w) >= 0 &&
        startsWith(installed, w.slice(0, Math.max(1, w.length - 1)));
    default:
      throw new Error(`unknown operator '${op}'`);
  }
}

/**
 * Check `installed` against `spec`; throws an Error naming the part of the
 * spec it cannot read.
 */
export function checkSpec(spec: string, installed: string): SpecCheck {
  const have = releaseParts(installed);
  let kind: SpecCheck["kind"] = "pin";
  let satisfied = true;
  for (const raw of spec.split(",")) {
    const m = /^\s*(===|==|!=|>=|<=|~=|>|<)?\s*v?([0-9][0-9A-Za-z.*+-]*)\s*$/
      .exec(raw);
    if (!m) throw new Error(`cannot read '${raw.trim()}'`);
    const op = m[1] ?? "";
    if (op !== "" && op !== "==" && op !== "===") kind = "range";
    if (!clause(op, m[2]!, have)) satisfied = false;
  }
  return { kind, satisfied };
}
