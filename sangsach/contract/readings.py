"""Readings a node reports on ``sangsach/v1/{device_id}/telemetry``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .limits import (
    BIN_SENSORS,
    DEVICE_ID_PATTERN,
    EARLIEST_SYNCED_TS,
    LAMP_SENSORS,
    LIMITS,
    MAX_COUNTER,
    MAX_TS,
)


def _measure(name: str) -> float | None:
    limit = LIMITS[name]
    return Field(
        default=None,
        ge=limit.low,
        le=limit.high,
        allow_inf_nan=False,
        description=f"{limit.meaning}, in {limit.unit} ({limit.low:g} to {limit.high:g})",
    )


def _sensor_errors(names: tuple[str, ...]) -> Any:
    return Field(
        default=None,
        min_length=1,
        max_length=len(names),
        json_schema_extra={"uniqueItems": True},
        description="the node's sensors that failed in this reading, each named once "
        f"({', '.join(names)}); left out when none failed. A sensor not fitted is not an error",
    )


def _once_each(names: list[str] | None) -> list[str] | None:
    if names is not None and len(set(names)) != len(names):
        raise ValueError(f"names a sensor more than once: {names!r}")
    return names


LampSensor = Literal["current", "voltage", "lux"]
BinSensor = Literal["ultrasonic", "thermometer", "tilt", "battery"]


DeviceId = Annotated[
    str,
    Field(
        pattern=DEVICE_ID_PATTERN,
        description="device id: 3-48 characters, lower-case a-z, digits and '-'",
    ),
]
Counter = Annotated[int, Field(ge=0, le=MAX_COUNTER)]


class _Reading(BaseModel):
    """Fields every reading carries. ``(id, boot, seq)`` identifies a reading uniquely."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    id: DeviceId
    boot: Counter = Field(description="boot counter, incremented at every start of the node")
    seq: Counter = Field(description="sequence number within the boot, from 0")
    ts: int = Field(ge=0, le=MAX_TS, description="Unix seconds, UTC, when measured")
    synced: bool = Field(
        default=True,
        description="false when the node's clock was not yet synced: the gateway then stamps "
        "the receive time",
    )
    rssi: int | None = Field(default=None, ge=-127, le=0, description="Wi-Fi RSSI in dBm")

    @model_validator(mode="after")
    def _synced_clock_is_plausible(self) -> _Reading:
        if self.synced and self.ts < EARLIEST_SYNCED_TS:
            raise ValueError(
                f"ts {self.ts} is before 2020 but synced is true; "
                "send synced=false until the clock is set"
            )
        return self


class LampReading(_Reading):
    """A streetlight node: FIWARE ``Streetlight.powerState`` is ``on``."""

    kind: Literal["lamp"]
    on: bool = Field(description="relay state: the node is powering the lamp")
    current_a: float | None = _measure("current_a")
    voltage_v: float | None = _measure("voltage_v")
    lux: float | None = _measure("lux")
    fault: bool = Field(
        default=False, description="node's own verdict: relay on but no current flows"
    )
    sensor_errors: list[LampSensor] | None = _sensor_errors(LAMP_SENSORS)

    _unique = field_validator("sensor_errors")(_once_each)


class BinReading(_Reading):
    """A waste-bin node: FIWARE ``WasteContainer.fillingLevel`` is ``fill_pct / 100``."""

    # The rule of _fill_or_why_not, for validators that only read the schema.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["fill_pct"], "properties": {"fill_pct": {"type": "number"}}},
                {
                    "required": ["sensor_errors"],
                    "properties": {"sensor_errors": {"contains": {"const": "ultrasonic"}}},
                },
            ]
        }
    )

    kind: Literal["bin"]
    fill_pct: float | None = Field(
        default=None,
        ge=0.0,
        le=100.0,
        allow_inf_nan=False,
        description="filling level in % (0 to 100); left out (or null) only when the "
        'ultrasonic sensor failed, and then sensor_errors must name "ultrasonic"',
    )
    distance_cm: float | None = _measure("distance_cm")
    battery_v: float | None = _measure("battery_v")
    temp_c: float | None = _measure("temp_c")
    tilt_deg: float | None = _measure("tilt_deg")
    sensor_errors: list[BinSensor] | None = _sensor_errors(BIN_SENSORS)

    _unique = field_validator("sensor_errors")(_once_each)

    @model_validator(mode="after")
    def _fill_or_why_not(self) -> BinReading:
        if self.fill_pct is None and "ultrasonic" not in (self.sensor_errors or ()):
            raise ValueError(
                'fill_pct is required unless sensor_errors names "ultrasonic" '
                "(a bin reading without its fill level must say why)"
            )
        return self


Reading = Annotated[LampReading | BinReading, Field(discriminator="kind")]
