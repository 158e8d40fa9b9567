"""The backend's fast batch path accepts exactly what ``IngestBatch`` accepts, nothing more.

``fastbatch.decode`` must give readings whose every field equals the model's (value and type)
for what it takes, and decline the rest (the models then decide).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sangsach.backend.api import fastbatch
from sangsach.backend.api.schemas import IngestBatch
from tests.unit.test_fastreading import candidate


def body(readings: list[Any], **batch: Any) -> bytes:
    return json.dumps(
        {"gateway": "gw-1", "letters": "gateway", "readings": readings, **batch}
    ).encode()


def models(raw: bytes) -> IngestBatch | None:
    try:
        return IngestBatch.model_validate_json(raw)
    except ValidationError:
        return None


def assert_same(fast: IngestBatch, expected: IngestBatch) -> None:
    assert (fast.gateway, fast.letters, fast.statuses, fast.rejections, fast.key, fast.after) == (
        expected.gateway, expected.letters, expected.statuses, expected.rejections, expected.key,
        expected.after,
    )  # fmt: skip
    assert len(fast.readings) == len(expected.readings)
    for got, want in zip(fast.readings, expected.readings, strict=True):
        assert got.kind == want.kind
        for name in type(want).model_fields:
            mine, theirs = getattr(got, name), getattr(want, name)
            assert (mine, type(mine)) == (theirs, type(theirs)), name


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(candidate(), st.sampled_from([1_780_000_000.25, 5, -1.0, "x", None]))
def test_the_fast_path_takes_nothing_the_models_refuse_and_reads_as_they_do(
    item: dict[str, Any], received_at: Any
) -> None:
    raw = body([{**item, "received_at": received_at}])
    fast = fastbatch.decode(raw)
    if fast is not None:
        expected = models(raw)
        assert expected is not None, f"the fast path took what the models refuse: {raw!r}"
        assert_same(fast, expected)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(candidate())
def test_every_batch_the_models_accept_takes_the_fast_path(item: dict[str, Any]) -> None:
    """Not required for correctness, but the point: valid readings never pay for the models."""
    raw = body([{**item, "received_at": 1_780_000_000.5}])
    if models(raw) is not None:
        assert fastbatch.decode(raw) is not None, raw


LAMP = {"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": 2, "ts": 1_780_000_000,
        "on": True, "current_a": 0.18, "voltage_v": 221, "received_at": 1_780_000_000.5}  # fmt: skip


@pytest.mark.parametrize(
    "raw",
    [
        body([LAMP], letters="backend"),  # the backend makes the letters: it needs the models
        body([LAMP], statuses=[{"id": "lamp-dong-ha-001"}]),
        body([LAMP], rejections=[{"id": "x"}]),
        body([LAMP], gateway="gw\n"),
        body([LAMP], gateway="a" * 33),
        body([LAMP], extra=1),
        body([{**LAMP, "id": "lamp-dong-ha-001\n"}]),
        body([{**LAMP, "seq": 2**31}]),
        body([{**LAMP, "sensor_errors": ["lux", "lux"]}]),
        body([{**LAMP, "ts": 1_000, "synced": True}]),
        body([LAMP, {**LAMP, "kind": "pump"}]),
        b'{"gateway": "gw-1", "letters": "gateway", "readings": [' + b"1" * 30 + b"]}",
        b"not json",
        body([LAMP], key="A1"),  # a batch's key: lower-case hex, 1 to 32 digits
        body([LAMP], key=""),
        body([LAMP], after="0" * 33),
        body([LAMP], after="ab\n"),
        body([LAMP], after=7),
        # a reading nested deeper than msgspec recurses (it looks for the kind everywhere)
        body([LAMP]).replace(
            b'"readings": [', b'"readings": [{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}, "
        ),
    ],
)
def test_what_the_fast_path_leaves_to_the_models(raw: bytes) -> None:
    assert fastbatch.decode(raw) is None


def test_a_batch_of_both_kinds_reads_as_the_models_read_it() -> None:
    bin_ = {"id": "bin-an-01", "kind": "bin", "boot": 0, "seq": 1, "ts": 1_780_000_000,
            "fill_pct": None, "temp_c": 80, "sensor_errors": ["ultrasonic"], "received_at": 7}  # fmt: skip
    raw = body([LAMP, bin_, {**LAMP, "seq": 3, "fault": True, "rssi": -70}])
    fast, expected = fastbatch.decode(raw), models(raw)
    assert fast is not None and expected is not None
    assert_same(fast, expected)


@settings(max_examples=300)
@given(*[st.none() | st.text(max_size=34) | st.from_regex(r"[0-9a-f]{1,33}", fullmatch=True)] * 2)
def test_a_batchs_key_and_after_read_as_the_models_read_them(key: Any, after: Any) -> None:
    order = {name: v for name, v in (("key", key), ("after", after)) if v is not None}
    raw = body([LAMP], **order)
    fast, expected = fastbatch.decode(raw), models(raw)
    assert (fast is None) == (expected is None), raw  # the same answer both ways
    if fast is not None and expected is not None:
        assert_same(fast, expected)


def test_a_batch_naming_the_one_it_follows_takes_the_fast_path() -> None:
    raw = body([LAMP], key="0123456789abcdef", after="fedcba9876543210")
    fast, expected = fastbatch.decode(raw), models(raw)
    assert fast is not None and expected is not None
    assert (fast.key, fast.after) == ("0123456789abcdef", "fedcba9876543210")
    assert_same(fast, expected)
