"""Pydantic v2 models of what the floe-dbt agent returns.

Field names and types follow the seeds (ADR-0043: ``DBTRunResult``,
``LintIssue``, ``ProjectLintResult``) and the agent's OpenAPI document
(``docs/openapi.json``: ``RunResult``, ``LintResult``, ``Job``,
``ProgressEvent``); a test compares them field by field.
"""

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "DBTRunResult",
    "LintSeverity",
    "LintIssue",
    "ProjectLintResult",
    "LintResult",
    "JobStatus",
    "JobRequest",
    "JobError",
    "JobSummary",
    "Job",
    "ProgressEvent",
    "JobStartedEvent",
    "NodeStartedEvent",
    "NodeFinishedEvent",
    "LogEvent",
    "JobFinishedEvent",
    "parse_event",
    "parse_result",
    "FINAL_STATUSES",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class DBTRunResult(_Model):
    """Result of a dbt command (compile, run, test, seed, build)."""

    success: bool
    manifest_path: Path
    run_results_path: Path
    catalog_path: Path | None = None
    execution_time_seconds: float
    models_run: int
    tests_run: int
    failures: int
    metadata: dict[str, Any] = Field(default_factory=dict)


class LintSeverity(str, Enum):
    """SQL linting severity levels."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class LintIssue(_Model):
    """One SQL linting finding."""

    file_path: str
    line: int
    column: int
    severity: LintSeverity
    rule_code: str
    message: str


class ProjectLintResult(_Model):
    """Project-wide SQL linting results (``passed``: no errors)."""

    total_issues: int
    errors: int
    warnings: int
    infos: int
    issues: list[LintIssue]
    passed: bool


LintResult = ProjectLintResult
"""The name the agent's OpenAPI document uses."""


class JobStatus(str, Enum):
    """Where a daemon job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


FINAL_STATUSES = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED}
)

Command = Literal[
    "compile",
    "run",
    "test",
    "seed",
    "build",
    "snapshot",
    "docs-generate",
    "retry",
    "source-freshness",
    "lint",
]
RuntimeName = Literal["local", "fusion", "cloud"]


class JobRequest(_Model):
    """What a job was asked to do (``POST /v1/jobs`` body)."""

    command: Command
    project_dir: str
    profiles_dir: str | None = None
    target: str | None = None
    select: str | list[str] | None = None
    exclude: str | list[str] | None = None
    full_refresh: bool | None = None
    vars: dict[str, Any] | str | None = None
    threads: int | None = None
    fail_fast: bool | None = None
    selector: str | None = None
    indirect_selection: Literal["eager", "cautious", "buildable", "empty"] | None = None
    changed: bool | None = None
    skip_unchanged: bool | None = None
    skip_stale_sources: bool | None = None
    state: str | None = None
    state_from: Literal["cloud"] | None = None
    fix: bool | None = None
    runtime: RuntimeName | None = None
    timeout_seconds: int | None = None


class JobError(_Model):
    """Why a job failed: a stable ``FLOE-DBT-E0xx`` code and a message."""

    code: str
    message: str
    hint: str | None = None


class JobSummary(_Model):
    """A daemon job as ``GET /v1/jobs`` lists it: everything but the result."""

    id: str
    status: JobStatus
    runtime: RuntimeName
    request: JobRequest
    idempotency_key: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: JobError | None
    remote_run_id: str | None
    remote_nonce: str | None = None
    agent_pid: int | None
    trace_id: str | None = None
    traceparent: str | None = None

    @property
    def done(self) -> bool:
        """True once the job has ended (succeeded, failed, cancelled, interrupted)."""
        return self.status in FINAL_STATUSES


class Job(JobSummary):
    """A daemon job (``GET /v1/jobs/{id}``), with its result once it ended."""

    result: DBTRunResult | ProjectLintResult | None


class JobStartedEvent(_Model):
    """The job began on its runtime."""

    v: Literal[1] = 1
    type: Literal["job_started"]
    command: str
    runtime: str
    ts: str


class NodeStartedEvent(_Model):
    """dbt started a node (model, test, seed...)."""

    v: Literal[1] = 1
    type: Literal["node_started"]
    unique_id: str
    resource_type: str
    name: str
    index: int | None
    total: int | None
    # dbt's thread name; empty when the runtime does not say
    thread: str = ""
    ts: str


class NodeFinishedEvent(_Model):
    """dbt finished a node, with its status and timing."""

    v: Literal[1] = 1
    type: Literal["node_finished"]
    unique_id: str
    resource_type: str
    name: str
    status: str
    execution_time: float | None
    message: str | None
    index: int | None
    total: int | None
    # dbt's thread name; empty when the runtime does not say
    thread: str = ""
    ts: str


class LogEvent(_Model):
    """A log line from the agent or dbt."""

    v: Literal[1] = 1
    type: Literal["log"]
    level: Literal["debug", "info", "warn", "error"]
    message: str
    ts: str


class JobFinishedEvent(_Model):
    """The job ended."""

    v: Literal[1] = 1
    type: Literal["job_finished"]
    success: bool
    ts: str


ProgressEvent = Annotated[
    Union[JobStartedEvent, NodeStartedEvent, NodeFinishedEvent, LogEvent, JobFinishedEvent],
    Field(discriminator="type"),
]
"""One progress event of a job's SSE stream (discriminated by ``type``)."""

_EVENT = TypeAdapter(ProgressEvent)


def parse_event(data: str | bytes | dict[str, Any]) -> Any:
    """Parse one progress event from JSON text or a dict."""
    if isinstance(data, dict):
        return _EVENT.validate_python(data)
    return _EVENT.validate_json(data)


def parse_result(data: dict[str, Any]) -> DBTRunResult | ProjectLintResult:
    """A run result or a lint result, whichever the dict is."""
    if "total_issues" in data:
        return ProjectLintResult.model_validate(data)
    return DBTRunResult.model_validate(data)
