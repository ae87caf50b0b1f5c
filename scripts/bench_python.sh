#!/usr/bin/env bash
# The Python benchmark (scripts/bench_python.py): Dagster materializing a
# synthetic 50-model project through floe_dbt_assets against a warm agent vs
# dagster-dbt's @dbt_assets + DbtCliResource. Makes .venv/bench from
# requirements/bench-python.lock (dagster, dagster-dbt, dbt-core, dbt-duckdb).
set -euo pipefail
cd "$(dirname "$0")/.."
B=.venv/bench
want=$(cat requirements/bench-python.lock | sha256sum | cut -c1-16)
if ! [ -f "$B/.floe-stamp" ] || [ "$(cat "$B/.floe-stamp")" != "$want" ] || ! [ -x "$B/bin/dbt" ]; then
  echo "bench: creating $B (dagster, dagster-dbt, dbt-duckdb)" >&2
  python3 -m venv "$B"
  "$B/bin/pip" install --quiet --disable-pip-version-check -r requirements/bench-python.lock >&2
  echo "$want" > "$B/.floe-stamp"
fi
"$B/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall ./clients/python >&2
rm -rf clients/python/build
exec "$B/bin/python" scripts/bench_python.py "$@"
