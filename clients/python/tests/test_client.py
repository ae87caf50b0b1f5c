"""The client against a real daemon with real dbt-core."""

from __future__ import annotations

import asyncio
import secrets
import signal
import threading
from pathlib import Path

import pytest

from conftest import Daemon, copy_example
from floe_dbt import AsyncFloeDbtClient, FloeDbtClient
from floe_dbt.errors import (
    DBTCompilationError,
    DBTConfigurationError,
    DBTExecutionError,
    DBTJobCancelledError,
    FloeDbtConnectionError,
    FloeDbtForbiddenError,
    FloeDbtNotFoundError,
    FloeDbtUsageError,
)
from floe_dbt.models import (
    DBTRunResult,
    JobFinishedEvent,
    JobStatus,
    NodeFinishedEvent,
    ProjectLintResult,
)


def test_build_streams_events_and_returns_a_run_result(built, project: Path):
    result, events = built
    assert isinstance(result, DBTRunResult)
    assert result.success and result.failures == 0
    assert result.models_run == 5
    assert result.manifest_path.name == "manifest.json"
    assert result.manifest_path.exists()
    finished = [e for e in events if isinstance(e, NodeFinishedEvent)]
    models = {e.name for e in finished if e.resource_type == "model"}
    assert {"customers", "orders"} <= models
    assert isinstance(events[-1], JobFinishedEvent) and events[-1].success
    # every event exactly once
    keys = [(e.type, getattr(e, "unique_id", None), e.ts) for e in events]
    assert len(keys) == len(set(keys))


def test_jobs_job_and_artifacts(client: FloeDbtClient, built, project: Path):
    jobs = client.jobs(status="succeeded")
    assert jobs, "the build job is listed"
    job = client.job(jobs[0].id)
    assert job.status == JobStatus.SUCCEEDED
    manifest = client.artifact(job.id, "manifest")
    assert any(k.startswith("model.jaffle_duck.") for k in manifest["nodes"])
    run_results = client.artifact(job.id, "run_results.json")
    assert run_results["results"]
    with pytest.raises(FloeDbtUsageError) as e:
        client.artifact(job.id, "secrets")
    assert "secrets" in e.value.message and e.value.hint
    with pytest.raises(FloeDbtNotFoundError):
        client.job("no-such-job")


def test_project_manifest_and_run_results(client: FloeDbtClient, built, project: Path):
    manifest = client.manifest(project)
    assert "model.jaffle_duck.customers" in manifest["nodes"]
    rr = client.run_results(project)
    assert {r["unique_id"] for r in rr["results"]} >= {"model.jaffle_duck.customers"}


def test_idempotent_resubmit_returns_the_first_job(client: FloeDbtClient, built, project: Path):
    key = "py-" + secrets.token_hex(8)
    first = client.submit("compile", project, select="customers", idempotency_key=key)
    again = client.submit("compile", project, select="customers", idempotency_key=key)
    assert again.id == first.id
    assert again.idempotency_key == key
    other = client.submit("compile", project, select="customers")
    assert other.id != first.id
    for j in (first, other):
        assert isinstance(client.wait(j.id, timeout=600), DBTRunResult)


def test_cancel_a_job(client: FloeDbtClient, built, project: Path):
    running = client.submit("build", project)
    queued = client.submit("build", project)
    after = client.cancel(queued.id)
    assert after.id == queued.id
    with pytest.raises(DBTJobCancelledError) as e:
        client.wait(queued.id, timeout=600)
    assert e.value.code == "FLOE-DBT-E008"
    assert client.job(queued.id).status == JobStatus.CANCELLED
    client.wait(running.id, timeout=600)


def test_lint_returns_a_project_lint_result(client: FloeDbtClient, built, project: Path):
    result = client.run("lint", project, timeout=600)
    assert isinstance(result, ProjectLintResult)
    assert result.total_issues == len(result.issues)
    assert result.errors + result.warnings + result.infos == result.total_issues


def test_error_classes_from_failed_jobs(client: FloeDbtClient, built, root: Path):
    broken = copy_example(root / "broken")
    # E003: a target the profile does not have
    with pytest.raises(DBTConfigurationError) as e3:
        client.run("compile", broken, target="nope", timeout=600)
    assert e3.value.code == "FLOE-DBT-E003" and "nope" in e3.value.message
    # E002: a model whose SQL fails in DuckDB
    (broken / "models" / "bad_sql.sql").write_text("select * from no_such_table_anywhere\n")
    with pytest.raises(DBTExecutionError) as e2:
        client.run("run", broken, select="bad_sql", timeout=600)
    assert e2.value.code == "FLOE-DBT-E002"
    assert e2.value.job is not None and e2.value.job.status == JobStatus.FAILED
    # E001: Jinja that does not compile
    (broken / "models" / "bad_sql.sql").write_text("select {{ ref( }}\n")
    with pytest.raises(DBTCompilationError) as e1:
        client.run("compile", broken, timeout=600)
    assert e1.value.code == "FLOE-DBT-E001"
    assert "bad_sql" in str(e1.value)


def test_job_options_reach_dbt(client: FloeDbtClient, built, root: Path):
    proj = copy_example(root / "options")
    (proj / "models" / "vars_probe.sql").write_text(
        "select '{{ var(\"greeting\", \"none\") }}' as greeting\n"
    )
    job = client.submit(
        "run", proj, select="vars_probe", vars={"greeting": "hi"}, threads=1,
        fail_fast=True, timeout_seconds=600,
    )  # fmt: skip
    result = client.wait(job.id, timeout=600)
    assert result.success and result.models_run == 1
    rr = client.artifact(job.id, "run_results")
    assert rr["args"]["vars"] == {"greeting": "hi"}
    assert rr["args"]["threads"] == 1
    assert "'hi' as greeting" in rr["results"][0]["compiled_code"]
    # YAML text is accepted as dbt takes it
    again = client.submit("run", proj, select="vars_probe", vars="greeting: yo")
    client.wait(again.id, timeout=600)
    rr2 = client.artifact(again.id, "run_results")
    assert "'yo' as greeting" in rr2["results"][0]["compiled_code"]
    with pytest.raises(TypeError, match="no_such_option"):
        client.submit("run", proj, no_such_option=1)


