"""Units and limits of the wire contract: one table, used by the models and the docs.

A value outside its limits is rejected with a reason naming the field; it is never clamped.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Limit(NamedTuple):
    unit: str
    low: float
    high: float
    meaning: str


# Field name -> unit, inclusive range and meaning. docs/protocol.md is checked against this.
LIMITS: Final[dict[str, Limit]] = {
    "current_a": Limit("A", 0.0, 50.0, "lamp circuit current"),
    "voltage_v": Limit("V", 0.0, 300.0, "mains voltage at the lamp"),
    "lux": Limit("lx", 0.0, 200_000.0, "ambient light at the lamp head"),
    "fill_pct": Limit("%", 0.0, 100.0, "bin filling level (FIWARE fillingLevel x 100)"),
    "distance_cm": Limit("cm", 2.0, 600.0, "raw ultrasonic distance, sensor to waste"),
    "battery_v": Limit("V", 0.0, 15.0, "battery voltage"),
    "temp_c": Limit("°C", -40.0, 125.0, "temperature inside the bin"),
    "tilt_deg": Limit("°", 0.0, 180.0, "tilt of the bin from upright"),
    "rssi": Limit("dBm", -127.0, 0.0, "Wi-Fi signal strength at the node"),
}


class Sensor(NamedTuple):
    kind: str
    fields: str
    meaning: str


# The sensors a reading may name in ``sensor_errors``: name -> kind of node, the fields it
# gives and what it is. A sensor that is not fitted is never an error, only one the node has
# and could not read. docs/protocol.md is checked against this.
SENSORS: Final[dict[str, Sensor]] = {
    "current": Sensor("lamp", "current_a", "lamp circuit current sensor"),
    "voltage": Sensor("lamp", "voltage_v", "mains voltage sensor"),
    "lux": Sensor("lamp", "lux", "ambient light sensor"),
    "ultrasonic": Sensor("bin", "fill_pct, distance_cm", "ultrasonic sensor: no plausible echo"),
    "thermometer": Sensor("bin", "temp_c", "thermometer inside the bin"),
    "tilt": Sensor("bin", "tilt_deg", "tilt sensor (accelerometer), where fitted"),
    "battery": Sensor("bin", "battery_v", "battery voltage measurement"),
}
LAMP_SENSORS: Final = tuple(name for name, s in SENSORS.items() if s.kind == "lamp")
BIN_SENSORS: Final = tuple(name for name, s in SENSORS.items() if s.kind == "bin")

DEVICE_ID_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{1,46}[a-z0-9]$"
MAX_COUNTER: Final = 2**31 - 1
# A synced clock never reads earlier than this (2020-01-01T00:00:00Z).
EARLIEST_SYNCED_TS: Final = 1_577_836_800
MAX_TS: Final = 2**32 - 1
MAX_BATCH_READINGS: Final = 500
