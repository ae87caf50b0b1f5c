"""Drive a real floe-dbt daemon through a client that openapi-python-client
generated from docs/openapi.json (tests/openapi_clients_test.ts generates and
installs it, then runs this script).

Usage: drive_python_client.py BASE_URL PROJECT_DIR (the token in FLOE_TOKEN).
Submits a build of the project (but its `slow` model) and reads it back as a parsed Job, lists jobs,
reads run_results (the job's artifact and the project's latest), submits a
slow run and cancels it with a body-less POST. Every step checks what it got
with assert; the last line printed is a JSON summary the Deno test checks too.
"""

import json
import os
import sys
import time

from floe_dbt_agent_client import AuthenticatedClient
from floe_dbt_agent_client.api.default import (
    cancel_job,
    get_job,
    get_job_artifact,
    get_run_results,
    list_jobs,
    submit_job,
)
from floe_dbt_agent_client.models import (
    DbtArtifact,
    Error,
    GetJobArtifactName,
    Job,
    JobList,
    JobRequest,
    JobRequestCommand,
    JobStatus,
    RunResult,
)

FINAL = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED}


def wait(client: AuthenticatedClient, job_id: str) -> Job:
    """The job once it has ended (the Deno test's timeout bounds the wait)."""
    while True:
        job = get_job.sync(job_id, client=client)
        assert isinstance(job, Job), job
        if job.status in FINAL:
            return job
        time.sleep(0.2)


def main() -> None:
    base_url, project_dir = sys.argv[1], sys.argv[2]
    # What the generated client puts on the wire, request by request.
    sent: list[dict] = []

    def record(request) -> None:
        sent.append(
            {
                "method": request.method,
                "path": request.url.path,
                "content_type": request.headers.get("content-type"),
                "content_length": request.headers.get("content-length"),
            }
        )

    client = AuthenticatedClient(
        base_url=base_url,
        token=os.environ["FLOE_TOKEN"],
        raise_on_unexpected_status=True,
        httpx_args={"event_hooks": {"request": [record]}},
    )
    summary: dict = {}
    with client as c:
        # Submit a build: 202 and a parsed Job.
        submitted = submit_job.sync_detailed(
            client=c,
            body=JobRequest(
                command=JobRequestCommand.BUILD,
                project_dir=project_dir,
                exclude="slow",
            ),
        )
        assert submitted.status_code == 202, submitted.content
        job = submitted.parsed
        assert isinstance(job, Job), submitted.content
        assert job.request.command == JobRequestCommand.BUILD
        summary["submitted_status"] = str(job.status)

        # Read it back until it ends: the result is a parsed RunResult.
        done = wait(c, job.id)
        assert done.status == JobStatus.SUCCEEDED, done.error
        assert isinstance(done.result, RunResult), done.result
        summary["build"] = {
            "status": str(done.status),
            "models_run": done.result.models_run,
            "tests_run": done.result.tests_run,
            "success": done.result.success,
        }

        # List jobs: the build is there, also when filtering on its state.
        page = list_jobs.sync(client=c)
        assert isinstance(page, JobList), page
        succeeded = list_jobs.sync(client=c, status=JobStatus.SUCCEEDED)
        assert isinstance(succeeded, JobList), succeeded
        summary["listed"] = [j.id for j in page.jobs]
        summary["listed_succeeded"] = [j.id for j in succeeded.jobs]
        summary["job_id"] = job.id

        # run_results: the job's own artifact and the project's latest.
        own = get_job_artifact.sync(job.id, GetJobArtifactName.RUN_RESULTS, client=c)
        assert isinstance(own, DbtArtifact), own
        latest = get_run_results.sync(client=c, project_dir=project_dir)
        assert isinstance(latest, DbtArtifact), latest
        summary["run_results"] = {
            "job_results": len(own["results"]),
            "project_results": len(latest["results"]),
            "job_statuses": sorted({r["status"] for r in own["results"]}),
        }

        # An artifact name outside the enum never leaves the client; an
        # unknown job is a parsed Error.
        missing = get_job.sync_detailed("no-such-job", client=c)
        assert missing.status_code == 404 and isinstance(missing.parsed, Error)
        summary["missing_code"] = missing.parsed.code

        # Submit a slow run, cancel it at once (a POST with no body).
        slow = submit_job.sync(
            client=c,
            body=JobRequest(command=JobRequestCommand.RUN, project_dir=project_dir, select="slow"),
        )
        assert isinstance(slow, Job), slow
        cancelled = cancel_job.sync_detailed(slow.id, client=c)
        assert cancelled.status_code == 202, cancelled.content
        assert isinstance(cancelled.parsed, Job), cancelled.content
        end = wait(c, slow.id)
        summary["cancel"] = {
            "answer_status": str(cancelled.parsed.status),
            "final_status": str(end.status),
            "error_code": end.error.code if end.error else None,
            "request": next(r for r in sent if r["path"].endswith("/cancel")),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
