"""What an alert is: its types, thresholds and the policy that governs notifications."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..domain.rules import Thresholds

__all__ = ["CRITICAL", "DEVICE_TYPES", "LAMP_TYPES", "AlertType", "Policy", "Thresholds"]


class AlertType(StrEnum):
    LAMP_FAULT = "lamp_fault"  # off, or no current, inside a required lighting window
    DAY_BURNING = "day_burning"  # lit outside the required windows
    CYCLING = "cycling"  # switching on and off again and again
    DEVICE_OFFLINE = "device_offline"  # last will, or silent for three report intervals
    BIN_FULL = "bin_full"
    BIN_OVERFLOW = "bin_overflow"
    BIN_OVERDUE = "bin_overdue"  # full for longer than the collection SLA: escalated
    FIRE = "fire"
    TILTED = "tilted"
    BATTERY_LOW = "battery_low"
    SENSOR_FAULT = "sensor_fault"  # readings name a failed sensor, for longer than a debounce


# Fire is never held by quiet hours or rate limits.
CRITICAL: frozenset[AlertType] = frozenset({AlertType.FIRE})

LAMP_TYPES = frozenset({AlertType.LAMP_FAULT, AlertType.DAY_BURNING, AlertType.CYCLING})
# About the node itself, lamp or bin: its team is the one of the device's kind.
DEVICE_TYPES = frozenset({AlertType.DEVICE_OFFLINE, AlertType.SENSOR_FAULT})


@dataclass(frozen=True, slots=True)
class Policy:
    """When people are told, reminded and escalated to."""

    reminder_s: int = 2 * 3600
    escalate_to_head_s: int = 4 * 3600
    escalate_to_office_s: int = 12 * 3600
    quiet_start_min: int = 21 * 60  # local time, minutes after midnight
    quiet_end_min: int = 6 * 60
    utc_offset_min: int = 420
    max_sms_per_hour: int = 4  # per recipient; more are folded into a digest

    def _local_seconds(self, t: float) -> float:
        return (t + self.utc_offset_min * 60) % 86_400

    def is_quiet(self, t: float) -> bool:
        now, start, end = self._local_seconds(t), self.quiet_start_min * 60, self.quiet_end_min * 60
        if start <= end:
            return start <= now < end
        return now >= start or now < end

    def quiet_ends(self, t: float) -> float:
        """The first moment at or after ``t`` outside quiet hours."""
        if not self.is_quiet(t):
            return t
        return t + (self.quiet_end_min * 60 - self._local_seconds(t)) % 86_400
