"""The gateway's fast paths accept exactly what the contract's models accept, nothing more.

``fastreading.accept`` must give the models' own dump for what it takes, and decline the rest
(the models then decide); the orjson parse must give ``json.loads``'s values or defer to it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from sangsach.contract import Reading
from sangsach.contract.limits import EARLIEST_SYNCED_TS, MAX_COUNTER, MAX_TS
from sangsach.contract.topics import Topic, TopicError
from sangsach.gateway import fastreading
from sangsach.gateway.validate import Checked, Incoming, Limits, Validator, _parse, _topic

_MODEL: TypeAdapter[Any] = TypeAdapter(Reading)


def models(item: Any) -> dict[str, Any] | None:
    """What the contract's models make of it: their dump, or None when they refuse."""
    try:
        return _MODEL.validate_python(item).model_dump(exclude_none=True)  # type: ignore[no-any-return]
    except ValidationError:
        return None


# Values at and around every limit, of every JSON type, so both sides of each check are tried.
numbers = st.one_of(
    st.integers(-200, 300),
    st.sampled_from([0, -1, MAX_COUNTER, MAX_COUNTER + 1, MAX_TS, MAX_TS + 1, 2**70, -(2**70)]),
    st.sampled_from([EARLIEST_SYNCED_TS - 1, EARLIEST_SYNCED_TS, 1_780_000_000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 2.0, 50.0, 50.0001, 100.0, 100.5, 125.0, 600.0, 200_000.0]),
)
values = st.one_of(
    numbers, st.booleans(), st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2)
)
ids = st.one_of(
    st.sampled_from(["lamp-dong-ha-001", "bin-an-01", "ab", "abc", "a-b", "-ab", "ab-", "Abc",
                     "abc\n", "x" * 48, "x" * 49, "lamp_1"]),
    st.from_regex(r"[a-z0-9][a-z0-9-]{1,10}[a-z0-9]", fullmatch=True),
    st.integers(),
)  # fmt: skip
FIELDS = ["boot", "seq", "ts", "synced", "rssi", "on", "fault", "current_a", "voltage_v", "lux",
          "fill_pct", "distance_cm", "battery_v", "temp_c", "tilt_deg", "sensor_errors",
          "extra"]  # fmt: skip
SENSORS = ["current", "voltage", "lux", "ultrasonic", "thermometer", "tilt", "battery", "Lux", ""]
sensor_errors = st.one_of(
    st.lists(st.sampled_from(SENSORS), max_size=5),
    st.lists(st.sampled_from(SENSORS[:3]), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(SENSORS[3:7]), min_size=1, max_size=4, unique=True),
    st.sampled_from([None, "tilt", ["tilt", 1], [["tilt"]]]),
)


@st.composite
def candidate(draw: st.DrawFn) -> dict[str, Any]:
    """A reading that is valid, or one or two fields away from it."""
    kind = draw(st.sampled_from(["lamp", "bin", "pump", None]))
    ts = draw(st.integers(EARLIEST_SYNCED_TS, MAX_TS) | st.integers(0, EARLIEST_SYNCED_TS))
    item: dict[str, Any] = {"id": "lamp-dong-ha-001", "kind": kind, "boot": 1, "seq": 2, "ts": ts}
    if kind == "lamp":
        item["on"] = draw(st.booleans())
        for name in ("current_a", "voltage_v", "lux", "fault", "rssi", "synced"):
            if draw(st.booleans()):
                item[name] = draw(st.booleans() if name in ("fault", "synced") else numbers)
    else:
        item["fill_pct"] = draw(st.floats(0, 100))
        for name in ("distance_cm", "battery_v", "temp_c", "tilt_deg", "rssi", "synced"):
            if draw(st.booleans()):
                item[name] = draw(st.booleans() if name == "synced" else numbers)
    if draw(st.integers(0, 3)) == 0:
        item["sensor_errors"] = draw(sensor_errors)
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from([*FIELDS, "id", "kind"]))
        if draw(st.booleans()):
            item.pop(name, None)
        elif name == "sensor_errors":
            item[name] = draw(sensor_errors)
        else:
            item[name] = draw(ids if name == "id" else values)
    return item


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(candidate())
def test_the_fast_path_takes_nothing_the_models_refuse_and_dumps_as_they_do(
    item: dict[str, Any],
) -> None:
    fast = fastreading.accept(item)
    if fast is not None:
        expected = models(item)
        assert expected is not None, f"the fast path took what the models refuse: {item!r}"
        assert list(fast.items()) == list(expected.items())  # same values, types and key order
        assert [type(v) for v in fast.values()] == [type(v) for v in expected.values()]


