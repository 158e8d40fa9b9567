"""The gateway's pure validation: every rejection carries the right reason and names the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sangsach.contract import Reason
from sangsach.gateway.validate import Incoming, Limits, Validator

NOW = 1_780_000_000.0
TOPIC = "sangsach/v1/lamp-dong-ha-001/telemetry"


def lamp(**changes: Any) -> dict[str, Any]:
    base = {"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 3, "seq": 7, "ts": int(NOW) - 5,
            "on": True, "current_a": 0.18}  # fmt: skip
    return {**base, **changes}


def check(body: object, topic: str = TOPIC, raw: bytes | None = None) -> Any:
    payload = raw if raw is not None else json.dumps(body).encode()
    return Validator(Limits()).check(Incoming(topic, payload, NOW))


def test_valid_reading_is_accepted_with_receive_time() -> None:
    out = check(lamp())
    assert out.rejections == []
    assert out.readings == [{**lamp(), "synced": True, "fault": False, "received_at": NOW}]


def test_unsynced_reading_gets_the_receive_time() -> None:
    out = check(lamp(ts=42, synced=False))
    assert out.readings[0]["ts"] == int(NOW)
    assert out.readings[0]["synced"] is False


@pytest.mark.parametrize(
    ("body", "raw", "topic", "reason", "names"),
    [
        (None, b"{not json", TOPIC, Reason.MALFORMED_JSON, "Expecting property name"),
        (None, b"\xff\xfe", TOPIC, Reason.MALFORMED_JSON, "not UTF-8"),
        ([1, 2], None, TOPIC, Reason.MALFORMED_JSON, "expected a JSON object, got list"),
        (lamp(on="yes"), None, TOPIC, Reason.SCHEMA, "on: Input should be a valid boolean"),
        (lamp(current_a=99), None, TOPIC, Reason.SCHEMA, "current_a: Input should be less than"),
        (lamp(extra=1), None, TOPIC, Reason.SCHEMA, "extra: Extra inputs are not permitted"),
        (lamp(kind="pump"), None, TOPIC, Reason.SCHEMA, "does not match any of the expected tags"),
        (lamp(id="lamp-other-001"), None, TOPIC, Reason.ID_MISMATCH, "'lamp-other-001'"),
        (lamp(ts=int(NOW) + 86_400), None, TOPIC, Reason.FUTURE_TS, "ahead of the gateway clock"),
        (lamp(ts=int(NOW) - 40 * 86_400), None, TOPIC, Reason.STALE_TS, "days old"),
        (lamp(), None, "sangsach/v1/lamp-dong-ha-001/debug", Reason.BAD_TOPIC, "channel"),
        (lamp(), None, "other/lamp-dong-ha-001/telemetry", Reason.BAD_TOPIC, "is not sangsach/v1"),
        (lamp(), None, "sangsach/v1/lamp-dong-ha-001/cmd", Reason.BAD_TOPIC, "to nodes"),
        (None, b"{" + b" " * 70_000 + b"}", TOPIC, Reason.OVERSIZED, "70002 bytes"),
    ],
)
def test_rejections_name_reason_and_field(
    body: object, raw: bytes | None, topic: str, reason: Reason, names: str
) -> None:
    out = check(body, topic, raw)
    assert out.readings == []
    assert len(out.rejections) == 1
    rejection = out.rejections[0]
    assert rejection.reason is reason
    assert names in rejection.detail
    assert rejection.topic == topic
    assert rejection.payload_bytes == len(raw if raw is not None else json.dumps(body).encode())


def test_nan_and_infinity_are_rejected_not_stored() -> None:
    raw = json.dumps(lamp()).replace('"current_a": 0.18', '"current_a": NaN').encode()
    out = check(None, raw=raw)
    assert out.rejections[0].reason is Reason.SCHEMA
    assert "current_a: Input should be a finite number" in out.rejections[0].detail


def test_batch_keeps_good_readings_and_rejects_each_bad_one() -> None:
    batch = {"readings": [lamp(seq=1), lamp(seq=2, lux=-1), lamp(seq=3)], "dropped": 4}
    out = check(batch)
    assert [r["seq"] for r in out.readings] == [1, 3]
    assert len(out.rejections) == 1
    assert out.rejections[0].detail.startswith("readings[1].lux: Input should be greater")
    assert out.dropped == 4


def test_two_bad_readings_in_one_batch_are_two_dead_letters() -> None:
    out = check({"readings": [lamp(seq=1, lux=-1), lamp(seq=2, lux=-2)]})
    assert len({r.id for r in out.rejections}) == 2


def test_same_bad_message_twice_is_one_dead_letter_id() -> None:
    first, second = check(lamp(on=1)), check(lamp(on=1))
    assert first.rejections[0].id == second.rejections[0].id


@pytest.mark.parametrize(
    "batch",
    [
        {"readings": []},
        {"readings": "x"},
        {"readings": [lamp()], "more": 1},
        {"readings": [lamp()], "dropped": -1},
    ],
)
def test_malformed_batch_envelope_is_a_schema_rejection(batch: dict[str, Any]) -> None:
    out = check(batch)
    assert out.readings == []
    assert out.rejections[0].reason is Reason.SCHEMA


def test_status_birth_and_will() -> None:
    topic = "sangsach/v1/lamp-dong-ha-001/status"
    out = check({"id": "lamp-dong-ha-001", "state": "offline"}, topic)
    assert out.statuses == [
        {"id": "lamp-dong-ha-001", "state": "offline", "received_at": NOW, "retained": False}
    ]
    bad = check({"id": "lamp-dong-ha-001", "state": "asleep"}, topic)
    assert bad.rejections[0].reason is Reason.SCHEMA
    assert "state: Input should be 'online' or 'offline'" in bad.rejections[0].detail


LAMP_START = b'{"id":"lamp-dong-ha-001","kind":"lamp","boot":3,"seq":7,"ts":1779999995,"on":true'


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        (LAMP_START + b',"x":' + b"[" * 30_000 + b"}", "nested deeper than the parser allows"),
        (LAMP_START + b',"x":' + b"[" * 2000 + b"]" * 2000 + b"}", "nested deeper"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested deeper"),
        (LAMP_START + b',"seq":' + b"7" * 5000 + b"}", "4300 digits"),
        (b"[" + b"1" * 60_000 + b"]", "4300 digits"),
    ],
)
def test_poison_payloads_are_malformed_json_not_exceptions(payload: bytes, names: str) -> None:
    """Shapes that made the standard parser raise past the validator and stop intake."""
    out = check(None, raw=payload)
    assert out.readings == []
    assert [r.reason for r in out.rejections] == [Reason.MALFORMED_JSON]
    assert names in out.rejections[0].detail
    assert out.rejections[0].payload_bytes == len(payload)


@pytest.mark.parametrize(
    ("payload", "topic"),
    [
        (b'{"readings":[{"id":"lamp-dong-ha-001"}],"\\udc00x":1}', TOPIC),
        (LAMP_START + b',"\\ud800":1}', TOPIC),
        (LAMP_START + b',"x":"\\ud800"}', TOPIC),
        (b'{"id":"lamp-dong-ha-001","state":"online","fw":"\\udfff"}', TOPIC[:-9] + "status"),
    ],
)
def test_lone_surrogates_never_reach_a_dead_letter_unescaped(payload: bytes, topic: str) -> None:
    """A lone surrogate in a detail made a batch the backend cannot parse: resent forever."""
    out = check(None, topic, raw=payload)
    assert out.readings == [] and out.statuses == []
    assert [r.reason for r in out.rejections] == [Reason.SCHEMA]
    for text in (out.rejections[0].detail, out.rejections[0].payload):
        text.encode("utf-8")  # raises on a lone surrogate


def test_huge_numbers_are_schema_rejections() -> None:
    for number in (b"1e999999", b"-1e999999", b"1" * 400):
        out = check(None, raw=LAMP_START + b',"current_a":' + number + b"}")
        assert [r.reason for r in out.rejections] == [Reason.SCHEMA], number
        assert "current_a" in out.rejections[0].detail


BIN_TOPIC = "sangsach/v1/bin-dong-ha-02/telemetry"


def bin_reading(**changes: Any) -> dict[str, Any]:
    base = {"id": "bin-dong-ha-02", "kind": "bin", "boot": 3, "seq": 7, "ts": int(NOW) - 5,
            "fill_pct": 40.0, "temp_c": 29.0}  # fmt: skip
    return {k: v for k, v in {**base, **changes}.items() if v is not ...}


@pytest.mark.parametrize(
    "body",
    [
        bin_reading(fill_pct=..., temp_c=80.0, sensor_errors=["ultrasonic"]),
        bin_reading(fill_pct=None, temp_c=80.0, sensor_errors=["ultrasonic", "battery"]),
        bin_reading(fill_pct=..., temp_c=..., sensor_errors=["ultrasonic", "thermometer"]),
        bin_reading(temp_c=..., sensor_errors=["thermometer"]),
    ],
)
def test_bin_readings_with_sensor_errors_are_accepted(body: dict[str, Any]) -> None:
    out = check(body, BIN_TOPIC)
    assert out.rejections == []
    (reading,) = out.readings
    assert reading["sensor_errors"] == body["sensor_errors"]
    assert ("fill_pct" in reading) == (body.get("fill_pct") is not None)


def test_lamp_reading_with_sensor_errors_is_accepted() -> None:
    out = check(lamp(current_a=None, sensor_errors=["current", "lux"]))
    assert out.rejections == []
    assert out.readings[0]["sensor_errors"] == ["current", "lux"]
    assert "current_a" not in out.readings[0]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (bin_reading(fill_pct=...), 'fill_pct is required unless sensor_errors names "ultrasonic"'),
        (bin_reading(fill_pct=None, temp_c=...), "fill_pct is required unless"),
        (bin_reading(fill_pct=None, sensor_errors=["tilt"]), "fill_pct is required unless"),
        (bin_reading(sensor_errors=["sonar"]), "sensor_errors[0]: Input should be 'ultrasonic'"),
        (bin_reading(sensor_errors=["current"]), "sensor_errors[0]: Input should be"),
        (bin_reading(sensor_errors=["tilt"] * 5), "sensor_errors: List should have at most 4"),
        (bin_reading(sensor_errors=["tilt", "tilt"]), "sensor_errors: Value error, names a sensor"),
        (bin_reading(sensor_errors=[]), "sensor_errors: List should have at least 1 item"),
        (bin_reading(sensor_errors="tilt"), "sensor_errors: Input should be a valid list"),
        (bin_reading(sensor_errors=[1]), "sensor_errors[0]: Input should be"),
        (bin_reading(sensor_errors={"tilt": 1}), "sensor_errors: Input should be a valid list"),
    ],
)
def test_hostile_sensor_errors_and_missing_fill_are_schema_rejections(
    body: dict[str, Any], names: str
) -> None:
    out = check(body, BIN_TOPIC)
    assert out.readings == []
    (rejection,) = out.rejections
    assert rejection.reason is Reason.SCHEMA
    assert names in rejection.detail, rejection.detail


def test_a_lamp_cannot_report_a_bin_sensor() -> None:
    out = check(lamp(sensor_errors=["ultrasonic"]))
    assert out.rejections[0].reason is Reason.SCHEMA
    assert "sensor_errors[0]: Input should be 'current', 'voltage' or 'lux'" in (
        out.rejections[0].detail
    )
