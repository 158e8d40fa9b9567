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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .dedup import RecentKeys
from .spool import Kind, Spool, SpoolFull
from .throttle import DeviceThrottle
from .validate import Incoming, Validator

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
    ) -> None:
        self.throttle = throttle
        self.validator = validator
        self.dedup = dedup
        self.spool = spool
        self._ack = ack
        self.chunk = chunk
        self.stats = IntakeStats()
        self._queue: queue.SimpleQueue[Pending] = queue.SimpleQueue()

    def on_messages(self, messages: list[Incoming], mids: list[int], generation: int) -> None:
        """Called in the MQTT client's thread: hand the batch over, nothing more."""
        self._queue.put(Pending(messages, mids, generation))

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
        by_generation: dict[int, list[int]] = {}
        for pending in batch:
            by_generation.setdefault(pending.generation, []).extend(pending.mids)
        for generation, mids in by_generation.items():
            self._ack(mids, generation)

    def process(self, messages: list[Incoming]) -> list[tuple[Kind, dict[str, Any]]]:
        """Validate and de-duplicate; return the spool items. Pure apart from the dedup window."""
        items: list[tuple[Kind, dict[str, Any]]] = []
        stats = self.stats
        for msg in messages:
            stats.received += 1
            checked = self.validator.check(msg)
            stats.dropped_by_nodes += checked.dropped
            for reading in checked.readings:
                if not self.dedup.first_time((reading["id"], reading["boot"], reading["seq"])):
                    stats.duplicates += 1
                elif self.throttle is not None and not self.throttle.allow(
                    reading["id"], reading["ts"]
                ):
                    checked.rejections.append(self.throttle.rejection(reading))
                else:
                    items.append(("reading", reading))
                    stats.accepted += 1
            for status in checked.statuses:
                items.append(("status", status))
                stats.statuses += 1
            for rejection in checked.rejections:
                items.append(("rejection", rejection.as_dict()))
                stats.rejected += 1
                reason = str(rejection.reason)
                stats.rejected_by_reason[reason] = stats.rejected_by_reason.get(reason, 0) + 1
        return items
