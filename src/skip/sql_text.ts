/**
 * The code of a piece of SQL and Jinja, for reading what it calls: Jinja
 * comments, SQL comments, quoted identifiers and the text of string
 * literals left out (a `--` or `/*` inside a string is not a comment),
 * the Jinja inside a string kept (`'{{ run_started_at }}'` reads the
 * clock). Postgres' clock literals (`'now'`, `'today'`, ...) are kept
 * as they are, quotes included.
 *
 * @module
 */

/** A Jinja expression or statement. */
const JINJA = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g;

/**
 * In order: Jinja (kept), a Jinja comment, a string literal (its Jinja
 * kept), a quoted identifier, a block comment, a line comment.
 */
const TOKENS =
  /(\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\})|\{#[\s\S]*?#\}|'((?:\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|''|[^'])*)'|"(?:\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|""|[^"])*"|\/\*[\s\S]*?\*\/|--[^\n]*/g;

/** String literals whose value is the time of the statement (Postgres). */
const CLOCK_LITERAL = /^\s*(now|today|tomorrow|yesterday)\s*$/i;

/** The text with comments and string contents left out (see the module doc). */
export function codeOnly(text: string): string {
  return text.replace(
    TOKENS,
    (whole, jinja: string | undefined, literal: string | undefined) => {
      if (jinja !== undefined) return jinja;
      if (literal !== undefined) {
        if (CLOCK_LITERAL.test(literal)) return ` '${literal.trim()}' `;
        return ` ${(literal.match(JINJA) ?? []).join(" ")} `;
      }
      // A quoted identifier may hold Jinja too.
      if (whole.startsWith('"')) {
        return ` ${(whole.match(JINJA) ?? []).join(" ")} `;
      }
      return " ";
    },
  );
}

/** The Jinja expressions and statements of a text (after codeOnly). */
export function jinjaOf(code: string): string {
  return (code.match(JINJA) ?? []).join("\n");
}