def test_bad_requests_raise_usage_and_forbidden(daemon: Daemon, client: FloeDbtClient, root: Path):
    with pytest.raises(FloeDbtUsageError) as e:
        client.submit("dance", root / "jaffle")
    assert "command" in e.value.message
    with pytest.raises(FloeDbtForbiddenError):
        client.submit("compile", "/etc")
    with FloeDbtClient(daemon.url, token="wrong-token-wrong-token") as bad:
        with pytest.raises(FloeDbtForbiddenError) as e2:
            bad.jobs()
    assert e2.value.status == 401


def test_token_file_discovery(daemon: Daemon, monkeypatch, tmp_path: Path):
    # The daemon's own state directory: its daemon.json names it (pid, port).
    state = daemon.state_dir
    (state / "token").write_text(daemon.token + "\n")
    (state / "token").chmod(0o600)
    monkeypatch.setenv("FLOE_STATE_DIR", str(state))
    monkeypatch.delenv("FLOE_DBT_TOKEN", raising=False)
    monkeypatch.delenv("FLOE_DBT_TOKEN_FILE", raising=False)
    monkeypatch.setenv("FLOE_DBT_URL", daemon.url)
    with FloeDbtClient() as c:
        assert c.url == daemon.url
        assert c.token is None  # none of the caller's: the daemon's is looked up
        assert isinstance(c.jobs(), list)  # the daemon requires the token
    # a non-loopback URL never reads the local token file
    with FloeDbtClient("http://192.0.2.1:8686") as far:
        assert far.token is None


def test_unreachable_agent_raises_after_retries(tmp_path: Path):
    with FloeDbtClient("http://127.0.0.1:9", token="x" * 20, retries=2, backoff=0.01) as c:
        with pytest.raises(FloeDbtConnectionError) as e:
            c.jobs()
    assert "127.0.0.1:9" in e.value.message and e.value.hint


def test_async_client_run_and_events(daemon: Daemon, built, project: Path):
    async def go():
        seen: list = []
        async with AsyncFloeDbtClient(daemon.url, token=daemon.token) as c:
            result = await c.run("compile", project, select="orders", on_event=seen.append)
            jobs = await c.jobs()
            return result, seen, jobs

    result, seen, jobs = asyncio.run(go())
    assert isinstance(result, DBTRunResult) and result.success
    assert seen[0].type == "job_started" and seen[-1].type == "job_finished"
    assert jobs


def test_wait_reconnects_after_the_daemon_restarts(tmp_path: Path):
    """Kill the daemon mid-job and start it again on the same port: ``wait``
    reconnects, delivers each event once, and reports how the job ended."""
    root = tmp_path / "r"
    root.mkdir()
    proj = copy_example(root / "p")
    d = Daemon(root, "t-" + secrets.token_hex(16)).start()
    seen: list = []
    outcome: dict = {}
    try:
        c = FloeDbtClient(d.url, token=d.token, backoff=0.2, retries=3)
        job = c.submit("build", proj)

        def waiter():
            try:
                outcome["result"] = c.wait(job.id, on_event=seen.append, timeout=600)
            except Exception as e:  # noqa: BLE001 - the test inspects it
                outcome["error"] = e

        t = threading.Thread(target=waiter)
        t.start()
        for _ in range(1200):
            if any(e.type == "job_started" for e in seen) or not t.is_alive():
                break
            threading.Event().wait(0.1)
        assert t.is_alive(), f"the job ended before the restart: {outcome}"
        d.stop(signal.SIGKILL)
        d.start()
        t.join(600)
        assert not t.is_alive()
    finally:
        d.stop()
    err = outcome.get("error")
    assert isinstance(err, DBTExecutionError), outcome
    assert "Interrupted" in err.message
    assert err.job.status == JobStatus.INTERRUPTED
    started = [e for e in seen if e.type == "job_started"]
    assert len(started) == 1


def test_wait_timeout_raises_and_the_job_goes_on(client: FloeDbtClient, built, project: Path):
    from floe_dbt.errors import DBTExecutionTimeout

    job = client.submit("build", project)
    with pytest.raises(DBTExecutionTimeout) as e:
        client.wait(job.id, timeout=0.3)
    assert e.value.code == "FLOE-DBT-E007" and job.id in e.value.message
    assert isinstance(client.wait(job.id, timeout=600), DBTRunResult)


def test_skip_unchanged_reuses_through_the_daemon(client: FloeDbtClient, root: Path):
    proj = copy_example(root / "skip")
    first = client.wait(client.submit("build", proj).id, timeout=600)
    assert first.success and "reused" not in first.metadata
    job = client.submit("build", proj, skip_unchanged=True)
    result = client.wait(job.id, timeout=600)
    assert result.success
    reused = result.metadata["reused"]
    rebuilt = result.metadata["rebuilt"]
    # The seed and the model reading only it are unchanged; the models over
    # the CSV files (external sources: no data version) are always rebuilt.
    assert "seed.jaffle_duck.raw_payments" in reused
    assert "model.jaffle_duck.stg_payments" in reused
    assert rebuilt["model.jaffle_duck.stg_orders"].startswith("source has no freshness signal: ")
    assert result.models_run == len([u for u in rebuilt if u.startswith("model.")])
