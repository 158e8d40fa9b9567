"""The device rules, each defined once: is a lamp lit, is a bin full, overflowing or emptied,
is its battery low, which of its sensors failed, when is data stale, and the thresholds they
use (the commune's defaults, then the village's).

Pure: plain values in, a verdict out. The alert engine, the scores and their daily rollups,
the web map and village page, and the ``device`` measurement Grafana reads all call these, so
a lamp "on" that draws no current is dark everywhere (tests/unit/test_device_rules.py checks
every consumer against them).

Fill levels are compared in tenths of a percent, the contract's resolution: ``90.1 - 60.1`` is
``29.999999999999993`` in floats but a drop of exactly 300 tenths here, so a 30-point drop is an
emptying whichever decimals the node sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from sangsach.province_file import Province, each_commune
from sangsach.registry_file import Commune

from .readings import sensor_names


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Per commune, overridable per village (the registry's ``alerts`` sections)."""

    lamp_fault_debounce_s: int = 600
    day_burning_debounce_s: int = 1800
    cycling_switches: int = 6  # switches within cycling_window_s
    cycling_window_s: int = 3600
    lamp_report_interval_s: int = 300
    bin_report_interval_s: int = 3600
    offline_intervals: int = 3
    min_lit_current_a: float = 0.05
    bin_full_pct: float = 80.0
    bin_overflow_pct: float = 95.0
    bin_emptied_drop_pct: float = 30.0  # a drop this large is a collection
    collection_sla_s: int = 24 * 3600
    fire_temp_c: float = 70.0
    tilt_deg: float = 30.0
    battery_low_v: float = 3.4
    # A sensor fault is an alert once readings have reported it for this long without a break:
    # one implausible echo (a bird, the lid) must not text the team.
    sensor_fault_debounce_s: int = 1800


class _Overrides(Protocol):
    def overrides(self) -> dict[str, float]: ...


