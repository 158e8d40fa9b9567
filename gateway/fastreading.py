"""A fast path for the common case: a well-formed reading, checked without building a model.

Both functions return exactly what ``TypeAdapter(Reading).validate_python(item)
.model_dump(exclude_none=True)`` returns, for the readings they recognise as valid, and ``None``
for everything else. ``None`` does not mean invalid: the caller then runs the contract's own
pydantic models, which decide and, when they refuse, name the field. The checks are the
contract's msgspec classes (``sangsach/contract/structs.py``: the models' fields, limits and
rules across fields), so this path can only ever accept less than the models do, never more;
tests/unit/test_fastreading.py checks that with generated readings, valid and not.

``decode(payload)`` takes a message's bytes holding one reading (nearly every message): about
1.6 µs, against about 5 for the models' validation and dump. ``accept(item)`` takes a reading
already parsed, one of a node's batch message (a replayed buffer, rarer): about 3.6 µs.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from sangsach.contract.structs import Bin, Lamp, cross_checked

_DECODER: Final = msgspec.json.Decoder(Lamp | Bin)
_BIN_MEASURES: Final = ("fill_pct", "distance_cm", "battery_v", "temp_c", "tilt_deg")


def decode(payload: bytes) -> dict[str, Any] | None:
    """The one reading a payload holds, dumped as the models dump it; None when msgspec or the
    models' rules across fields decline it (the caller then goes the whole way)."""
    try:
        reading = _DECODER.decode(payload)
    except (msgspec.DecodeError, RecursionError):  # ValidationError included: the models
        return None  # decide, and say why; so does the whole way of a payload nested too deep
    return _dump(reading) if cross_checked(reading) else None


def accept(item: Any) -> dict[str, Any] | None:
    """``decode`` for a reading already parsed (an item of a batch message)."""
    try:
        reading = msgspec.convert(item, Lamp | Bin)
    except (msgspec.ValidationError, RecursionError, UnicodeEncodeError):
        return None  # the last: a key with a lone surrogate, which json.loads lets through
    return _dump(reading) if cross_checked(reading) else None


def _dump(reading: Lamp | Bin) -> dict[str, Any]:
    """The reading as ``model_dump(exclude_none=True)`` gives it, keys in the models' order."""
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
        for name in _BIN_MEASURES:
            value = getattr(reading, name)
            if value is not None:
                out[name] = value
    if reading.sensor_errors is not None:
        out["sensor_errors"] = reading.sensor_errors
    return out
