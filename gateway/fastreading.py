"""A fast path for the common case: a well-formed reading, checked without building a model.

``decode(payload)`` takes a message's bytes holding one reading, as msgspec decodes them into
the contract's reading classes (``sangsach/contract/structs.py``): the same dump as below,
and ``None`` for anything else (then the payload is parsed and checked the whole way). About
1.3 µs a reading against 2.9 for orjson's parse and ``accept``.

``accept(item)`` returns exactly what ``TypeAdapter(Reading).validate_python(item)
.model_dump(exclude_none=True)`` returns, for the readings it recognises as valid, and ``None``
for everything else. ``None`` does not mean invalid: the caller then runs the contract's own
pydantic models, which decide and, when they refuse, name the field. So this path can only ever
accept less than the models do, never more; tests/unit/test_fastreading.py checks that with
generated readings, valid and not.

Why: validating with the models and dumping them back costs about 5 µs a reading, this about 2,
and every reading of a province passes here (docs/performance.md).
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

import msgspec

from sangsach.contract.limits import (
    BIN_SENSORS,
    DEVICE_ID_PATTERN,
    EARLIEST_SYNCED_TS,
    LAMP_SENSORS,
    LIMITS,
    MAX_COUNTER,
    MAX_TS,
)
from sangsach.contract.structs import Bin, Lamp, cross_checked

_ID: Final = re.compile(DEVICE_ID_PATTERN.removeprefix("^").removesuffix("$"))
_COMMON: Final = frozenset({"id", "boot", "seq", "ts", "synced", "rssi", "kind"})
# Per kind: (required bool fields, optional bool fields with their default, measures in the
# models' field order, whether the first measure is required). The order of the dump's keys
# follows the models: id, boot, seq, ts, synced, [rssi], kind, then the kind's own fields.
_LAMP_MEASURES: Final[tuple[str, ...]] = ("current_a", "voltage_v", "lux")
_BIN_MEASURES: Final[tuple[str, ...]] = (
    "fill_pct",
    "distance_cm",
    "battery_v",
    "temp_c",
    "tilt_deg",
)
_LAMP_KEYS: Final = _COMMON | {"on", "fault", "sensor_errors", *_LAMP_MEASURES}
_BIN_KEYS: Final = _COMMON | {"sensor_errors", *_BIN_MEASURES}
_SENSORS: Final = {"lamp": frozenset(LAMP_SENSORS), "bin": frozenset(BIN_SENSORS)}
_RANGES: Final = {name: (limit.low, limit.high) for name, limit in LIMITS.items()}


def _counter(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_COUNTER


def _measure(value: Any, name: str) -> float | None:
    """The value as the model keeps it (a float), or None when the fast path declines."""
    low, high = _RANGES[name]
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) and low <= value <= high else None
    if kind is int:
        return float(value) if low <= value <= high else None
    return None


def _sensor_errors(value: Any, kind: str) -> list[str] | None:
    """A copy of the list as the model keeps it, or None when the fast path declines."""
    known = _SENSORS[kind]
    if type(value) is not list or not 1 <= len(value) <= len(known):
        return None
    for name in value:
        if type(name) is not str or name not in known:
            return None
    if len(set(value)) != len(value):
        return None
    return list(value)


def accept(item: Any) -> dict[str, Any] | None:
    if type(item) is not dict:
        return None
    kind = item.get("kind")
    if kind == "lamp":
        if not item.keys() <= _LAMP_KEYS:
            return None
    elif kind == "bin":
        if not item.keys() <= _BIN_KEYS:
            return None
    else:
        return None
    device_id, boot, seq, ts = item.get("id"), item.get("boot"), item.get("seq"), item.get("ts")
    if type(device_id) is not str or not _ID.fullmatch(device_id):
        return None
    if not (_counter(boot) and _counter(seq) and type(ts) is int and 0 <= ts <= MAX_TS):
        return None
    synced = item.get("synced", True)
    if type(synced) is not bool or (synced and ts < EARLIEST_SYNCED_TS):
        return None
    out: dict[str, Any] = {"id": device_id, "boot": boot, "seq": seq, "ts": ts, "synced": synced}
    rssi = item.get("rssi")
    if rssi is not None:
        if type(rssi) is not int or not -127 <= rssi <= 0:
            return None
        out["rssi"] = rssi
    out["kind"] = kind
    if kind == "lamp":
        on, fault = item.get("on"), item.get("fault", False)
        if type(on) is not bool or type(fault) is not bool:
            return None
        out["on"] = on
        measures = _LAMP_MEASURES
    else:
        measures = _BIN_MEASURES
    errors = item.get("sensor_errors")
    if errors is not None:
        errors = _sensor_errors(errors, kind)
        if errors is None:
            return None
    if kind == "bin" and item.get("fill_pct") is None and "ultrasonic" not in (errors or ()):
        return None  # a bin reading without its fill level must say why
    for name in measures:
        value = item.get(name)
        if value is None:
            continue
        number = _measure(value, name)
        if number is None:
            return None
        out[name] = number
    if kind == "lamp":
        out["fault"] = fault
    if errors is not None:
        out["sensor_errors"] = errors
    return out


_DECODER: Final = msgspec.json.Decoder(Lamp | Bin)


def decode(payload: bytes) -> dict[str, Any] | None:
    """The one reading a payload holds, dumped as ``accept`` dumps it; None when msgspec or
    the models' cross-field rules decline it (the caller then goes the whole way)."""
    try:
        reading = _DECODER.decode(payload)
    except (msgspec.DecodeError, RecursionError):  # ValidationError included: the models
        return None  # decide, and say why; so does the whole way of a payload nested too deep
    if not cross_checked(reading):
        return None
    out: dict[str, Any] = {
        "id": reading.id, "boot": reading.boot, "seq": reading.seq, "ts": reading.ts,
        "synced": reading.synced,
    }  # fmt: skip
    if reading.rssi is not None:
        out["rssi"] = reading.rssi
    if isinstance(reading, Lamp):
        out["kind"] = "lamp"
        out["on"] = reading.on
        if reading.current_a is not None:
            out["current_a"] = reading.current_a
        if reading.voltage_v is not None:
            out["voltage_v"] = reading.voltage_v
        if reading.lux is not None:
            out["lux"] = reading.lux
        out["fault"] = reading.fault
    else:
        out["kind"] = "bin"
        for name, value in (
            ("fill_pct", reading.fill_pct),
            ("distance_cm", reading.distance_cm),
            ("battery_v", reading.battery_v),
            ("temp_c", reading.temp_c),
            ("tilt_deg", reading.tilt_deg),
        ):
            if value is not None:
                out[name] = value
    if reading.sensor_errors is not None:
        out["sensor_errors"] = reading.sensor_errors
    return out
