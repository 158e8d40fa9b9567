"""A per-device limit on the messages of a minute: a flooding device is throttled, and what it
sends beyond the limit is folded into one ``flood`` dead letter per device and minute, with a
count, instead of one dead letter each (never a silent drop, and never a disk filled by them).

Everything a device sends counts, valid or not: each reading, status and rejected message or
reading. A valid reading counts in the minute of the device's own clock (its ``ts``, or the
receive time when the node's clock is unset); everything else in the minute it arrived. A node
that catches up after an outage, or a backlog the broker kept while the gateway was offline,
arrives all at once but spreads over hours of device time and passes, in whatever order it
comes; a node sending many readings per device-minute does not, nor does one sending junk.

A flood letter carries the count so far and is sent again, with the new count, after each
intake commit that added to it; its id names the device and the minute, and the backend keeps
the highest count. Each device keeps the counts of its latest minutes only, so memory stays
bounded by the number of devices.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from sangsach.contract import Reason

from .validate import Incoming, Rejection, kept_payload

MINUTE = 60
KEPT_MINUTES = 120  # counts per device; an older minute met again simply starts afresh
NO_DEVICE = ""  # messages on a topic that names no valid device share one count


@dataclass(slots=True)
class _Flood:
    """What one device sent beyond the limit in one minute."""

    device_id: str
    minute: int
    topic: str
    sample: str  # the first folded message's payload, as a dead letter keeps it
    received_at: float
    messages: int = 0
    size: int = 0  # bytes of the folded messages, each counted once
    last: Incoming | None = None
    changed: bool = True


class DeviceThrottle:
    """At most ``per_minute`` messages per device and minute; the rest folded into floods."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.folded = 0  # messages folded into flood letters since start
        self._counts: dict[str, dict[int, int]] = {}
        self._floods: dict[tuple[str, int], _Flood] = {}

    def allow(self, device_id: str | None, when: float, msg: Incoming) -> bool:
        """Count one item of ``msg`` in ``when``'s minute; False: it is folded into a flood."""
        device = device_id or NO_DEVICE
        counts = self._counts.setdefault(device, {})
        minute = int(when) // MINUTE
        seen = counts.get(minute, 0)
        counts[minute] = seen + 1
        if len(counts) > 2 * KEPT_MINUTES:
            for old in sorted(counts)[:-KEPT_MINUTES]:
                del counts[old]
                self._floods.pop((device, old), None)
        if seen < self.per_minute:
            return True
        self._fold(device, minute, msg)
        return False

    def _fold(self, device: str, minute: int, msg: Incoming) -> None:
        flood = self._floods.get((device, minute))
        if flood is None:
            flood = _Flood(device, minute, msg.topic, kept_payload(msg), msg.received_at)
            self._floods[device, minute] = flood
        flood.messages += 1
        if flood.last is not msg:  # the readings of one batch are one message's bytes
            flood.size += len(msg.payload)
            flood.last = msg
        flood.changed = True
        self.folded += 1

    def take_floods(self) -> list[Rejection]:
        """The flood letters that grew since the last call, each with its count so far."""
        letters = []
        for flood in self._floods.values():
            if flood.changed:
                flood.changed = False
                letters.append(self._letter(flood))
        return letters

    def _letter(self, flood: _Flood) -> Rejection:
        key = f"{Reason.FLOOD}\0{flood.device_id}\0{flood.minute}"
        start = time.strftime("%Y-%m-%d %H:%M", time.gmtime(flood.minute * MINUTE))
        who = repr(flood.device_id) if flood.device_id else "(no valid device id)"
        return Rejection(
            id=hashlib.sha256(key.encode()).hexdigest()[:32],
            topic=flood.topic,
            device_id=flood.device_id or None,
            reason=Reason.FLOOD,
            detail=(
                f"thiết bị {who} gửi quá {self.per_minute} tin một phút: {flood.messages} tin "
                f"của phút {start} UTC gộp vào thư này (device {who} sent more than "
                f"{self.per_minute} messages in one minute: {flood.messages} from the minute "
                f"{start} UTC folded into this dead letter; the payload is the first of them)"
            ),
            payload=flood.sample,
            payload_bytes=flood.size,
            received_at=flood.received_at,
            messages=flood.messages,
        )
