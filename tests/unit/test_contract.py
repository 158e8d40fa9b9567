"""The wire contract: the committed JSON Schema is the models' export; topics check themselves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from sangsach.contract import (
    Batch,
    DeviceConfig,
    Reading,
    Status,
    Topic,
    TopicError,
    topic,
    wildcard,
)
from sangsach.contract.schema import SCHEMA_PATH, build_schema


def test_committed_schema_is_the_models_export() -> None:
    committed = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert committed == build_schema(), "the contract changed: run `sangsach schema` and commit"


def test_schema_names_every_message_and_limit() -> None:
    schema = build_schema()
    assert set(schema["messages"]) == {"reading", "batch", "status", "config", "cmd", "update"}
    fill = schema["$defs"]["BinReading"]["properties"]["fill_pct"]["anyOf"][0]
    assert (fill["minimum"], fill["maximum"]) == (0.0, 100.0)


def test_the_schema_says_when_a_bin_reading_may_lack_its_fill() -> None:
    """The committed schema alone (what a third party's node is checked with) refuses a bin
    reading without fill_pct unless it names the failed ultrasonic sensor."""
    import jsonschema

    schema = build_schema()
    validator = jsonschema.Draft202012Validator({**schema, **schema["messages"]["reading"]})
    base = {"id": "bin-a-01", "kind": "bin", "boot": 1, "seq": 0, "ts": 1_780_000_000}
    assert validator.is_valid({**base, "fill_pct": 40.0})
    assert validator.is_valid({**base, "temp_c": 80.0, "sensor_errors": ["ultrasonic"]})
    assert validator.is_valid({**base, "fill_pct": 40.0, "sensor_errors": ["tilt"]})
    for bad in (
        {"fill_pct": None},
        {"temp_c": 80.0},
        {"temp_c": 80.0, "sensor_errors": ["thermometer"]},
        {"fill_pct": 40.0, "sensor_errors": ["tilt", "tilt"]},
        {"fill_pct": 40.0, "sensor_errors": ["sonar"]},
        {"fill_pct": 40.0, "sensor_errors": []},
    ):
        assert not validator.is_valid({**base, **bad}), bad


def test_reading_round_trip_and_unknown_fields_refused() -> None:
    adapter: TypeAdapter[object] = TypeAdapter(Reading)
    body = {"id": "bin-a-01", "kind": "bin", "boot": 1, "seq": 0, "ts": 1_780_000_000,
            "fill_pct": 55.5, "battery_v": 3.9}  # fmt: skip
    assert adapter.validate_python(body).fill_pct == 55.5  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="colour"):
        adapter.validate_python({**body, "colour": "green"})


def test_synced_clock_before_2020_is_refused() -> None:
    body = {"id": "lamp-a-01", "kind": "lamp", "boot": 1, "seq": 0, "ts": 12, "on": True}
    with pytest.raises(ValidationError, match="send synced=false"):
        TypeAdapter(Reading).validate_python(body)
    assert TypeAdapter(Reading).validate_python({**body, "synced": False}).ts == 12


def test_batch_limits() -> None:
    reading = {
        "id": "lamp-a-01",
        "kind": "lamp",
        "boot": 1,
        "seq": 0,
        "ts": 1_780_000_000,
        "on": True,
    }
    with pytest.raises(ValidationError, match="at least 1 item"):
        Batch.model_validate({"readings": []})
    assert Batch.model_validate({"readings": [reading], "dropped": 3}).dropped == 3


def test_status_and_config() -> None:
    assert Status.model_validate({"id": "lamp-a-01", "state": "offline"}).state == "offline"
    with pytest.raises(ValidationError, match="expected local time HH:MM"):
        DeviceConfig.model_validate(
            {"rev": 1, "lamp": {"windows": [{"on": "25:00", "off": "06:00"}]}}
        )


def test_topics() -> None:
    assert topic("lamp-a-01", "telemetry") == "sangsach/v1/lamp-a-01/telemetry"
    assert Topic.parse("sangsach/v1/bin-b-02/status") == Topic("bin-b-02", "status")
    assert wildcard("telemetry", "gws") == "$share/gws/sangsach/v1/+/telemetry"
    for bad in ("sangsach/v1/Lamp#1/telemetry", "sangsach/v2/lamp-a-01/telemetry", "sangsach/v1/x"):
        with pytest.raises(TopicError):
            Topic.parse(bad)


def test_protocol_doc_tables_are_the_contracts() -> None:
    from pathlib import Path

    from sangsach.contract.doc import limits_table, reasons_table, sensors_table

    text = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
    assert limits_table() in text
    assert reasons_table() in text
    assert sensors_table() in text


def test_sensor_names_are_the_table_s() -> None:
    from typing import get_args

    from sangsach.contract.limits import BIN_SENSORS, LAMP_SENSORS
    from sangsach.contract.readings import BinSensor, LampSensor

    assert get_args(LampSensor) == LAMP_SENSORS
    assert get_args(BinSensor) == BIN_SENSORS


def test_protocol_doc_examples_validate() -> None:
    import re
    from pathlib import Path

    from sangsach.contract.schema import MESSAGES

    text = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
    examples = [
        line
        for block in re.findall(r"```json\n(.*?)```", text, re.S)
        for line in _json_values(block)
    ]
    assert len(examples) >= 8
    for example in examples:
        assert any(_valid(type_, example) for type_ in MESSAGES.values()), example


def _json_values(block: str) -> list[object]:
    decoder, values, index = json.JSONDecoder(), [], 0
    while index < len(block):
        if block[index].isspace():
            index += 1
            continue
        value, index = decoder.raw_decode(block, index)
        values.append(value)
    return values


def _valid(type_: Any, value: object) -> bool:
    try:
        TypeAdapter(type_).validate_python(value)
    except ValidationError:
        return False
    return True
