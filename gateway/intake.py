"""From broker to spool: validate, drop duplicates, append durably, then acknowledge.

Messages wait in a queue bounded by the MQTT Receive Maximum, in the batches the MQTT client
read them in. The intake thread takes what has arrived (about ``chunk`` messages), commits it
to the spool in one transaction and only then acknowledges all of it in one call. While the
spool is full it stops acknowledging, so the broker keeps the backlog.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .dedup import RecentKeys
from .spool import Item, Origin, Spool, SpoolFull
from .throttle import DeviceThrottle
from .validate import Checked, Incoming, Validator, letter_id, unprocessable

log = logging.getLogger(__name__)


@dataclass(slots=True)
class IntakeStats:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    statuses: int = 0
    dropped_by_nodes: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    flooded: int = 0  # messages beyond a device's rate, folded into its flood dead letters
    spool_full: str = ""  # why intake is paused (the spool refuses appends), or empty


@dataclass(frozen=True, slots=True)
class Pending:
    """Messages from one read of the MQTT connection, with their packet ids (0: QoS 0)."""

    messages: list[Incoming]
    mids: list[int]
    generation: int  # the connection they came on; an ack is only valid on that one


class Intake:
    def __init__(
        self,
        validator: Validator,
        dedup: RecentKeys,
        spool: Spool,
        ack: Callable[[list[int], int], None],
        *,
        chunk: int = 2000,
        throttle: DeviceThrottle | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.throttle = throttle
        self.validator = validator
        self.dedup = dedup
        self.spool = spool
        self._ack = ack
        self.chunk = chunk
        self.stats = IntakeStats()
        self._queue: queue.SimpleQueue[Pending] = queue.SimpleQueue()
        self._clock = clock
        self._lock = threading.Lock()  # the counts below: the MQTT thread adds, intake removes
        self._waiting = 0  # messages handed over and not yet committed to the spool
        self._since = clock()  # the latest commit, or when messages began to wait after none

    def on_messages(self, messages: list[Incoming], mids: list[int], generation: int) -> None:
        """Called in the MQTT client's thread: hand the batch over, nothing more."""
        with self._lock:
            if not self._waiting:
                self._since = self._clock()
            self._waiting += len(messages)
        self._queue.put(Pending(messages, mids, generation))

    def stalled(self, after_s: float) -> str:
        """Why intake looks stuck (messages wait, nothing committed for ``after_s``), or "".

        A spool that refuses appends is not a stall: ``stats.spool_full`` says that one.
        """
        with self._lock:
            waiting, idle = self._waiting, self._clock() - self._since
        if not waiting or idle < after_s or self.stats.spool_full:
            return ""
        return (
            f"nhận tin bị treo: {waiting} tin chờ, không ghi được tin nào trong {idle:.0f} s "
            f"(intake stalled: {waiting} messages waiting, nothing committed for {idle:.0f} s)"
        )

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            batch = self._take(timeout=0.2)
            if batch:
                self.commit(batch, stop)

    def _take(self, timeout: float) -> list[Pending]:
        try:
            batch = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        count = len(batch[0].messages)
        while count < self.chunk:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
            count += len(batch[-1].messages)
        return batch

    def commit(self, batch: list[Pending], stop: threading.Event) -> None:
        items = self.process([msg for pending in batch for msg in pending.messages])
        while True:
            try:
                self.spool.append(items)
                break
            except SpoolFull as err:
                # Not acknowledged yet, so nothing is lost: the broker holds the backlog.
                if not self.stats.spool_full:
                    log.error("%s; intake paused, the broker keeps new messages", err)
                self.stats.spool_full = str(err)
                if stop.wait(1.0):
                    return
        if self.stats.spool_full:
            log.warning("the spool takes appends again; intake resumed")
            self.stats.spool_full = ""
        with self._lock:
            # max: a caller may commit what it never handed over (the tests do)
            self._waiting = max(0, self._waiting - sum(len(p.messages) for p in batch))
            self._since = self._clock()
        by_generation: dict[int, list[int]] = {}
        for pending in batch:
            by_generation.setdefault(pending.generation, []).extend(pending.mids)
        for generation, mids in by_generation.items():
            self._ack(mids, generation)

    def process(self, messages: list[Incoming]) -> list[Item]:
        """Validate and de-duplicate; return the spool items. Pure apart from the dedup window.

        No message can stop intake: one whose checking raises becomes an ``unprocessable``
        dead letter naming the error, and the next message is checked as usual.

        Each reading and status keeps its message's origin beside it in the spool (its
        dead-letter id, and with the first item the bytes): should the backend refuse it (an
        unknown device, a wrong kind), the gateway keeps the message as it came. One copy of
        the bytes a message: a batch of 500 readings must not hold 500. The id of a message of
        one item (nearly all) is made only if it is refused: from its bytes and its topic, which
        the item names (``forwarder.refused_letter``); a hash a message was 5 % of intake.
        """
        items: list[Item] = []
        stats = self.stats
        common = self.validator.common_reading
        for msg in messages:
            stats.received += 1
            try:
                reading = common(msg)
            except Exception:  # noqa: BLE001 - the whole way below decides, and keeps it
                reading = None
            if reading is not None:  # nearly every message: one reading, accepted
                if self._fresh(reading, msg):
                    items.append(("reading", reading, Origin(None, msg.payload)))
                    stats.accepted += 1
                continue
            try:
                checked = self._check(msg)
            except Exception as err:
                log.exception(
                    "a message on %r could not be checked; kept as a dead letter", msg.topic
                )
                checked = Checked(rejections=[unprocessable(msg, err)])
            stats.dropped_by_nodes += checked.dropped
            if len(checked.readings) + len(checked.statuses) == 1:
                only = Origin(None, msg.payload)
                for reading in checked.readings:
                    items.append(("reading", reading, only))
                stats.accepted += len(checked.readings)
                for status in checked.statuses:
                    items.append(("status", status, only))
                stats.statuses += len(checked.statuses)
            elif checked.readings or checked.statuses:
                raw_id = letter_id(msg)
                first, rest = Origin(raw_id, msg.payload), Origin(raw_id, None)
                for n, reading in enumerate(checked.readings):
                    items.append(("reading", reading, rest if n else first))
                stats.accepted += len(checked.readings)
                for n, status in enumerate(checked.statuses):
                    items.append(("status", status, rest if n else first))
                stats.statuses += len(checked.statuses)
            for rejection in checked.rejections:
                items.append(("rejection", rejection.as_dict()))
                stats.rejected += 1
                reason = str(rejection.reason)
                stats.rejected_by_reason[reason] = stats.rejected_by_reason.get(reason, 0) + 1
        if self.throttle is not None:
            items += [("rejection", flood.as_dict()) for flood in self.throttle.take_floods()]
            stats.flooded = self.throttle.folded
        return items

    def _fresh(self, reading: dict[str, Any], msg: Incoming) -> bool:
        """A reading not seen before (else counted as a duplicate) and within its device's
        rate (else folded into a flood letter)."""
        if not self.dedup.first_time((reading["id"], reading["boot"], reading["seq"])):
            self.stats.duplicates += 1
            return False
        return self.throttle is None or self.throttle.allow(reading["id"], reading["ts"], msg)

    def _check(self, msg: Incoming) -> Checked:
        """One message validated, its duplicates dropped and its flood throttled."""
        checked = self.validator.check(msg)
        throttle = self.throttle
        checked.readings = [reading for reading in checked.readings if self._fresh(reading, msg)]
        if throttle is not None and (checked.statuses or checked.rejections):
            when = msg.received_at  # everything else counts in the minute it arrived
            checked.statuses = [s for s in checked.statuses if throttle.allow(s["id"], when, msg)]
            checked.rejections = [
                r for r in checked.rejections if throttle.allow(r.device_id, when, msg)
            ]
        return checked