@settings(max_examples=1000)
@given(candidate())
def test_every_reading_the_models_accept_takes_the_fast_path(item: dict[str, Any]) -> None:
    """Not required for correctness, but the point: valid readings never pay for the models."""
    if models(item) is not None:
        assert fastreading.accept(item) is not None, item


def _twisted(item: dict[str, Any], twist: str) -> bytes:
    """The item's JSON, as a node might send it: spaced, with a byte-order mark, a key given
    twice (the last counts), or an integer too long for 64 bits."""
    text = json.dumps(item)
    if twist == "spaced":
        text = f" \n{text}\t "
    elif twist == "bom":
        text = "\ufeff" + text
    elif twist == "twice" and text.endswith("}") and item:
        name = sorted(item)[len(text) % len(item)]
        text = f'{text[:-1]}, "{name}": {json.dumps(item[name])}, "seq": 7}}'
    elif twist == "long" and text.endswith("}") and item:
        text = f'{text[:-1]}, "seq": 123456789012345678901}}'
    return text.encode()


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(candidate(), st.sampled_from(["", "spaced", "bom", "twice", "long"]))
def test_the_msgspec_decode_takes_nothing_the_models_refuse_and_dumps_as_they_do(
    item: dict[str, Any], twist: str
) -> None:
    payload = _twisted(item, twist)
    fast = fastreading.decode(payload)
    if fast is None:
        return
    parsed = json.loads(payload.decode("utf-8"))
    expected = models(parsed) if isinstance(parsed, dict) else None
    assert expected is not None, f"msgspec took what the models refuse: {payload!r}"
    assert list(fast.items()) == list(expected.items())  # same values, types and key order
    assert [type(v) for v in fast.values()] == [type(v) for v in expected.values()]


@settings(max_examples=1000)
@given(candidate())
def test_every_reading_the_models_accept_takes_the_msgspec_decode(item: dict[str, Any]) -> None:
    if models(item) is not None:
        assert fastreading.decode(json.dumps(item).encode()) is not None, item


@pytest.mark.parametrize(
    "payload",
    [b'{"a":123456789012345678901234567890}', b'{"a":NaN}', b'{"a":1e400}', b'"\\ud800"',
     b'\xef\xbb\xbf{"a":1}', b'{"a":1,"a":2}', b' {"a":-0.0} ', b'{"\\u0000":1}',
     b'{"seq":18446744073709551616}', b'{"seq":9223372036854775808}'],
)  # fmt: skip
def test_the_fast_parse_gives_what_json_gives(payload: bytes) -> None:
    assert_same_parse(payload)


@settings(max_examples=2000)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=4), inner, max_size=3)
            ),
            max_leaves=8,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_the_fast_parse_agrees_with_json_on_any_bytes(payload: bytes) -> None:
    assert_same_parse(payload)


