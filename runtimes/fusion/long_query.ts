/**
 * The agent's own queries through `dbt show --inline`, whatever their
 * length. Linux limits ONE argument (and one environment string) to 128 KiB
 * (MAX_ARG_STRLEN), and Fusion 2.0 takes `--inline` once, not from a file
 * nor stdin (checked on dbt-fusion 2.0.0-preview.196). So a query longer
 * than ARG_BYTES goes in pieces, each an environment variable of the
 * process, and `--inline` only joins them: `{{ env_var('FLOE_DBT_QUERY_0')
 * }}{{ env_var('FLOE_DBT_QUERY_1') }}...`. Fusion renders what `env_var`
 * returns as Jinja too, so the caller (inspect.ts) refuses a query holding a
 * Jinja delimiter before either path. One process still answers it. All the arguments and
 * environment of a process share a larger limit (ARG_MAX, 2 MiB by default):
 * a query longer than PROCESS_BYTES is split between its `union all`
 * branches into several queries, one process each, whose rows the caller
 * merges (the agent's queries match rows by the names and indexes they
 * carry, never by position).
 *
 * @module
 */

/** The longest query passed as the `--inline` argument itself. */
export const ARG_BYTES = 96 * 1024;

/** The longest query one process is given (in pieces of ARG_BYTES). */
export const PROCESS_BYTES = 1024 * 1024;

/** How the agent's queries join their branches. */
export const UNION = "\nunion all\n";

/** The prefix of the environment variables carrying a long query's pieces. */
export const QUERY_ENV = "FLOE_DBT_QUERY_";

const encoder = new TextEncoder();

function bytes(s: string): number {
  return encoder.encode(s).length;
}

/**
 * `sql` as queries of at most `max` bytes each, cut between its `union
 * all` branches (the agent writes no newline inside a branch: names and
 * literals are plain, src/skip/data.ts). A single branch longer than `max`
 * stays one query.
 */
export function splitUnion(sql: string, max = PROCESS_BYTES): string[] {
  if (bytes(sql) <= max) return [sql];
  const out: string[] = [];
  let cur: string[] = [];
  let size = 0;
  const sep = bytes(UNION);
  for (const branch of sql.split(UNION)) {
    const n = bytes(branch);
    if (cur.length && size + sep + n > max) {
      out.push(cur.join(UNION));
      cur = [];
      size = 0;
    }
    size += (cur.length ? sep : 0) + n;
    cur.push(branch);
  }
  if (cur.length) out.push(cur.join(UNION));
  return out;
}

/** `text` in pieces of at most `max` UTF-8 bytes (never inside a character). */
export function pieces(text: string, max = ARG_BYTES): string[] {
  const out: string[] = [];
  let start = 0;
  let size = 0;
  let i = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (size + n > max) {
      out.push(text.slice(start, i));
      start = i;
      size = 0;
    }
    size += n;
    i += ch.length;
  }
  out.push(text.slice(start));
  return out;
}

/**
 * The `--inline` argument for `sql` and the variables it needs: `sql`
 * itself when it fits one argument, else the pieces joined by `env_var`.
 */
export function inlineQuery(
  sql: string,
): { inline: string; env: Record<string, string> } {
  if (bytes(sql) <= ARG_BYTES) return { inline: sql, env: {} };
  const env: Record<string, string> = {};
  const refs = pieces(sql).map((p, i) => {
    env[`${QUERY_ENV}${i}`] = p;
    return `{{ env_var('${QUERY_ENV}${i}') }}`;
  });
  return { inline: refs.join(""), env };
}
