"""Ingest a gateway batch: place readings in the registry, store them, track device state.

Idempotent: the time-series store keeps one copy per ``(device_id, boot, seq)``, a dead letter
is keyed by its id, and device state only moves forward. A gateway may resend a batch whose
answer it lost without changing anything.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, tuple_
from sqlalchemy.exc import OperationalError

from sangsach.contract import Channel, Reason, topic

from . import db
from .alerts.engine import AlertEngine, Seen
from .api.schemas import IngestBatch, IngestResult, ReadingIn, Refusal, RejectionIn, StatusIn
from .batchorder import BatchOrder
from .domain.readings import (
    AlertEvent,
    StatusEvent,
    StoredReading,
    Value,
    recency,
    sensor_errors_text,
)
from .firmware import store as firmware
from .replicas import lock_devices, shared
from .scores import late
from .scores.days import local_day, local_midnight
from .sql import ManyRows, insert_for, json_text
from .timeseries.port import TimeSeriesStore

log = logging.getLogger(__name__)
STALE_SNAPSHOT_TRIES = 5  # SQLite: see Ingest.handle

# A batch whose newest reading arrived this much after it was taken was queued somewhere (the
# broker, a gateway's spool, a node's buffer): a backlog drains. While one does, and for
# BACKLOG_HOLD_S after its last such batch, background work that re-reads what the ingest is
# writing waits (today's live scores: scores/schedule.py).
BACKLOG_LAG_S = 60
BACKLOG_HOLD_S = 60
# How far back a redelivered unsynced reading's first copy is looked for: a gateway is
# restarted within this time, or the broker's queue of it is long gone.
RESTAMP_WINDOW_S = 7 * 86_400
_UNKNOWN = "device {!r} is not in the registry"


def _lamp_values(reading: Any) -> dict[str, Value]:
    return {
        "on": reading.on, "current_a": reading.current_a, "voltage_v": reading.voltage_v,
        "lux": reading.lux, "fault": reading.fault, "rssi": reading.rssi,
        "sensor_errors": reading.sensor_errors,
    }  # fmt: skip


def _bin_values(reading: Any) -> dict[str, Value]:
    return {
        "fill_pct": reading.fill_pct, "distance_cm": reading.distance_cm,
        "battery_v": reading.battery_v, "temp_c": reading.temp_c, "tilt_deg": reading.tilt_deg,
        "rssi": reading.rssi, "sensor_errors": reading.sensor_errors,
    }  # fmt: skip


# A reading's measured values by kind, the fields of FIELDS in its order (the wire models have
# every field of their kind): a dict display costs a quarter of ``dict(zip(FIELDS[kind], ...))``
# and every reading takes one (tests/unit/test_ingest_parse.py holds them to FIELDS).
MEASURED: dict[str, Callable[[ReadingIn], dict[str, Value]]] = {
    "lamp": _lamp_values,
    "bin": _bin_values,
}


@dataclass(frozen=True, slots=True)
class Placement:
    kind: str
    village_id: str
    place_id: str


def load_placements(engine: Engine) -> dict[str, Placement]:
    """Device id -> its placement; the devices of one lane or point share one (100,000 devices:
    about 15 MB less than one each)."""
    shared: dict[tuple[str, str, str], Placement] = {}
    placements: dict[str, Placement] = {}
    with engine.connect() as conn:
        table = db.devices
        rows = conn.execute(select(table.c.id, table.c.kind, table.c.village_id, table.c.place_id))
        for row in rows:
            where = (row.kind, row.village_id, row.place_id)
            placement = shared.get(where)
            if placement is None:
                placement = shared[where] = Placement(*where)
            placements[sys.intern(row.id)] = placement  # the registry's string
    return placements


class Ingest:
    def __init__(
        self, engine: Engine, store: TimeSeriesStore, alerts: AlertEngine | None = None
    ) -> None:
        self.engine = engine
        self.store = store
        self.alerts = alerts
        self.placements = load_placements(engine)
        # Writes the readings to the time series while the request thread does the SQL work:
        # the two overlap instead of adding up (the time-series write is mostly waiting).
        self._writer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ts-write")
        # One batch's transaction at a time, in the alert engine's order (AlertEngine.lock).
        self._serial = alerts.lock if alerts is not None else threading.RLock()
        self._shared = shared(engine)  # other backends may ingest into the same database
        self.order = BatchOrder()  # each gateway's batches in the order it sent them
        self._today = 0
        self.monotonic: Callable[[], float] = time.monotonic
        self._backlog_until = 0.0

    @property
    def draining(self) -> bool:
        """A backlog drains: a batch of queued readings came in the last ``BACKLOG_HOLD_S``."""
        return self.monotonic() < self._backlog_until

    def close(self) -> None:
        self._writer.shutdown(wait=True)

    def _today_starts(self) -> int:
        """Today's local midnight, from a cache renewed once a day: the hot path's check."""
        now = time.time()
        if not self._today <= now < self._today + 86_400:
            self._today = local_midnight(local_day(now))
        return self._today

    def handle(self, batch: IngestBatch) -> IngestResult:
        """Store, judge and keep a batch in one transaction. On SQLite it begins with the write
        lock (``BEGIN IMMEDIATE`` in ``_handle``), so another writer's commit cannot leave it on
        a stale snapshot; should SQLite still say "database is locked" (its busy timeout spent),
        everything is rolled back and the batch handled again from the start (its readings are
        idempotent), a few times, before the gateway would resend it."""
        self.order.begin(batch.gateway, batch.key, batch.after)
        stored = False
        try:
            result = self._handle_again_if_stale(batch)
            stored = True
            return result
        finally:
            self.order.end(batch.gateway, batch.key, stored)

    def _handle_again_if_stale(self, batch: IngestBatch) -> IngestResult:
        for attempt in range(1, STALE_SNAPSHOT_TRIES):
            try:
                return self._handle(batch)
            except OperationalError as err:
                if self._shared or "database is locked" not in str(err):
                    raise
                log.warning("batch met another writer's commit (attempt %d); again", attempt)
                time.sleep(0.02 * attempt)
        return self._handle(batch)  # the last try: its error goes to the caller

    def _handle(self, batch: IngestBatch) -> IngestResult:
        stored: list[StoredReading] = []
        received: dict[str, float] = {}
        dead = list(batch.rejections)
        refused: list[Refusal] = []
        by_gateway = batch.letters == "gateway"  # it keeps the bytes: it makes the letters
        placements = self.placements
        for index, reading in enumerate(batch.readings):
            device_id, kind = reading.id, reading.kind
            placement = placements.get(device_id)
            if placement is None or placement.kind != kind:
                why = _misplaced(device_id, kind, placement)
                if by_gateway:
                    refused.append(Refusal(kind="reading", index=index, reason=why.reason,
                                           detail=why.detail))  # fmt: skip
                else:
                    dead.append(why.from_reading(reading))
                continue
            values = MEASURED[kind](reading)
            if reading.sensor_errors:  # kept as text: "ultrasonic,thermometer"
                values["sensor_errors"] = sensor_errors_text(reading.sensor_errors)
            stored.append(
                StoredReading(
                    device_id, kind, placement.village_id, placement.place_id, reading.boot,
                    reading.seq, reading.ts, reading.synced, values,
                )
            )  # fmt: skip
            received[device_id] = max(received.get(device_id, 0.0), reading.received_at)
        rejected = len(batch.readings) - len(stored)
        if stored and max(received.values()) - max(r.ts for r in stored) > BACKLOG_LAG_S:
            self._backlog_until = self.monotonic() + BACKLOG_HOLD_S
        stored = self._without_restamped_copies(stored)
        statuses = [s for s in batch.statuses if s.id in self.placements]
        for index, status in enumerate(batch.statuses):
            if status.id in self.placements:
                continue
            why = _Misplaced(Reason.UNKNOWN_DEVICE, _UNKNOWN.format(status.id))
            if by_gateway:
                refused.append(
                    Refusal(kind="status", index=index, reason=why.reason, detail=why.detail)
                )
            else:
                dead.append(why.from_status(status))
        # Submitted before taking the lock: this batch's readings go to the time series while
        # the batch before it finishes its transaction.
        written = self._writer.submit(self.store.write, stored)
        queued = self.alerts.sms_queued if self.alerts is not None else 0
        try:
            # The batch its gateway sent before this one first (batchorder.py); meanwhile this
            # one's readings are on their way to the time series.
            self.order.wait_for(batch.gateway, batch.after)
            with self._serial, self.engine.begin() as conn:
                # Another backend on the same PostgreSQL may hold a batch of these devices:
                # this one waits for it, and is judged on the state it leaves (replicas.py).
                if self._shared:
                    lock_devices(conn, {r.device_id for r in stored} | {s.id for s in statuses})
                else:
                    # SQLite's transaction, begun now: the driver (pysqlite) begins one only
                    # before its first INSERT, UPDATE or DELETE. A batch that wrote nothing
                    # before the alerts' savepoint had its SAVEPOINT begin the transaction and
                    # its RELEASE commit it: the alerts and their SMS were kept even when the
                    # time-series write failed after them. IMMEDIATE: the write lock at once,
                    # so no other writer's commit can leave this batch on a stale snapshot.
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                self._keep_dead_letters(conn, dead, batch.gateway)
                if stored and min(r.ts for r in stored) < self._today_starts():
                    late.mark(conn, (r.ts for r in stored))
                events = self._apply_statuses(conn, statuses)
                alert_events = self._judge(conn, stored, received, statuses)
                # After the judgement: a track the engine reads back from SQL catches up with
                # each device's newest stored reading, which must be the one before this batch.
                # Stored first, it was this batch's newest, and the batch's other readings
                # looked late to the track and were left out (after a restart, a rollback).
                self._advance_state(conn, stored, received)
                # The readings are stored before anything commits: if the time series is
                # down, this raises, every state change rolls back and the gateway resends
                # the batch. The events too are written inside the transaction: after the
                # commit, a resend would find the state already moved and they would be lost.
                written.result()
                self.store.write_statuses(events)
                self.store.write_alert_events(alert_events)
        finally:
            wait([written])  # never leave a write running behind a failed batch
        if self.alerts is not None and self.alerts.sms_queued != queued:
            self.alerts.on_queued()  # this batch's SMS leave now; a batch without any wakes none
        return IngestResult(
            stored=len(stored),
            rejected=rejected,
            statuses=len(statuses),
            dead_letters=len(dead),
            refused=refused,
        )

    def _judge(
        self,
        conn: Connection,
        stored: list[StoredReading],
        received: dict[str, float],
        statuses: list[StatusIn],
    ) -> list[AlertEvent]:
        if self.alerts is None:
            return []
        for status in statuses:
            received.setdefault(status.id, status.received_at)
        # A birth carries the node's own clock when it has one; a last will never does.
        seen = [
            Seen(s.id, s.state == "online", float(s.ts or s.received_at), s.received_at)
            for s in statuses
        ]
        # Alerts must never hold readings back: a failure here (a bug, a template that does not
        # fit) would make the gateway resend the batch forever and block all behind it. So it
        # runs in a savepoint, and the batch is stored without its alerts, loudly.
        try:
            with conn.begin_nested():
                # _advance_state stores each device's newest reading in this transaction,
                # after this (so the engine may skip saving a track that only got fresher).
                return self.alerts.on_ingest(conn, stored, received, seen, state_kept=True)
        except Exception:
            log.exception("alert judgement failed for a batch of %d readings", len(stored))
            return []

    def _without_restamped_copies(self, readings: list[StoredReading]) -> list[StoredReading]:
        """Drop unsynced readings already stored under an earlier receive time.

        The gateway stamps an unsynced reading with its receive time, so a copy redelivered
        after a gateway restart carries another ``ts`` and would be a second point in a store
        keyed by time. Only unsynced readings need this look-up, and they are rare: a node
        sends them between boot and its first clock sync.
        """
        unsynced: dict[str, list[StoredReading]] = {}
        for reading in readings:
            if not reading.synced:
                unsynced.setdefault(reading.device_id, []).append(reading)
        if not unsynced:
            return readings
        known: set[tuple[str, int, int]] = set()
        for device_id, items in unsynced.items():
            times = [r.ts for r in items]
            keys = self.store.keys(
                device_id, start=min(times) - RESTAMP_WINDOW_S, end=max(times) + 1
            )
            known.update((device_id, boot, seq) for boot, seq in keys)
        return [r for r in readings if r.synced or r.key not in known]

    @staticmethod
    def _keep_dead_letters(conn: Connection, dead: list[RejectionIn], gateway: str) -> None:
        if not dead:
            return
        # One per id: the readings of one refused message share its letter, and the one made
        # from the item that carried the message's bytes comes first; of a flood letter sent
        # again as it grew, the highest count.
        unique: dict[str, RejectionIn] = {}
        for letter in dead:
            kept = unique.setdefault(letter.id, letter)
            if letter.messages > kept.messages:
                unique[letter.id] = letter
        rows = [{**letter.model_dump(), "gateway": gateway} for letter in unique.values()]
        floods = [row for row in rows if row["reason"] == Reason.FLOOD]
        others = [row for row in rows if row["reason"] != Reason.FLOOD]
        table = db.dead_letters
        if others:
            conn.execute(insert_for(conn, table).on_conflict_do_nothing(), others)
        if floods:  # the count only grows: a batch resent with an older count changes nothing
            stmt = insert_for(conn, table)
            grown = {name: stmt.excluded[name] for name in ("messages", "detail", "payload_bytes")}
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[table.c.id],
                    set_=grown,
                    where=stmt.excluded.messages > table.c.messages,
                ),
                floods,
            )

    @staticmethod
    def _advance_state(
        conn: Connection, stored: Iterable[StoredReading], received: dict[str, float]
    ) -> None:
        latest: dict[str, StoredReading] = {}
        for reading in stored:
            current = latest.get(reading.device_id)
            if current is None or recency(reading) > recency(current):
                latest[reading.device_id] = reading
        rows = [
            (r.device_id, r.ts, r.boot, r.seq, r.synced, json_text(r.values),
             received[r.device_id])
            for r in latest.values()
        ]  # fmt: skip
        _ADVANCE_STATE.execute(conn, rows)

    @staticmethod
    def _apply_statuses(conn: Connection, statuses: list[StatusIn]) -> list[StatusEvent]:
        """Record births and last wills; return the ones that changed a device's state."""
        events = []
        table = db.device_state
        for status in sorted(statuses, key=lambda s: s.received_at):
            online = status.state == "online"
            if status.update is not None:  # what became of an update: whatever else changed
                firmware.observe(conn, status.id, status.update, status.received_at)
            row = conn.execute(
                select(table.c.online, table.c.status_at).where(table.c.device_id == status.id)
            ).first()
            if row is not None and (
                row.online == online or (row.status_at or 0) > status.received_at
            ):
                if online and status.fw and (row.status_at or 0) <= status.received_at:
                    # a node that is online says again what it runs (after an update)
                    conn.execute(
                        table.update().where(table.c.device_id == status.id).values(fw=status.fw)
                    )
                continue  # a retained replay or an older message: no change of state
            values: dict[str, object] = {"online": online, "status_at": status.received_at}
            if status.fw:
                values["fw"] = status.fw
            stmt = insert_for(conn, table).values(device_id=status.id, **values)
            conn.execute(
                stmt.on_conflict_do_update(index_elements=[table.c.device_id], set_=values)
            )
            events.append(StatusEvent(status.id, online, int(status.ts or status.received_at)))
        return events


