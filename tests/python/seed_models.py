"""The seed's result models (ADR-0043), written down as Pydantic v2 models,
and a checker that validates floe-dbt's JSON against them.

The fields and types are the seed's own (DBTRunResult; LintSeverity,
LintIssue, ProjectLintResult, called LintResult in the plugin interface).
The models are strict, so a drifting JSON shape fails here the way it would
fail in a Python orchestrator that loads floe-dbt's output:

- ``extra="forbid"``: the seed lists every field; an unknown one is drift.
- ``strict=True``: no coercion ("3" is not an int, 1 is not a bool).

Usage: ``python seed_models.py run_result|lint_result < document.json``.
Exit 0 when the document validates, 1 when it does not (the errors on
stderr), 2 on a usage error.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

STRICT = ConfigDict(extra="forbid", strict=True)


class LintSeverity(Enum):
    """SQL linting severity levels."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class LintIssue(BaseModel):
    """Individual SQL linting issue."""

    model_config = STRICT

    file_path: str
    line: int
    column: int
    severity: LintSeverity
    rule_code: str
    message: str


class ProjectLintResult(BaseModel):
    """Project-wide SQL linting results."""

    model_config = STRICT

    total_issues: int
    errors: int
    warnings: int
    infos: int
    issues: list[LintIssue]
    passed: bool  # True if no errors (warnings allowed)

    @model_validator(mode="after")
    def counts_match_issues(self) -> ProjectLintResult:
        """The counts describe the issues list; `passed` means no errors."""
        by = {s: 0 for s in LintSeverity}
        for issue in self.issues:
            by[issue.severity] += 1
        expected = {
            "total_issues": len(self.issues),
            "errors": by[LintSeverity.ERROR],
            "warnings": by[LintSeverity.WARNING],
            "infos": by[LintSeverity.INFO],
            "passed": by[LintSeverity.ERROR] == 0,
        }
        for field, value in expected.items():
            if getattr(self, field) != value:
                raise ValueError(
                    f"{field} is {getattr(self, field)!r} but the issues say {value!r}"
                )
        return self


# The plugin interface (REQ-086) names the lint result LintResult.
LintResult = ProjectLintResult


class DBTRunResult(BaseModel):
    """Result of a dbt command execution."""

    model_config = STRICT

    success: bool
    manifest_path: Path
    run_results_path: Path
    catalog_path: Path | None = None
    execution_time_seconds: float
    models_run: int
    tests_run: int
    failures: int
    metadata: dict[str, Any] = Field(default_factory=dict)


MODELS: dict[str, type[BaseModel]] = {
    "run_result": DBTRunResult,
    "lint_result": ProjectLintResult,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in MODELS:
        print(
            f"usage: {argv[0]} {'|'.join(MODELS)} < document.json",
            file=sys.stderr,
        )
        return 2
    model = MODELS[argv[1]]
    try:
        model.model_validate_json(sys.stdin.read())
    except ValidationError as e:
        print(f"not a valid {model.__name__}:\n{e}", file=sys.stderr)
        return 1
    print(f"valid {model.__name__}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
