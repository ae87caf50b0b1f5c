/**
 * The code of a piece of SQL and Jinja, for reading what it calls: Jinja
 * comments, SQL comments, quoted identifiers and the text of string
 * literals left out (a `--` or `/*` inside a string is not a comment),
 * the Jinja inside a string kept (`'{{ run_started_at }}'` reads the
 * clock). Postgres' clock literals (`'now'`, `'today'`, ...) are kept
 * as they are, quotes included.
 *
 * A linear scanner (one pass, no backtracking). SQL dialects disagree on
 * quoting, so the text is read twice and both readings are returned:
 * standard SQL (`''` escapes, `E'…'`, `$tag$…$tag$`, `"…"`) and a lenient
 * one adding backslash escapes, `'''…'''`, backtick identifiers and `#`
 * line comments (BigQuery, MySQL, Databricks, Snowflake). When in doubt
 * text is kept: an unclosed quote, comment or Jinja block keeps the rest
 * of the text as it is, and the `{% %}` statements inside SQL comments are
 * kept (Jinja runs them). Reading too much only rebuilds; reading too
 * little would reuse a node that reads the clock.
 *
 * @module
 */

/** A Jinja expression or statement. */
const JINJA = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g;

/** String literals whose value is the time of the statement (Postgres). */
const CLOCK_LITERAL = /^\s*(now|today|tomorrow|yesterday)\s*$/i;

/** A dollar quote's opening tag (`$$`, `$tag$`). */
const DOLLAR = /\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/y;

/** A character of a name (a quote prefix or `$` after one is not a quote). */
const NAME_CHAR = /[A-Za-z0-9_$]/;

/** The text with comments and string contents left out (see the module doc). */
export function codeOnly(text: string): string {
  const standard = scan(text, false);
  const lenient = scan(text, true);
  return standard === lenient ? standard : `${standard}\n${lenient}`;
}

/** The Jinja expressions and statements of a text (after codeOnly). */
export function jinjaOf(code: string): string {
  return (code.match(JINJA) ?? []).join("\n");
}

/**
 * The end of the Jinja block opening at `at` (`{{` or `{%`), or -1 when
 * it is not closed: brackets balanced and Jinja strings skipped, as
 * Jinja's own lexer does.
 */
function jinjaEnd(text: string, at: number): number {
  const close = text[at + 1] === "{" ? "}}" : "%}";
  let depth = 0;
  let i = at + 2;
  while (i < text.length) {
    const c = text[i]!;
    if (depth === 0 && c === close[0] && text[i + 1] === close[1]) {
      return i + 2;
    }
    if (c === "'" || c === '"') {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === "\\" ? 2 : 1;
      if (i >= text.length) return -1;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if ((c === ")" || c === "]" || c === "}") && depth > 0) depth--;
    i++;
  }
  return -1;
}

/** How the body of a quote or comment is read. */
type Body = {
  /** What ends it ("" for the end of the line or text). */
  close: string;
  /** A doubled close is part of the body (`''`). */
  doubled: boolean;
  /** A backslash escapes the next character. */
  backslash: boolean;
  /** Whether `{{ }}` in the body is kept (in strings) or not (comments). */
  expressions: boolean;
};

/**
 * Reads a body from `at`: its end (after the close) and the Jinja it
 * keeps, or null when it is not closed.
 */
function body(
  text: string,
  at: number,
  how: Body,
): { end: number; jinja: string[] } | null {
  const jinja: string[] = [];
  let i = at;
  while (i < text.length) {
    const c = text[i]!;
    const d = text[i + 1];
    if (c === "{" && (d === "{" || d === "%")) {
      const end = jinjaEnd(text, i);
      if (end < 0) return null;
      if (d === "%" || how.expressions) jinja.push(text.slice(i, end));
      i = end;
      continue;
    }
    if (c === "{" && d === "#") {
      const end = text.indexOf("#}", i + 2);
      if (end < 0) return null;
      i = end + 2;
      continue;
    }
    if (how.close === "") {
      if (c === "\n") return { end: i, jinja };
    } else if (how.backslash && c === "\\") {
      i += 2;
      continue;
    } else if (text.startsWith(how.close, i)) {
      const after = i + how.close.length;
      if (how.doubled && text.startsWith(how.close, after)) {
        i = after + how.close.length;
        continue;
      }
      return { end: after, jinja };
    }
    i++;
  }
  return how.close === "" ? { end: text.length, jinja } : null;
}

/** What opens at `at`, if a quote or comment: how to read its body. */
function opening(
  text: string,
  at: number,
  lenient: boolean,
): { open: number; how: Body; literal: boolean } | null {
  const c = text[at]!;
  const d = text[at + 1];
  const afterName = at > 0 && NAME_CHAR.test(text[at - 1]!);
  const quote = (open: number, close: string, backslash: boolean) => ({
    open,
    how: { close, doubled: close.length === 1, backslash, expressions: true },
    literal: close === "'",
  });
  if ((c === "-" && d === "-") || (lenient && c === "#")) {
    return {
      open: c === "#" ? 1 : 2,
      how: { close: "", doubled: false, backslash: false, expressions: false },
      literal: false,
    };
  }
  if (c === "/" && d === "*") {
    return {
      open: 2,
      how: {
        close: "*/",
        doubled: false,
        backslash: false,
        expressions: false,
      },
      literal: false,
    };
  }
  if (c === "'" || c === '"') {
    if (lenient && text.startsWith(c.repeat(3), at)) {
      return quote(3, c.repeat(3), true);
    }
    // Postgres' E'…' reads backslash escapes in every reading.
    const prefix = text[at - 1];
    const escapeString = c === "'" && (prefix === "E" || prefix === "e") &&
      !(at > 1 && NAME_CHAR.test(text[at - 2]!));
    return quote(1, c, lenient || escapeString);
  }
  if (lenient && c === "`") return quote(1, "`", true);
  if (c === "$" && !afterName) {
    DOLLAR.lastIndex = at;
    const tag = DOLLAR.exec(text)?.[0];
    if (tag) {
      return {
        open: tag.length,
        how: {
          close: tag,
          doubled: false,
          backslash: false,
          expressions: true,
        },
        literal: true,
      };
    }
  }
  return null;
}

/** One reading of the text (see the module doc). */
function scan(text: string, lenient: boolean): string {
  const out: string[] = [];
  let from = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const d = text[i + 1];
    if (c === "{" && (d === "{" || d === "%")) {
      const end = jinjaEnd(text, i);
      if (end < 0) break;
      i = end;
      continue;
    }
    if (c === "{" && d === "#") {
      const end = text.indexOf("#}", i + 2);
      if (end < 0) break;
      out.push(text.slice(from, i), " ");
      i = from = end + 2;
      continue;
    }
    const open = opening(text, i, lenient);
    if (!open) {
      i++;
      continue;
    }
    const read = body(text, i + open.open, open.how);
    if (!read) break;
    out.push(text.slice(from, i), " ");
    const inner = text.slice(
      i + open.open,
      read.end - (open.how.close.length),
    );
    if (open.literal && CLOCK_LITERAL.test(inner)) {
      out.push(`'${inner.trim()}'`, " ");
    }
    if (read.jinja.length) out.push(read.jinja.join(" "), " ");
    i = from = read.end;
  }
  out.push(text.slice(from));
  return out.join("");
}
