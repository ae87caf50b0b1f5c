"""The agent's errors as Python exceptions, one class per stable code.

Every exception carries ``code`` (``FLOE-DBT-E0xx``), ``message`` and
``hint`` exactly as the agent sent them; ``error_from_body`` picks the class.
"""

from typing import Any

__all__ = [
    "FloeDbtError",
    "DBTCompilationError",
    "DBTExecutionError",
    "DBTConfigurationError",
    "DBTLintError",
    "DBTFusionNotFoundError",
    "DBTAdapterUnavailableError",
    "DBTExecutionTimeout",
    "DBTJobCancelledError",
    "DBTRemoteAPIError",
    "FloeDbtUsageError",
    "FloeDbtForbiddenError",
    "FloeDbtNotFoundError",
    "FloeDbtArtifactPrunedError",
    "FloeDbtUnavailableError",
    "FloeDbtConnectionError",
    "error_from_body",
    "CODES",
]


class FloeDbtError(Exception):
    """Base of every floe-dbt error: ``code``, ``message``, ``hint``."""

    code: str = "FLOE-DBT-E000"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        hint: str | None = None,
        status: int | None = None,
        job: Any = None,
    ) -> None:
        self.message = message
        if code is not None:
            self.code = code
        self.hint = hint
        self.status = status
        self.job = job
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.code} {self.message}"
        return f"{text}: {self.hint}" if self.hint else text

    @property
    def result(self) -> Any:
        """The job's result, when the error came from a finished job that has one."""
        return getattr(self.job, "result", None)


class DBTCompilationError(FloeDbtError):
    """FLOE-DBT-E001: compilation failed (Jinja, SQL templating, parse)."""

    code = "FLOE-DBT-E001"


class DBTExecutionError(FloeDbtError):
    """FLOE-DBT-E002: execution failed (a model errored, a test failed, dbt crashed)."""

    code = "FLOE-DBT-E002"


class DBTConfigurationError(FloeDbtError):
    """FLOE-DBT-E003: configuration (dbt_project.yml, profiles.yml, manifest.yaml)."""

    code = "FLOE-DBT-E003"


class DBTLintError(FloeDbtError):
    """FLOE-DBT-E004: the lint process failed (not: the SQL has findings)."""

    code = "FLOE-DBT-E004"


class DBTFusionNotFoundError(FloeDbtError):
    """FLOE-DBT-E005: the dbt Fusion binary was not found."""

    code = "FLOE-DBT-E005"


class DBTAdapterUnavailableError(FloeDbtError):
    """FLOE-DBT-E006: the adapter is unavailable on this runtime."""

    code = "FLOE-DBT-E006"


class DBTExecutionTimeout(FloeDbtError):
    """FLOE-DBT-E007: timed out (lock wait, remote run, deadline, or waiting here)."""

    code = "FLOE-DBT-E007"


class DBTJobCancelledError(FloeDbtError):
    """FLOE-DBT-E008: the job was cancelled."""

    code = "FLOE-DBT-E008"


class DBTRemoteAPIError(FloeDbtError):
    """FLOE-DBT-E009: dbt Cloud answered with an error."""

    code = "FLOE-DBT-E009"


class FloeDbtUsageError(FloeDbtError):
    """FLOE-DBT-E010: a bad request (unknown field, wrong value)."""

    code = "FLOE-DBT-E010"


class FloeDbtForbiddenError(FloeDbtError):
    """FLOE-DBT-E011: missing or wrong token, or a project outside the roots."""

    code = "FLOE-DBT-E011"


class FloeDbtNotFoundError(FloeDbtError):
    """FLOE-DBT-E012: no such job or artifact."""

    code = "FLOE-DBT-E012"


class FloeDbtArtifactPrunedError(FloeDbtNotFoundError):
    """FLOE-DBT-E012 with HTTP 410: the job's artifacts were pruned."""


class FloeDbtUnavailableError(FloeDbtError):
    """FLOE-DBT-E013: the agent is shutting down or not ready."""

    code = "FLOE-DBT-E013"


class FloeDbtConnectionError(FloeDbtUnavailableError):
    """The agent could not be reached (after the retries)."""


CODES: dict[str, type[FloeDbtError]] = {
    cls.code: cls
    for cls in (
        DBTCompilationError,
        DBTExecutionError,
        DBTConfigurationError,
        DBTLintError,
        DBTFusionNotFoundError,
        DBTAdapterUnavailableError,
        DBTExecutionTimeout,
        DBTJobCancelledError,
        DBTRemoteAPIError,
        FloeDbtUsageError,
        FloeDbtForbiddenError,
        FloeDbtNotFoundError,
        FloeDbtUnavailableError,
    )
}


def error_from_body(body: Any, status: int | None = None, job: Any = None) -> FloeDbtError:
    """The exception for an agent error body ``{code, message, hint?}``."""
    if not isinstance(body, dict) or "code" not in body:
        return FloeDbtError(
            f"The agent answered HTTP {status}: {str(body)[:300]}",
            status=status,
            job=job,
        )
    code = str(body["code"])
    cls: type[FloeDbtError] = CODES.get(code, FloeDbtError)
    if status == 410 and cls is FloeDbtNotFoundError:
        cls = FloeDbtArtifactPrunedError
    return cls(
        str(body.get("message", "")),
        code=code,
        hint=body.get("hint"),
        status=status,
        job=job,
    )
