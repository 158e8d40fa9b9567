"""From broker to spool: validate, drop duplicates, append durably, then acknowledge.

Messages wait in a queue bounded by the MQTT Receive Maximum. The intake thread takes what has
arrived (up to ``chunk``), commits it to the spool in one transaction and only then sends the
PUBACKs. While the spool is full it stops acknowledging, so the broker keeps the backlog.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho

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
    msg: Incoming
    mid: int
    generation: int


class Intake:
    def __init__(
        self,
        validator: Validator,
        dedup: RecentKeys,
        spool: Spool,
        ack: Callable[[int, int], None],
        *,
        chunk: int = 2000,
        clock: Callable[[], float] = time.time,
        throttle: DeviceThrottle | None = None,
    ) -> None:
        self.throttle = throttle
        self.validator = validator
        self.dedup = dedup
        self.spool = spool
        self._ack = ack
        self.chunk = chunk
        self.clock = clock
        self.stats = IntakeStats()
        self._queue: queue.SimpleQueue[Pending] = queue.SimpleQueue()

    def on_message(self, msg: paho.MQTTMessage, generation: int) -> None:
        """Called in paho's network thread: stamp the time and hand over, nothing more."""
        incoming = Incoming(msg.topic, bytes(msg.payload), self.clock(), bool(msg.retain))
        self._queue.put(Pending(incoming, msg.mid, generation))

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
        while len(batch) < self.chunk:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def commit(self, batch: list[Pending], stop: threading.Event) -> None:
        items = self.process([pending.msg for pending in batch])
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
        for pending in batch:
            self._ack(pending.mid, pending.generation)

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
