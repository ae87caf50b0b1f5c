#!/usr/bin/env bash
# The orchestrator benchmark (scripts/bench_orch.py): Dagster definitions load
# (floe_dbt_assets vs dagster-dbt's @dbt_assets), Airflow DAG parse and an
# Airflow build (FloeDbtTaskGroup vs astronomer-cosmos' DbtTaskGroup). Makes
# .venv/bench from requirements/bench-python.lock (dagster, dagster-dbt,
# dbt-duckdb) and .venv/bench-airflow from requirements/bench-airflow.lock
# (apache-airflow, astronomer-cosmos, dbt-duckdb): Dagster and Airflow are
# kept apart. Usage: scripts/bench_orch.sh [--quick] [--only dagster,parse,build]
set -euo pipefail
cd "$(dirname "$0")/.."

venv() { # venv DIR LOCK: (re)create DIR from LOCK when LOCK changed
  local dir=$1 lock=$2 want
  want=$(sha256sum < "$lock" | cut -c1-16)
  if ! [ -f "$dir/.floe-stamp" ] || [ "$(cat "$dir/.floe-stamp")" != "$want" ] || ! [ -x "$dir/bin/dbt" ]; then
    echo "bench: creating $dir from $lock" >&2
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$lock" >&2
    echo "$want" > "$dir/.floe-stamp"
  fi
  "$dir/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall ./clients/python >&2
  rm -rf clients/python/build
}

venv .venv/bench requirements/bench-python.lock
venv .venv/bench-airflow requirements/bench-airflow.lock
exec .venv/bench-airflow/bin/python scripts/bench_orch.py --dagster-python .venv/bench/bin/python "$@"
