"""floe-dbt for Python: a typed client of the floe-dbt agent, the floe
``DBTPlugin`` on top of it, and Dagster and Airflow integrations
(``floe_dbt.dagster``, ``floe_dbt.airflow``, installed with the extras)."""

from .client import AsyncFloeDbtClient, FloeDbtClient
from .errors import (
    DBTAdapterUnavailableError,
    DBTCompilationError,
    DBTConfigurationError,
    DBTExecutionError,
    DBTExecutionTimeout,
    DBTFusionNotFoundError,
    DBTLintError,
    FloeDbtError,
)
from .models import (
    DBTRunResult,
    Job,
    JobStatus,
    LintIssue,
    LintSeverity,
    ProgressEvent,
    ProjectLintResult,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncFloeDbtClient",
    "FloeDbtClient",
    "DBTAdapterUnavailableError",
    "DBTCompilationError",
    "DBTConfigurationError",
    "DBTExecutionError",
    "DBTExecutionTimeout",
    "DBTFusionNotFoundError",
    "DBTLintError",
    "FloeDbtError",
    "DBTRunResult",
    "Job",
    "JobStatus",
    "LintIssue",
    "LintSeverity",
    "ProgressEvent",
    "ProjectLintResult",
    "__version__",
]
