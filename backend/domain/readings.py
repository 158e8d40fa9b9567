"""A reading as the backend stores it: validated, placed in the registry, time-stamped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sangsach.contract.limits import SENSORS

Value = float | int | bool | str | None

# Measured fields per kind, in the order the stores keep them. ``sensor_errors`` is kept as
# text: the failed sensors' names joined by commas in the contract's order (sensor_names).
LAMP_FIELDS: tuple[str, ...] = (
    "on",
    "current_a",
    "voltage_v",
    "lux",
    "fault",
    "rssi",
    "sensor_errors",
)
BIN_FIELDS: tuple[str, ...] = (
    "fill_pct",
    "distance_cm",
    "battery_v",
    "temp_c",
    "tilt_deg",
    "rssi",
    "sensor_errors",
)
FIELDS: dict[str, tuple[str, ...]] = {"lamp": LAMP_FIELDS, "bin": BIN_FIELDS}


def sensor_errors_text(names: Sequence[str] | None) -> str | None:
    """The stored form of a reading's ``sensor_errors``: ``"ultrasonic,thermometer"``, in the
    contract's order whatever order the node sent, or None when no sensor failed."""
    if not names:
        return None
    return ",".join(name for name in SENSORS if name in names)


def sensor_names(value: Value) -> tuple[str, ...]:
    """The failed sensors of a stored ``sensor_errors`` value (none for None)."""
    if not isinstance(value, str) or not value:
        return ()
    return tuple(value.split(","))


@dataclass(slots=True)
class StoredReading:
    """One reading; ``(device_id, boot, seq)`` is its identity, so storing it twice is harmless.

    ``ts`` is the effective time in Unix seconds: the node's clock when it was synced, otherwise
    the gateway's receive time (and ``synced`` is False).

    Never changed once made, but not ``frozen``: a frozen dataclass's ``__init__`` sets each
    field through ``object.__setattr__``, 2.3 µs for these nine against 0.7, and one is made
    for every reading ingested and every reading read back (docs/performance.md, issue 22).
    """

    device_id: str
    kind: Literal["lamp", "bin"]
    village_id: str
    place_id: str
    boot: int
    seq: int
    ts: int
    synced: bool
    values: dict[str, Value] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.device_id, self.boot, self.seq)


def recency(reading: StoredReading) -> tuple[int, int, int]:
    """Which of a device's readings is its newest (``device_state``): the latest ``ts``, then
    boot and sequence number."""
    return (reading.ts, reading.boot, reading.seq)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert opened or cleared, kept as time series for Grafana's annotations."""

    alert_id: int
    device_id: str
    village_id: str
    type: str
    what: Literal["opened", "cleared"]
    ts: int


@dataclass(frozen=True, slots=True)
class DevicePoint:
    """A device on the map: where the registry puts it and its state at ``ts`` (a key of
    ``web.devicemap.STATES``, e.g. ``lit`` or ``bin_full``), for Grafana's geomap."""

    device_id: str
    kind: str
    village_id: str
    lat: float
    lon: float
    state: str
    ts: int


@dataclass(frozen=True, slots=True)
class DailyScore:
    """One village's indicators for one local day, kept so that Grafana shows the same numbers.

    ``day`` is the Unix time of the local midnight that starts the day.
    """

    village_id: str
    day: int
    values: dict[str, float | bool | None]


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A node's birth (online) or last will (offline), as seen by the gateway."""

    device_id: str
    online: bool
    ts: int
