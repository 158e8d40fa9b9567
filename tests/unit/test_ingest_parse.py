"""The ingest body parsed in one pass from its bytes accepts what FastAPI's own parsing accepts.

FastAPI decodes the JSON and validates the dicts; ``parse_batch`` validates the bytes. A batch
the fast way takes must be the very batch FastAPI would have made; anything it refuses goes
FastAPI's way (so bad input is reported as before, tests/integration/test_backend_api.py).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from sangsach.backend.api.ingest import parse_batch
from sangsach.backend.api.schemas import IngestBatch

FASTAPI_WAY = TypeAdapter(IngestBatch)
LAMP = {"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 2, "seq": 1, "ts": 1_780_000_000,
        "on": True, "current_a": 0.18, "received_at": 1_780_000_000.5}  # fmt: skip
BIN = {"id": "bin-dong-ha-01", "kind": "bin", "boot": 0, "seq": 7, "ts": 1_780_000_000,
       "synced": False, "fill_pct": 80.5, "temp_c": 30, "received_at": 1_780_000_001}  # fmt: skip
STATUS = {"id": "bin-dong-ha-01", "state": "online", "ts": 1_780_000_000, "received_at": 5.0}
REJECTION = {"id": "schema:x:1", "topic": "sangsach/v1/x/telemetry", "reason": "schema",
             "detail": "d", "payload": "{}", "payload_bytes": 2, "received_at": 1.0}  # fmt: skip

# Values of every JSON type, and the awkward ones: numbers as floats or huge, text for numbers.
_odd = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
    | st.sampled_from(["", "1", "lamp", "bin", "online", "schema", "1.5", "\u00e9", "\ud800"])
)  # fmt: skip


def _changed(message: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.sampled_from([*message, "extra"])
    return st.dictionaries(keys, _odd, max_size=2).map(lambda change: {**message, **change})


_batches = st.fixed_dictionaries(
    {
        "gateway": st.sampled_from(["gw-1", "gw 1", ""]),
        "readings": st.lists(_changed(LAMP) | _changed(BIN), max_size=3),
        "statuses": st.lists(_changed(STATUS), max_size=2),
        "rejections": st.lists(_changed(REJECTION), max_size=2),
    }
)


def _fastapi_way(body: bytes) -> IngestBatch | None:
    try:
        return FASTAPI_WAY.validate_python(json.loads(body), from_attributes=True)
    except (ValidationError, ValueError):
        return None


@given(_batches)
def test_a_batch_parsed_from_its_bytes_is_the_batch_fastapi_makes(batch: dict[str, Any]) -> None:
    body = json.dumps(batch).encode()
    parsed = parse_batch(body)
    if isinstance(parsed, IngestBatch):
        assert parsed == _fastapi_way(body)
    else:  # refused: FastAPI validates the decoded JSON itself
        assert json.dumps(parsed) == json.dumps(json.loads(body))


def test_valid_batches_take_the_fast_way() -> None:
    body = json.dumps({"gateway": "gw-1", "readings": [LAMP, BIN], "statuses": [STATUS],
                       "rejections": [REJECTION]}).encode()  # fmt: skip
    parsed = parse_batch(body)
    assert isinstance(parsed, IngestBatch)
    assert parsed == _fastapi_way(body)
    assert [r.kind for r in parsed.readings] == ["lamp", "bin"]


def test_each_kinds_measured_values_are_its_fields_in_their_order() -> None:
    """The ingest takes a reading's values with one dict display a kind (``MEASURED``): the
    fields of ``FIELDS``, in its order, each read from the reading's own attribute, on both the
    fast path's classes and the models."""
    from sangsach.backend.domain.readings import FIELDS
    from sangsach.backend.ingest import MEASURED

    assert MEASURED.keys() == FIELDS.keys()
    for body in (LAMP, BIN):
        batch = parse_batch(json.dumps({"gateway": "gw-1", "readings": [body]}).encode())
        fast = parse_batch(
            json.dumps({"gateway": "gw-1", "letters": "gateway", "readings": [body]}).encode()
        )
        for reading in (batch.readings[0], fast.readings[0]):
            values = MEASURED[reading.kind](reading)
            assert list(values) == list(FIELDS[reading.kind])
            assert values == {name: getattr(reading, name) for name in FIELDS[reading.kind]}
