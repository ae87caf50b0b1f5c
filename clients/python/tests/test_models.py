"""The models cannot drift from the agent: field by field against the
checked-in OpenAPI document (docs/openapi.json)."""

from __future__ import annotations

import json
import typing

import pytest
from pydantic import BaseModel

from conftest import REPO
from floe_dbt import models as m

DOC = json.loads((REPO / "docs" / "openapi.json").read_text())
SCHEMAS = DOC["components"]["schemas"]


def _types(schema: dict, defs: dict) -> frozenset:
    """The JSON types a schema allows ({'const': v} for a constant)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return _types(defs[name], defs)
    if "const" in schema:
        return frozenset({("const", schema["const"])})
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return frozenset().union(*(_types(s, defs) for s in schema[key]))
    t = schema.get("type")
    if isinstance(t, list):
        return frozenset(t)
    if t is None and "enum" in schema:
        return frozenset({"string"})
    if t is None and ("properties" in schema or schema.get("additionalProperties") is not None):
        return frozenset({"object"})
    if t is None:
        return frozenset({"any"})
    return frozenset({t})


def _fields(schema: dict, defs: dict) -> dict[str, frozenset]:
    return {k: _types(v, defs) for k, v in schema["properties"].items()}


def _model_fields(model: type[BaseModel]) -> dict[str, frozenset]:
    schema = model.model_json_schema()
    return _fields(schema, schema.get("$defs", {}))


PAIRS = [
    (m.DBTRunResult, "RunResult"),
    (m.LintIssue, "LintIssue"),
    (m.ProjectLintResult, "LintResult"),
    (m.Job, "Job"),
    (m.JobSummary, "JobSummary"),
]


def test_job_request_has_the_agents_fields():
    # Optional request fields are absent rather than null in the agent's
    # schema, so only the names are compared here.
    assert set(m.JobRequest.model_fields) == set(SCHEMAS["JobRequest"]["properties"])
    command = SCHEMAS["JobRequest"]["properties"]["command"]["enum"]
    assert set(m.Command.__args__) == set(command)


@pytest.mark.parametrize("model,name", PAIRS, ids=[n for _, n in PAIRS])
def test_model_matches_openapi(model: type[BaseModel], name: str):
    spec = SCHEMAS[name]
    want = _fields(spec, SCHEMAS)
    got = _model_fields(model)
    assert set(got) == set(want), f"{model.__name__} fields differ from {name}"
    for field, types in want.items():
        if "any" in types:
            continue
        assert got[field] == types, f"{model.__name__}.{field}: {got[field]} != {types}"
    # the model never rejects a valid answer: what it requires, the agent always sends
    for field, info in model.model_fields.items():
        if info.is_required():
            assert field in spec.get("required", []), f"{name}.{field} is optional in the agent"


def test_progress_events_match_openapi():
    named = [  # the variants are named components ($ref), as generators want
        SCHEMAS[v["$ref"].rsplit("/", 1)[1]] if "$ref" in v else v
        for v in SCHEMAS["ProgressEvent"]["oneOf"]
    ]
    variants = {v["properties"]["type"]["const"]: v for v in named}
    ours = {
        typing.get_args(cls.model_fields["type"].annotation)[0]: cls
        for cls in typing.get_args(typing.get_args(m.ProgressEvent)[0])
    }
    assert set(ours) == set(variants)
    for kind, spec in variants.items():
        want = _fields(spec, SCHEMAS)
        got = _model_fields(ours[kind])
        assert set(got) == set(want), kind
        for field, types in want.items():
            assert got[field] == types, f"{kind}.{field}: {got[field]} != {types}"


@pytest.mark.parametrize(
    "enum,name", [(m.JobStatus, "JobStatus"), (m.LintSeverity, "LintSeverity")]
)
def test_enums_match_openapi(enum, name):
    assert [e.value for e in enum] == SCHEMAS[name]["enum"]


def test_error_classes_cover_every_code_the_agent_documents():
    from floe_dbt.errors import CODES

    src = (REPO / "src" / "contract" / "errors.ts").read_text()
    import re

    documented = set(re.findall(r'"(FLOE-DBT-E\d{3})"', src))
    assert documented and documented == set(CODES)


def test_parse_event_and_result_round_trip():
    ev = m.parse_event('{"v":1,"type":"log","level":"info","message":"hi","ts":"t"}')
    assert isinstance(ev, m.LogEvent) and ev.message == "hi"
    lint = m.parse_result({"total_issues": 0, "errors": 0, "warnings": 0, "infos": 0, "issues": [], "passed": True})
    assert isinstance(lint, m.ProjectLintResult)