def _state_upsert(conn: Connection) -> Any:
    """Each device's latest reading, unless the state already holds a later one."""
    table = db.device_state
    stmt = insert_for(conn, table)
    newer = table.c.ts.is_(None) | (
        tuple_(stmt.excluded.ts, stmt.excluded.boot, stmt.excluded.seq)
        > tuple_(table.c.ts, table.c.boot, table.c.seq)
    )
    return stmt.on_conflict_do_update(
        index_elements=[table.c.device_id],
        set_={name: stmt.excluded[name] for name in _STATE_COLUMNS[1:]},
        where=newer,
    )


_STATE_COLUMNS = ("device_id", "ts", "boot", "seq", "synced", "values", "last_seen")
# A row per device of every batch: compiled once, the values' JSON written here (ManyRows).
_ADVANCE_STATE = ManyRows(_state_upsert, _STATE_COLUMNS)


def _misplaced(device_id: str, kind: str, placement: Placement | None) -> _Misplaced:
    if placement is None:
        return _Misplaced(Reason.UNKNOWN_DEVICE, _UNKNOWN.format(device_id))
    return _Misplaced(
        Reason.KIND_MISMATCH,
        f"device {device_id!r} is registered as a {placement.kind}, but sent a {kind} reading",
    )


@dataclass(frozen=True, slots=True)
class _Misplaced:
    """Why the backend refuses a message the gateway accepted: a dead letter in the making."""

    reason: Reason
    detail: str

    def from_reading(self, reading: ReadingIn) -> RejectionIn:
        return self._letter(reading, "telemetry")

    def from_status(self, status: StatusIn) -> RejectionIn:
        return self._letter(status, "status")

    def _letter(self, message: ReadingIn | StatusIn, channel: Channel) -> RejectionIn:
        """The item's dead letter, for a gateway that does not make them itself: the item
        re-serialised (the device's bytes are the gateway's), named by topic and those bytes,
        so that a retained status replayed at every gateway restart stays one letter."""
        payload = message.model_dump_json(exclude=_NOT_SENT, exclude_none=True)
        where = topic(message.id, channel)
        return RejectionIn(
            id=hashlib.sha256(f"{where}\0{payload}".encode()).hexdigest()[:32],
            topic=where,
            device_id=message.id,
            reason=self.reason,
            detail=self.detail,
            payload=payload,
            payload_bytes=len(payload.encode()),
            received_at=message.received_at,
        )


# What the gateway adds to an item: not part of what the device sent.
_NOT_SENT = {"received_at", "retained"}
