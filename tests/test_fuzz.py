"""The fuzz run (issue 9): schemathesis generates requests from the served
OpenAPI document, for every operation, and each answer must be no server error
(but the documented 502/503/504 of a failing upstream) and conform to the
document: a documented status, content type and body schema.

The gateway runs in-process (WSGI) in front of the fake Resemble over real
HTTP; uploads land in the test's tmp dir. Deterministic (derandomized, no
database) and bounded: ``MAX_EXAMPLES`` per operation and generation mode,
plus schemathesis' coverage cases, over 1,000 cases a run.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from example_app import create_app
from tests.conftest import ALICE, gateway_config

P = "/api/v1/resemble"
#: Generated cases per operation and mode (positive, negative), coverage aside.
MAX_EXAMPLES = 15
#: The least a run must send, over every operation.
MIN_CASES = 1000
#: Statuses a route that calls Resemble may answer, where it documents them.
UPSTREAM_FAILURES = (502, 503, 504)


def _document() -> dict[str, Any]:
    """The served document. Loaded at import because schemathesis parametrizes
    at collection (its ``from_fixture`` loader fails on pytest 9.2); nothing
    is stored and no upstream is called, so any base URL will do."""
    app = create_app(
        {
            **gateway_config("http://127.0.0.1:9"),
            "INDOX_MEDIA_LOCAL_ROOT": "/nonexistent",
            "TESTING": True,
        }
    )
    doc: dict[str, Any] = app.test_client().get(f"{P}/openapi.json").get_json()
    return doc


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            }
        }
    ),
)
#: Cases sent, by operation.
SENT: Counter[str] = Counter()


def no_undocumented_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """``not_a_server_error``, but for the documented upstream failures."""
    status = response.status_code
    documented = case.operation.definition.raw["responses"]
    if status in UPSTREAM_FAILURES and str(status) in documented:
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    no_undocumented_server_error,
]


@schema.parametrize()
# One gateway per operation, shared by its cases, is the point (state builds
# up as a client's would), not a mistake.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzz(case: Any, gateway: Flask) -> None:
    SENT[case.operation.label] += 1
    response = case.call(app=gateway, headers=ALICE)
    case.validate_response(response, checks=CHECKS)


def test_the_run_is_large_enough() -> None:
    """Every operation was fuzzed, with 1,000 cases or more in all (skipped
    when only some of the fuzz tests were selected)."""
    operations = {
        f"{method.upper()} {path}"
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    if not operations <= set(SENT):
        pytest.skip("not every operation's fuzz test ran")
    assert sum(SENT.values()) >= MIN_CASES, SENT
