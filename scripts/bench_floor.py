#!/usr/bin/env python3
"""The dbt-core in-process floor for ``deno task bench``: one Python process
parses the project once, then times ``dbtRunner(manifest=...).invoke(...)``
calls with that parsed manifest, as the agent's warm worker does, but with no
agent around it (no IPC, no fingerprint, no event callbacks). Nothing through
dbt-core can be faster; the warm agent's figure minus this is its overhead.

Run with the dbt-core environment's Python::

    .venv/dbt-core/bin/python scripts/bench_floor.py OUT.json REPS COMMAND DBT_ARGS...

Writes ``{"seconds": [...], "parse_seconds": s}`` to OUT.json (dbt prints to
stdout, so the figures go to a file).
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    out, reps, command, *dbt_args = sys.argv[1:]
    from dbt.cli.main import dbtRunner

    p0 = time.perf_counter()
    parsed = dbtRunner().invoke(["parse", *dbt_args])
    parse_seconds = time.perf_counter() - p0
    if not parsed.success:
        raise SystemExit(f"dbt parse failed: {parsed.exception}")
    manifest = parsed.result
    args = [command, *dbt_args]
    if command == "compile":
        args.append("--no-populate-cache")  # as the agent does
    warm = dbtRunner(manifest=manifest).invoke(args)  # warm-up, not timed
    if not warm.success:
        raise SystemExit(f"dbt {command} failed: {warm.exception}")
    seconds = []
    for _ in range(int(reps)):
        t0 = time.perf_counter()
        res = dbtRunner(manifest=manifest).invoke(args)
        seconds.append(time.perf_counter() - t0)
        if not res.success:
            raise SystemExit(f"dbt {command} failed: {res.exception}")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"seconds": seconds, "parse_seconds": parse_seconds}, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
