/**
 * The SQL text scanner behind `--skip-unchanged`'s clock and macro-call
 * reading (src/skip/sql_text.ts): every dialect's quoting is understood or
 * read both ways, so no quote hides a clock, and long texts after an
 * unclosed quote are read in one pass.
 *
 * @module
 */
import assert from "node:assert/strict";
import { codeOnly, jinjaOf } from "../src/skip/sql_text.ts";
import { clockInCode } from "../src/skip/keys.ts";

Deno.test("sql text: no dialect's quoting or comment hides a clock", () => {
  const cases: [string, string | null][] = [
    // Dollar quotes (Postgres, Snowflake, DuckDB), with and without a tag.
    ["select $$it's$$ as x, now() as t", "now()"],
    ["select $$a--b$$ as x, now() as t", "now()"],
    ["select $tag$it's$tag$ as x, now() as t, 'y' as z", "now()"],
    ["select $$ now() $$ as x", null],
    // Backslash escapes (BigQuery, Snowflake, Databricks, MySQL) and E'…'.
    [
      "select 'a\\'b' as x, current_timestamp as t, 'c' as y",
      "current_timestamp",
    ],
    [
      "select E'it\\'s' as x, current_timestamp as t, 'z' as w",
      "current_timestamp",
    ],
    ['select "a\\"b" as x, now() as t, "c" as y', "now()"],
    // The standard reading too: a backslash ending a Postgres string.
    ["select 'C:\\' as dir, now() as t, 'x' as y", "now()"],
    // Backtick identifiers, triple-quoted strings (BigQuery).
    [
      "select `a'b` as x, current_timestamp as t, 'c' as y",
      "current_timestamp",
    ],
    ["select '''it's''' as x, now() as t, 'y' as z", "now()"],
    // Standard SQL has no backticks: that reading keeps their text (rebuilds).
    ["select `now()` as x", "now()"],
    // `#` line comments (BigQuery, MySQL), and `#` as Postgres' operator.
    ["# the customer's data\nselect now() as t, 'x' as y", "now()"],
    ["select 1 # now()\n", "now()"],
    ["select a # b, now() as t from x", "now()"],
    // Jinja holding a quote, and Jinja brackets holding `}}`.
    ['select {{ "\'" }} as q, current_timestamp as t', "current_timestamp"],
    ["select {{ f({'a': {'b': 1}}) }} as q, now() as t", "now()"],
    // An unclosed quote, comment or Jinja block keeps the rest as it is.
    ["select 'abc, now() as t", "now()"],
    ["select 1 /* now() ", "now()"],
    ["select {{ x ' }} now()", "now()"],
    // Jinja statements in a SQL comment still run.
    [
      "-- {% set t = run_started_at %}\nselect '{{ t }}' as x",
      "run_started_at",
    ],
    // Kept: comments and string text hide what is in them.
    ["select 1 -- now()\n/* current_date */ {# sysdate #}", null],
    ["select 'now()' as x, \"current_date\" from t", null],
    ["select 'a''now()' as x", null],
    ["select 'today'::date as d", "'today'"],
  ];
  for (const [code, want] of cases) assert.equal(clockInCode(code), want, code);
});

Deno.test("sql text: many Jinja pieces after an unclosed quote are read in one pass", () => {
  for (const n of [40, 200]) {
    const pieces = Array.from(
      { length: n },
      (_, i) => `{{ col_${i} }} as c${i}`,
    );
    for (
      const head of ["# the customer's data\n", "select 'x, ", 'select "x, ']
    ) {
      const text = `${head}${pieces.join(", ")}, {{ invocation_id }} as run`;
      assert.equal(clockInCode(text), "invocation_id", `${head} ${n}`);
      assert.equal(clockInCode(text.replace("invocation_id", "y")), null);
      assert.equal(
        jinjaOf(codeOnly(text)).split("\n").filter((j) =>
          j.startsWith("{{ col_")
        )
          .length >= n,
        true,
      );
    }
  }
});

Deno.test("sql text: string text out, the Jinja in it kept", () => {
  const code = codeOnly("select 'a {{ x }} b' as s, \"c\" as d -- e\n");
  assert.equal(code.includes("{{ x }}"), true);
  for (const gone of [" a ", " b'", '"c"', "-- e"]) {
    assert.equal(code.includes(gone), false, gone);
  }
  assert.equal(codeOnly("select {# c #} 1"), "select   1");
});