class _Village(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def alerts(self) -> _Overrides | None: ...


def thresholds_of(
    what: Commune | Province, base: Thresholds | None = None
) -> dict[str, Thresholds]:
    """Each village's thresholds, for one commune or all the communes of a province (each
    village under its own commune's)."""
    found: dict[str, Thresholds] = {}
    for commune in each_commune(what):
        found.update(effective_thresholds(commune.alerts, commune.villages, base))
    return found


def effective_thresholds(
    commune_overrides: _Overrides | None,
    villages: Iterable[_Village],
    base: Thresholds | None = None,
) -> dict[str, Thresholds]:
    """Each village's thresholds: ``base`` (the defaults), then the commune's, then its own."""
    common = {
        **asdict(base or Thresholds()),
        **(commune_overrides.overrides() if commune_overrides else {}),
    }
    return {
        v.id: Thresholds(**{**common, **(v.alerts.overrides() if v.alerts else {})})
        for v in villages
    }


def tenths(pct: float) -> int:
    """A fill level in whole tenths of a percent, the contract's resolution."""
    return round(pct * 10)


def lamp_lit(on: Any, current_a: Any, fault: Any, th: Thresholds) -> bool:
    """Lit: switched on, drawing at least the minimum current (when the node measures it), and
    no fault reported. A lamp on without current is dark: its bulb or driver has failed."""
    return bool(on) and (current_a is None or current_a >= th.min_lit_current_a) and not fault


def lamp_lit_values(values: Mapping[str, Any], th: Thresholds) -> bool:
    return lamp_lit(values.get("on"), values.get("current_a"), values.get("fault"), th)


def lit_samples(rows: Iterable[tuple[Any, ...]], th: Thresholds) -> list[tuple[int, bool]]:
    """``(ts, lamp_lit)`` of ``(ts, on, current_a, fault)`` rows: the scores' hot loop (a year
    of a village's lamps), so ``lamp_lit`` is inlined; a property test keeps them equal."""
    least = th.min_lit_current_a
    return [
        (ts, bool(on) and (current is None or current >= least) and not fault)
        for ts, on, current, fault in rows
    ]


def bin_full(fill_pct: float, th: Thresholds) -> bool:
    return tenths(fill_pct) >= tenths(th.bin_full_pct)


def bin_overflowing(fill_pct: float, th: Thresholds) -> bool:
    return tenths(fill_pct) >= tenths(th.bin_overflow_pct)


def bin_emptied(previous_pct: float, fill_pct: float, th: Thresholds) -> bool:
    """A collection: the fill dropped by at least ``bin_emptied_drop_pct`` since the reading
    before."""
    return tenths(previous_pct) - tenths(fill_pct) >= tenths(th.bin_emptied_drop_pct)


def failed_sensors(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The sensors a stored reading reports as failed (its ``sensor_errors``), none when all
    answered. A bin reading without ``fill_pct`` has ``ultrasonic`` among them: its fill level
    is not measured, neither full nor empty."""
    return sensor_names(values.get("sensor_errors"))


# The failed sensors in words, for the pages ("Lỗi cảm biến: siêu âm").
SENSOR_LABELS: dict[str, str] = {
    "current": "dòng điện",
    "voltage": "điện áp",
    "lux": "ánh sáng",
    "ultrasonic": "siêu âm",
    "thermometer": "nhiệt độ",
    "tilt": "nghiêng",
    "battery": "pin",
}


def sensor_fault_text(values: Mapping[str, Any] | None) -> str | None:
    """``Lỗi cảm biến: siêu âm, nhiệt độ``, or None when every sensor answered."""
    failed = failed_sensors(values or {})
    if not failed:
        return None
    return "Lỗi cảm biến: " + ", ".join(SENSOR_LABELS.get(name, name) for name in failed)


def stale_s(kind: Literal["lamp", "bin"] | str, th: Thresholds) -> int:
    """How long a reading holds: three report intervals, the offline rule."""
    interval = th.lamp_report_interval_s if kind == "lamp" else th.bin_report_interval_s
    return th.offline_intervals * interval


# A bin's battery as a clerk reads it. "low" is the low-battery alert's own threshold (the
# alert opens at or below it); "good" from this margin above it: with the default 3.4 V, a
# lithium cell at 3.7 V or more is past its first days of drain and far from empty.
BATTERY_GOOD_MARGIN_V = 0.3
BatteryLevel = Literal["good", "fair", "low"]


def battery_low(volts: float, th: Thresholds) -> bool:
    """The low-battery alert's condition (it clears only past a margin, ``alerts/rules.py``)."""
    return volts <= th.battery_low_v


def battery_level(volts: float, th: Thresholds) -> BatteryLevel:
    if battery_low(volts, th):
        return "low"
    return "good" if volts >= th.battery_low_v + BATTERY_GOOD_MARGIN_V else "fair"


MapState = Literal[
    "lit", "off", "fault", "bin_ok", "bin_full", "bin_overflow", "bin_unmeasured", "offline",
    "never",
]  # fmt: skip


def device_state(
    kind: str, online: bool | None, latest: Mapping[str, Any] | None, th: Thresholds
) -> MapState:
    """A device's state now, for the map, the village page and Grafana's ``device`` points."""
    if online is False:
        return "offline"
    if not latest:
        return "never"
    if kind == "lamp":
        if lamp_lit_values(latest, th):
            return "lit"
        return "fault" if latest.get("on") or latest.get("fault") else "off"
    fill = latest.get("fill_pct")
    if not isinstance(fill, int | float):
        # Its ultrasonic sensor failed: the fill is not measured, neither full nor empty.
        return "bin_unmeasured" if "ultrasonic" in failed_sensors(latest) else "never"
    if bin_overflowing(fill, th):
        return "bin_overflow"
    return "bin_full" if bin_full(fill, th) else "bin_ok"
