"""A fast path for the common batch: readings only, from a gateway that makes its own letters.

``decode(body)`` returns an ``IngestBatch`` for such a batch when every reading is valid, and
``None`` for anything else: the caller then parses with the models (``IngestBatch``), which
decide and, when they refuse, name the field. So this path can only ever accept less than the
models do, never more; tests/unit/test_fastbatch.py checks that, and that each reading it makes
has every field of the model's with the same value and type.

Why: pydantic validates a batch at about 4 µs a reading, and making its models without
validation (``model_construct``) costs more still; msgspec decodes into the classes below in
about 1. The readings of the returned batch are these classes, not the models: the ingest reads
their fields only (``backend/ingest.py``), which both have alike. A batch that needs more of a
reading (``letters: backend``: the backend then re-serialises a refused one) takes the models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Final, Literal, cast

import msgspec
from msgspec import Meta

from sangsach.contract.limits import (
    DEVICE_ID_PATTERN,
    EARLIEST_SYNCED_TS,
    LIMITS,
    MAX_COUNTER,
    MAX_TS,
)

from .schemas import BATCH_KEY_PATTERN, IngestBatch, ReadingIn

_ID: Final = re.compile(DEVICE_ID_PATTERN.removeprefix("^").removesuffix("$"))
_GATEWAY: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
_BATCH_KEY: Final = re.compile(BATCH_KEY_PATTERN.strip("^$"))
Counter = Annotated[int, Meta(ge=0, le=MAX_COUNTER)]
Ts = Annotated[int, Meta(ge=0, le=MAX_TS)]
Received = Annotated[float, Meta(ge=0)]
Rssi = Annotated[int, Meta(ge=-127, le=0)]


def _limits(name: str) -> Meta:
    limit = LIMITS[name]
    return Meta(ge=limit.low, le=limit.high)


CurrentA = Annotated[float, _limits("current_a")]
VoltageV = Annotated[float, _limits("voltage_v")]
Lux = Annotated[float, _limits("lux")]
DistanceCm = Annotated[float, _limits("distance_cm")]
BatteryV = Annotated[float, _limits("battery_v")]
TempC = Annotated[float, _limits("temp_c")]
TiltDeg = Annotated[float, _limits("tilt_deg")]
FillPct = Annotated[float, Meta(ge=0.0, le=100.0)]
LampSensors = Annotated[
    list[Literal["current", "voltage", "lux"]], Meta(min_length=1, max_length=3)
]
BinSensors = Annotated[
    list[Literal["ultrasonic", "thermometer", "tilt", "battery"]], Meta(min_length=1, max_length=4)
]


class _Reading(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, tag_field="kind"
):
    """The fields every reading has (``_Reading`` in sangsach/contract/readings.py)."""

    kind: ClassVar[str]
    id: str
    boot: Counter
    seq: Counter
    ts: Ts
    received_at: Received
    synced: bool = True
    rssi: Rssi | None = None


class Lamp(_Reading, frozen=True, tag="lamp"):
    """``LampIn``'s fields, with its limits."""

    kind: ClassVar[str] = "lamp"
    on: bool
    current_a: CurrentA | None = None
    voltage_v: VoltageV | None = None
    lux: Lux | None = None
    fault: bool = False
    sensor_errors: LampSensors | None = None


class Bin(_Reading, frozen=True, tag="bin"):
    """``BinIn``'s fields, with its limits."""

    kind: ClassVar[str] = "bin"
    fill_pct: FillPct | None = None
    distance_cm: DistanceCm | None = None
    battery_v: BatteryV | None = None
    temp_c: TempC | None = None
    tilt_deg: TiltDeg | None = None
    sensor_errors: BinSensors | None = None


class _Batch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    gateway: str
    letters: Literal["gateway"]
    readings: Annotated[list[Lamp | Bin], Meta(max_length=10_000)] = []
    statuses: Annotated[list[Any], Meta(max_length=0)] = []
    rejections: Annotated[list[Any], Meta(max_length=0)] = []
    key: str | None = None
    after: str | None = None


_DECODER: Final = msgspec.json.Decoder(_Batch)


def decode(body: bytes) -> IngestBatch | None:
    """The batch, if this path takes it; None sends it to the models."""
    try:
        batch = _DECODER.decode(body)
    except msgspec.DecodeError:  # ValidationError included: the models decide, and say why
        return None
    if not _GATEWAY.fullmatch(batch.gateway):
        return None
    for name in (batch.key, batch.after):
        if name is not None and not _BATCH_KEY.fullmatch(name):
            return None
    for reading in batch.readings:
        # The models' own rules beyond the fields' limits (sangsach/contract/readings.py), and
        # the id's pattern matched whole (msgspec searches, and "$" matches before a "\n").
        if not _ID.fullmatch(reading.id) or (reading.synced and reading.ts < EARLIEST_SYNCED_TS):
            return None
        errors = reading.sensor_errors
        if errors is not None and len(set(errors)) != len(errors):
            return None
        if type(reading) is Bin and reading.fill_pct is None and "ultrasonic" not in (errors or ()):
            return None
    # Not the models' classes, but their fields alike (the module's docstring; the tests
    # compare every field of every reading): what the ingest reads of a reading.
    readings = cast("list[ReadingIn]", batch.readings)
    return IngestBatch.model_construct(
        gateway=batch.gateway, readings=readings, statuses=[], rejections=[], letters="gateway",
        key=batch.key, after=batch.after,
    )  # fmt: skip
