"""Schemathesis against the OpenAPI spec, on the ASGI app with valid credentials: whatever it
generates, no route answers 500. Bounded: a few examples per operation (about a minute)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from sangsach.backend.app import create_app
from sangsach.config import BackendSettings
from tests.harness import ADMIN, GATEWAY, WEBHOOK

EXAMPLES = 100


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data = tmp_path_factory.mktemp("fuzz")
    return create_app(BackendSettings(data_dir=Path(data), ingest_rate_per_s=0))


def credentials(path: str) -> dict[str, str]:
    """The admin token everywhere, but ingest takes a gateway's and the webhook its secret."""
    if path == "/api/v1/ingest":
        return GATEWAY
    if path == "/api/v1/sms/inbound":
        return {**ADMIN, **WEBHOOK}
    return ADMIN


def test_no_operation_answers_500(fuzzed_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), results  # the spec itself is valid
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 20  # the whole API, not an empty spec

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
            derandomize=True,
            database=None,
        )
        def no_500(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(headers=credentials(case.path), checks=[not_a_server_error])

        no_500()
