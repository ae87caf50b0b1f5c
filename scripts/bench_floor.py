#!/usr/bin/env python3
"""The dbt-core in-process floor for ``deno task bench``: one Python process
parses the project once, then times ``dbtRunner(manifest=...).invoke(...)``
calls with that parsed manifest, as the agent's warm worker does, but with no
agent around it (no IPC, no fingerprint, no event callbacks).

Run with the dbt-core environment's Python::

    .venv/dbt-core/bin/python scripts/bench_floor.py COMMAND DBT_ARGS...

It parses and makes one untimed call, prints ``ready PARSE_SECONDS``, then
for each line ``go`` on stdin makes one call and prints its seconds (or
``error MESSAGE``); it ends at EOF. So the bench interleaves these calls with
its other measurements. dbt's own output goes to stderr.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> int:
    command, *dbt_args = sys.argv[1:]
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever dbt prints goes to stderr
    from dbt.cli.main import dbtRunner

    p0 = time.perf_counter()
    parsed = dbtRunner().invoke(["parse", *dbt_args])
    parse_seconds = time.perf_counter() - p0
    if not parsed.success:
        out.write(f"error dbt parse failed: {parsed.exception}\n")
        return 1
    manifest = parsed.result
    args = [command, *dbt_args]
    if command == "compile":
        args.append("--no-populate-cache")  # as the agent does
    warm = dbtRunner(manifest=manifest).invoke(args)  # warm-up, not timed
    if not warm.success:
        out.write(f"error dbt {command} failed: {warm.exception}\n")
        return 1
    out.write(f"ready {parse_seconds}\n")
    for line in sys.stdin:
        if line.strip() != "go":
            continue
        t0 = time.perf_counter()
        res = dbtRunner(manifest=manifest).invoke(args)
        seconds = time.perf_counter() - t0
        if not res.success:
            out.write(f"error dbt {command} failed: {res.exception}\n")
            return 1
        out.write(f"{seconds}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