def assert_same_parse(payload: bytes) -> None:
    try:
        expected: Any = ("ok", json.loads(payload.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        expected = ("error", type(err), str(err))
    try:
        got: Any = ("ok", _parse(payload))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        got = ("error", type(err), str(err))
    assert repr(got) == repr(expected)  # repr: NaN equals itself, and -0.0 differs from 0


@pytest.mark.parametrize(
    "item",
    [
        {"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": 2, "ts": 1_780_000_000,
         "on": True, "current_a": 0.18, "voltage_v": 221, "lux": None, "rssi": -70},
        {"id": "bin-an-01", "kind": "bin", "boot": 0, "seq": 0, "ts": 5, "synced": False,
         "fill_pct": 100, "battery_v": 3.9, "temp_c": -40.0, "tilt_deg": 0},
        {"id": "bin-an-01", "kind": "bin", "boot": 0, "seq": 1, "ts": 1_780_000_000,
         "fill_pct": None, "battery_v": 3.9, "temp_c": 80.0, "sensor_errors": ["ultrasonic"]},
        {"id": "lamp-an-01", "kind": "lamp", "boot": 0, "seq": 1, "ts": 1_780_000_000,
         "on": True, "lux": 4.0, "sensor_errors": ["current"]},
    ],
)  # fmt: skip
def test_typical_readings_take_the_fast_path_with_the_models_dump(item: dict[str, Any]) -> None:
    fast = fastreading.accept(item)
    assert fast is not None
    assert list(fast.items()) == list((models(item) or {}).items())


_CHECKER = Validator(Limits())


def whole_way(msg: Incoming) -> Checked:
    """What the validator makes of a single-reading message without its one-step path."""
    out = Checked()
    try:
        body = _parse(msg.payload)
    except ValueError:
        return out
    if isinstance(body, dict):
        _CHECKER._telemetry(msg, "lamp-dong-ha-001", body, out)
    return out


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(candidate(), st.sampled_from(["", "123456789012345678901", "-12345678901234567890"]))
def test_the_one_step_path_decides_as_the_whole_way(item: dict[str, Any], long: str) -> None:
    """``Validator._one_reading`` skips the search for long integers: a reading with one must
    still end as the whole way ends it (an integer orjson keeps as a float is refused there
    with its digits quoted as sent)."""
    text = json.dumps(item)
    if long and item:
        name = sorted(item)[len(long) % len(item)]
        text = json.dumps({**item, name: "LONG"}).replace('"LONG"', long)
    msg = Incoming("sangsach/v1/lamp-dong-ha-001/telemetry", text.encode(), 1_780_000_000.0)
    got = _CHECKER.check(msg)
    if not isinstance(json.loads(text), dict):
        return
    expected = whole_way(msg)
    assert got.readings == expected.readings
    assert [r.detail for r in got.rejections] == [r.detail for r in expected.rejections]


@settings(max_examples=1500)
@given(
    st.sampled_from(["sangsach/v1", "sangsach/v2", "sangsach", "x/v1"]),
    ids,
    st.sampled_from(["telemetry", "status", "config", "cmd", "update", "telemetryx", "", "a/b"]),
)
def test_the_topic_match_reads_as_the_contract_parses(
    prefix: str, device: Any, channel: str
) -> None:
    topic = f"{prefix}/{device}/{channel}"
    try:
        parsed: Any = Topic.parse(topic)
        expected: Any = (parsed.device_id, parsed.channel)
    except TopicError as err:
        expected = ("error", str(err))
    try:
        got: Any = _topic(topic)
    except TopicError as err:
        got = ("error", str(err))
    assert got == expected


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    candidate(),
    st.sampled_from(["", "spaced", "bom", "twice", "long"]),
    st.sampled_from(["sangsach/v1/lamp-dong-ha-001/telemetry", "sangsach/v1/bin-an-01/telemetry",
                     "sangsach/v1/lamp-dong-ha-001/status", "sangsach/v1/lamp-dong-ha-001/cmd",
                     "sangsach/v1/Lamp/telemetry", "other/lamp-dong-ha-001/telemetry"]),
    st.sampled_from([0.5, 299.0, 301.0, -86_400.0, -31 * 86_400.0]),
)  # fmt: skip
def test_intake_s_common_reading_is_what_check_accepts(
    item: dict[str, Any], twist: str, topic: str, after: float
) -> None:
    """Intake asks ``common_reading`` first and keeps what it gives without ``check``: it must
    be exactly the one reading ``check`` accepts, with no rejection beside it, or None. The
    gateway's clock is ``after`` seconds past the reading's time: near, ahead, far behind."""
    validator = Validator(Limits())
    ts = item.get("ts")
    received_at = (ts if type(ts) is int else 1_780_000_000) + after
    msg = Incoming(topic, _twisted(item, twist), received_at)
    common = validator.common_reading(msg)
    if common is None:
        return
    checked = validator.check(msg)
    assert (checked.readings, checked.rejections, checked.statuses) == ([common], [], [])
    assert [type(v) for v in common.values()] == [type(v) for v in checked.readings[0].values()]


def test_a_common_message_takes_intake_s_short_way() -> None:
    validator = Validator(Limits())
    payload = json.dumps({"id": "lamp-dong-ha-001", "kind": "lamp", "boot": 1, "seq": 2,
                          "ts": 1_780_000_000, "on": True, "current_a": 0.2}).encode()  # fmt: skip
    msg = Incoming("sangsach/v1/lamp-dong-ha-001/telemetry", payload, 1_780_000_000.5)
    common = validator.common_reading(msg)
    assert common is not None and common["received_at"] == 1_780_000_000.5
    assert validator.check(msg).readings == [common]
    wrong = Incoming("sangsach/v1/lamp-dong-ha-002/telemetry", payload, 1_780_000_000.5)
    assert validator.common_reading(wrong) is None, "not its device: check names why"
    assert [r.reason for r in validator.check(wrong).rejections] == ["id_mismatch"]
