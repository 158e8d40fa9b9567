"""A per-device limit on readings per minute of the device's own clock: a node flooding
readings is throttled, and every refused reading becomes a ``rate_limited`` dead letter (never a
silent drop).

The minutes are the reading's ``ts`` (the gateway's receive time for a node whose clock is
unset), not arrival time. A node that catches up after an outage, or a backlog the broker kept
while the gateway was offline, arrives all at once but spreads over hours of device time and
passes, in whatever order it comes; a node sending many readings per device-minute does not.
Each device keeps the counts of its latest minutes only, so memory stays bounded by the
registry's size.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sangsach.contract import Reason, topic

from .validate import Rejection

MINUTE = 60
KEPT_MINUTES = 120  # counts per device; an older minute met again simply starts afresh
ORIGIN_FIELDS = frozenset({"received_at", "raw", "raw_id", "raw_bytes"})  # added by the gateway


class DeviceThrottle:
    """At most ``per_minute`` readings per device and minute of the device's clock."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._counts: dict[str, dict[int, int]] = {}

    def allow(self, device_id: str, ts: float) -> bool:
        counts = self._counts.setdefault(device_id, {})
        minute = int(ts) // MINUTE
        seen = counts.get(minute, 0)
        if seen >= self.per_minute:
            return False
        counts[minute] = seen + 1
        if len(counts) > 2 * KEPT_MINUTES:
            for old in sorted(counts)[:-KEPT_MINUTES]:
                del counts[old]
        return True

    def rejection(self, reading: dict[str, Any]) -> Rejection:
        """The dead letter of a throttled reading: one per reading key, so a redelivery is one."""
        device_id = str(reading["id"])
        received_at = float(reading["received_at"])
        body = {k: v for k, v in reading.items() if k not in ORIGIN_FIELDS}
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        key = f"{Reason.RATE_LIMITED}\0{device_id}\0{reading['boot']}\0{reading['seq']}"
        return Rejection(
            id=hashlib.sha256(key.encode()).hexdigest()[:32],
            topic=topic(device_id, "telemetry"),
            device_id=device_id,
            reason=Reason.RATE_LIMITED,
            detail=(
                f"device {device_id!r} sends more than {self.per_minute} readings per minute of "
                f"its own clock; seq {reading['seq']} (ts {reading['ts']}) was throttled"
            ),
            payload=payload,
            payload_bytes=len(payload.encode()),
            received_at=received_at,
        )
