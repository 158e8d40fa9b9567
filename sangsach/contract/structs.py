"""The contract's readings as msgspec classes: the models' fields and limits, for fast paths.

msgspec decodes a reading's JSON into these in about half a microsecond, checking each field's
type and range as the pydantic models do (``readings.py``). What the models check beyond one
field at a time is ``cross_checked``: the id's whole pattern (msgspec searches, and ``$``
matches before a final newline), a synced clock's earliest time, each sensor named once, and a
bin reading without its fill saying why. A fast path built on these may only ever accept less
than the models do: whatever it declines goes to the models, which decide and word the error.
The gateway's single readings (``gateway/fastreading.py``) and the backend's batches
(``backend/api/fastbatch.py``) both use them; tests/unit/test_fastreading.py and
tests/unit/test_fastbatch.py hold each to the models.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Final, Literal

import msgspec
from msgspec import Meta

from .limits import DEVICE_ID_PATTERN, EARLIEST_SYNCED_TS, LIMITS, MAX_COUNTER, MAX_TS

_ID: Final = re.compile(DEVICE_ID_PATTERN.removeprefix("^").removesuffix("$"))
Counter = Annotated[int, Meta(ge=0, le=MAX_COUNTER)]
Ts = Annotated[int, Meta(ge=0, le=MAX_TS)]
Rssi = Annotated[int, Meta(ge=int(LIMITS["rssi"].low), le=int(LIMITS["rssi"].high))]


def _limits(name: str) -> Meta:
    limit = LIMITS[name]
    return Meta(ge=limit.low, le=limit.high)


CurrentA = Annotated[float, _limits("current_a")]
VoltageV = Annotated[float, _limits("voltage_v")]
Lux = Annotated[float, _limits("lux")]
FillPct = Annotated[float, _limits("fill_pct")]
DistanceCm = Annotated[float, _limits("distance_cm")]
BatteryV = Annotated[float, _limits("battery_v")]
TempC = Annotated[float, _limits("temp_c")]
TiltDeg = Annotated[float, _limits("tilt_deg")]
LampSensors = Annotated[
    list[Literal["current", "voltage", "lux"]], Meta(min_length=1, max_length=3)
]
BinSensors = Annotated[
    list[Literal["ultrasonic", "thermometer", "tilt", "battery"]], Meta(min_length=1, max_length=4)
]


class Reading(
    msgspec.Struct,
    frozen=True,
    forbid_unknown_fields=True,
    kw_only=True,
    tag_field="kind",
    gc=False,
):
    """The fields every reading has (``_Reading`` in readings.py).

    Not tracked by the garbage collector (``gc=False``): a reading holds numbers, strings and a
    list of sensor names, so it can never be part of a reference cycle, and a backend decodes
    thousands a second; tracked, each counted towards the collector's next young pass."""

    kind: ClassVar[str]
    id: str
    boot: Counter
    seq: Counter
    ts: Ts
    synced: bool = True
    rssi: Rssi | None = None


class Lamp(Reading, frozen=True, tag="lamp", gc=False):
    """``LampReading``'s fields, with its limits."""

    kind: ClassVar[str] = "lamp"
    on: bool
    current_a: CurrentA | None = None
    voltage_v: VoltageV | None = None
    lux: Lux | None = None
    fault: bool = False
    sensor_errors: LampSensors | None = None


class Bin(Reading, frozen=True, tag="bin", gc=False):
    """``BinReading``'s fields, with its limits."""

    kind: ClassVar[str] = "bin"
    fill_pct: FillPct | None = None
    distance_cm: DistanceCm | None = None
    battery_v: BatteryV | None = None
    temp_c: TempC | None = None
    tilt_deg: TiltDeg | None = None
    sensor_errors: BinSensors | None = None


def cross_checked(reading: Lamp | Bin) -> bool:
    """Whether the reading passes the models' rules beyond its single fields."""
    if not _ID.fullmatch(reading.id) or (reading.synced and reading.ts < EARLIEST_SYNCED_TS):
        return False
    errors = reading.sensor_errors
    if errors is not None and len(set(errors)) != len(errors):
        return False
    return not (
        isinstance(reading, Bin) and reading.fill_pct is None and "ultrasonic" not in (errors or ())
    )
