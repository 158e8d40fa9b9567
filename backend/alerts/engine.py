"""The alert engine: the I/O around the pure rules and lifecycle.

On every ingested batch it updates the tracks of the devices in it and judges them at the
time of their data; a periodic tick judges silence and sends what is due (reminders,
escalations, messages held through quiet hours). Alerts and the SMS outbox are written in the
ingest's own transaction, so an alert is never raised without its message, nor twice.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Text,
    bindparam,
    cast,
    event,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import ExceptionContext

from sangsach.lighting import village_schedules
from sangsach.province_file import Province, each_commune
from sangsach.registry_file import Commune

from .. import db
from ..domain.readings import AlertEvent, StoredReading, recency
from ..domain.rules import thresholds_of
from ..notify.inbound import UnknownAlert
from ..replicas import lock_devices, shared
from ..sql import ManyRows, json_text, upsert
from ..timeseries.port import TimeSeriesStore
from . import tables
from .lifecycle import (
    Alert,
    Level,
    Notice,
    NoticeKind,
    State,
    acknowledge,
    apply_conditions,
    due_notices,
    mark_done,
)
from .model import DEVICE_TYPES, LAMP_TYPES, AlertType, Policy, Thresholds
from .rules import (
    Track,
    came_online,
    catch_up,
    conditions,
    freshness,
    newest_kept,
    observe,
    same_but_freshness,
    same_history,
    take_newest,
    went_offline,
)
from .tables import ALERT_COLUMNS, from_row, from_values, to_row

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sms:
    """One SMS to send: ``key`` makes enqueuing it twice harmless."""

    key: str
    to: str
    kind: str  # a template: an alert type, "reminder", "escalation" or "digest"
    fields: dict[str, str]
    alert_id: int | None


@dataclass(frozen=True, slots=True)
class Seen:
    """A birth or a last will: when the node says it happened, and when it reached us."""

    device_id: str
    online: bool
    data_time: float  # the node's clock in a birth; a will has none, so its arrival
    received_at: float


class Outbox(Protocol):
    def put(self, conn: Connection, messages: Sequence[Sms]) -> None: ...

    def sent_since(self, conn: Connection, to: str, since: float) -> int: ...


@dataclass(frozen=True, slots=True)
class _Place:
    village_id: str
    village: str
    place: str
    kind: str


class AlertEngine:
    def __init__(
        self,
        engine: Engine,
        store: TimeSeriesStore,
        commune: Commune | Province,
        outbox: Outbox,
        *,
        thresholds: Thresholds | None = None,
        policy: Policy | None = None,
        office_phones: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.store = store
        self.outbox = outbox
        self.th = thresholds or Thresholds()
        self.policy = policy or Policy()
        self.clock = clock
        # One writer of the engine's tables at a time: ingest threads, the tick, people's
        # actions. Taken before the SQL transaction (``lock``), never inside one.
        self._lock = threading.RLock()
        self._thresholds = thresholds_of(commune, self.th)
        self._schedules = village_schedules(commune)
        self._places: dict[str, _Place] = {}
        self._heads: dict[str, list[str]] = {}
        self._teams: dict[tuple[str, str], list[str]] = defaultdict(list)
        for one in each_commune(commune):  # a province's: every village under its own commune
            for village in one.villages:
                self._heads[village.id] = [village.head.phone]
                # One place a lane or gathering point, shared by its devices (9 MB at 100,000).
                for lane in village.lanes:
                    lamps = _Place(village.id, village.name, lane.name, "lamp")
                    self._places.update(dict.fromkeys((lamp.id for lamp in lane.lamps), lamps))
                for point in village.points:
                    bins = _Place(village.id, village.name, point.name, "bin")
                    self._places.update(dict.fromkeys((bin_.id for bin_ in point.bins), bins))
            for team in one.teams:
                for village_id in team.villages:
                    self._teams[(village_id, team.role)] += [m.phone for m in team.members]
        self._office = list(office_phones)
        # SMS put in the outbox since the start: a caller that sees it move wakes the sender.
        self.sms_queued = 0
        # Called after a transaction that queued SMS has committed (set by the wiring).
        self.on_queued: Callable[[], None] = lambda: None
        # On PostgreSQL other backends may judge the same devices (backend/replicas.py): their
        # tracks are read from SQL under the devices' locks, never from a copy kept here.
        self._shared = shared(engine)
        self._tracks = TrackCache()
        if not self._shared:
            event.listen(engine, "commit", self._tracks.commit)
            event.listen(engine, "rollback", self._tracks.rollback)
            event.listen(engine, "rollback_savepoint", self._tracks.rollback_savepoint)
            event.listen(engine, "handle_error", self._tracks.error)

    @property
    def lock(self) -> threading.RLock:
        """Held by ingest around its whole transaction, as the tick holds it around its own.

        Every writer takes this lock before the database's, in one order: an ingest holding
        SQLite's one write lock can no longer wait for this lock while the tick holds it and
        waits, in SQLite's busy handler, for that write lock.
        """
        return self._lock

    # -- ingest ---------------------------------------------------------------------------

    def on_ingest(
        self,
        conn: Connection,
        readings: Sequence[StoredReading],
        received: dict[str, float],
        statuses: Iterable[Seen],
        state_kept: bool = False,  # Ingest stored the batch's newest readings: _unsaved
    ) -> list[AlertEvent]:
        """Judge the devices of one batch; returns the alert events to keep as time series.

        On PostgreSQL the caller holds the devices' locks (``lock_devices``, as ``Ingest``
        takes them first in its transaction)."""
        by_device: dict[str, list[StoredReading]] = {}
        for reading in readings:
            by_device.setdefault(reading.device_id, []).append(reading)
        status_by_device: dict[str, list[Seen]] = {}
        for seen in statuses:
            status_by_device.setdefault(seen.device_id, []).append(seen)
        devices = set(by_device) | set(status_by_device)
        if not devices:
            return []
        with self._lock:
            before = self._load_tracks(conn, devices)
            tracks: dict[str, Track] = {}
            changed: dict[str, Track] = {}
            saved: list[Track] = []
            data_time: dict[str, int] = {}
            collected: dict[str, float] = {}
            places, thresholds = self._places, self._thresholds
            # One pass a device (a batch has about one reading a device: the per-device steps
            # were each a loop over the batch's devices, docs/performance.md, issue 22).
            for device_id, committed in before.items():
                # A copy: the cache holds committed state only; it joins when the batch commits.
                tracks[device_id] = track = committed.copy()
                mine, seen_now = by_device.get(device_id), status_by_device.get(device_id)
                if mine:
                    place = places.get(device_id)  # self._th, without a call a device
                    th = thresholds[place.village_id] if place else self.th
                    at = received[device_id]
                    # In the order the node took them, as if each had come alone: an unsynced
                    # reading's ts is the gateway's receive time, later than the synced readings
                    # the node took after it when it was delivered late (a replayed backlog).
                    for reading in sorted(mine, key=_node_order) if len(mine) > 1 else mine:
                        emptied = observe(track, reading, at, th)
                        if emptied is not None:
                            collected[device_id] = emptied
                    # Judged at the time of the data: the newest reading, else the newest status;
                    # never before the track's newest reading. A batch sent again after a later
                    # one was judged (its answer lost, the next already in flight) would
                    # otherwise judge the newer track at the older time, and clear and reopen
                    # its alerts (tests/faults/test_recovery.py). ``observe`` has just made
                    # ``last_ts`` the newest of the track's and these readings' times.
                    data_time[device_id] = track.last_ts or 0
                if seen_now:
                    for seen in sorted(seen_now, key=lambda s: s.received_at):
                        (came_online if seen.online else went_offline)(track, seen.received_at)
                    if not mine:
                        data_time[device_id] = int(max(s.data_time for s in seen_now))
                # ``track != committed``, in two parts: the second is ``_unsaved``'s too.
                rest_same = same_but_freshness(committed, track)
                if not rest_same or freshness(track) != freshness(committed):
                    changed[device_id] = track
                    # Not a track that only got fresher (and took its newest reading's values).
                    if not state_kept or not _unsaved(
                        committed, track, received[device_id], bool(seen_now),
                        rest_same or (mine is not None and _only_newest(committed, track, mine)),
                    ):  # fmt: skip
                        saved.append(track)
            self._save_tracks(conn, saved)
            if not self._shared:
                self._tracks.stage(conn, changed)
            return self._judge(conn, tracks, data_time, collected)

    # -- periodic ---------------------------------------------------------------------------

    def tick(self) -> list[AlertEvent]:
        """Judge silent devices and send what is due; call every half minute or so."""
        now = self.clock()
        with self._lock, self.engine.begin() as conn:
            # Only silence is judged against the clock; the rest at the time of the data.
            alerting: set[str] | None = None  # all
            if self._shared:
                # Other backends ingest meanwhile: the devices that look silent and those with
                # an active alert are locked, then their tracks read whole; a device that spoke
                # since is not silent.
                looks_silent = self._silent(self._freshness(conn), now)
                alerting = {device_id for (device_id,) in conn.execute(_ALERTING)}
                lock_devices(conn, looks_silent.keys() | alerting)
                silent = self._silent(self._load_tracks(conn, set(looks_silent)), now)
            else:
                silent = self._silent(self._load_tracks(conn, None), now)
            events = self._judge(conn, silent, dict.fromkeys(silent, int(now)), {})
            self._send_due(conn, self.active(conn, alerting), now)
        self.on_queued()
        self.store.write_alert_events(events)
        return events

    def _freshness(self, conn: Connection) -> dict[str, Track]:
        """Every device's track with only what silence is judged on (``conditions``: its kind,
        when it was last heard from, a last will), three values from SQL rather than the whole
        track: at 100,000 devices the tick reads these every half minute."""
        table, state = tables.alert_tracks, db.device_state
        track = table.c.track
        query = select(
            table.c.device_id,
            track["kind"].as_string(),
            track["last_seen"].as_float(),
            track["will_at"].as_float(),
            state.c.last_seen,
        ).outerjoin(state, state.c.device_id == table.c.device_id)
        places = self._places
        found = {}
        for device_id, kind, last_seen, will_at, stored_last_seen in conn.execute(query):
            if device_id in places:
                found[device_id] = fresh = Track(
                    device_id, kind, last_seen=last_seen, will_at=will_at
                )
                catch_up(fresh, None, stored_last_seen)
        return found

    def _silent(self, tracks: dict[str, Track], now: float) -> dict[str, Track]:
        return {
            d: t
            for d, t in tracks.items()
            if AlertType.DEVICE_OFFLINE
            in conditions(t, int(now), self._required(d), self._th(d)).holding
        }

    # -- people -------------------------------------------------------------------------------

    def get(self, alert_id: int) -> Alert:
        with self.engine.connect() as conn:
            row = conn.execute(select(tables.alerts).where(tables.alerts.c.id == alert_id)).first()
        if row is None:
            raise UnknownAlert(f"no alert {alert_id}")
        return from_row(row._mapping)

    def acknowledge(self, alert_id: int, by: str) -> Alert:
        return self._change(alert_id, lambda a, now: acknowledge(a, by, now))

    def mark_done(self, alert_id: int, by: str) -> Alert:
        return self._change(alert_id, lambda a, now: mark_done(a, by, now))

    def assign(self, alert_id: int, to: str) -> Alert:
        def _assign(alert: Alert, now: float) -> None:
            alert.assigned_to = to

        return self._change(alert_id, _assign)

    def _change(self, alert_id: int, change: Callable[[Alert, float], None]) -> Alert:
        with self._lock, self.engine.begin() as conn:
            row = conn.execute(select(tables.alerts).where(tables.alerts.c.id == alert_id)).first()
            if row is None:
                raise UnknownAlert(f"no alert {alert_id}")
            if self._shared:  # read again once no other backend judges its device
                lock_devices(conn, [row.device_id])
                row = conn.execute(
                    select(tables.alerts).where(tables.alerts.c.id == alert_id)
                ).one()
            alert = from_row(row._mapping)
            if alert.state is State.CLEARED:
                return alert
            change(alert, self.clock())
            self._save(conn, [alert])
            return alert

    # -- inside ---------------------------------------------------------------------------------

    def _th(self, device_id: str) -> Thresholds:
        place = self._places.get(device_id)
        return self._thresholds[place.village_id] if place else self.th

    def _required(self, device_id: str) -> Callable[[int], bool]:
        place = self._places.get(device_id)
        if place is None:
            return lambda t: False
        return self._schedules[place.village_id].is_lit

    def _judge(
        self,
        conn: Connection,
        tracks: dict[str, Track],
        data_time: dict[str, int],
        collected: dict[str, float],
    ) -> list[AlertEvent]:
        now = self.clock()
        active = self._active_by_device(conn, set(tracks))
        touched: list[Alert] = []
        places, schedules, thresholds = self._places, self._schedules, self._thresholds
        for device_id, track in tracks.items():
            place = places.get(device_id)
            if place is None:
                continue
            at, village_id = data_time[device_id], place.village_id
            # self._required and self._th, without two calls a device
            found = conditions(track, at, schedules[village_id].is_lit, thresholds[village_id])
            mine = active.get(device_id, {})
            if not mine and not found.holding:
                continue  # nothing to open, nothing to clear: most devices of a batch
            changes = apply_conditions(mine, device_id, place.village_id, found, at, clock=now)
            for alert in changes.cleared:
                if alert.type is AlertType.BIN_FULL and device_id in collected:
                    alert.collected_at = collected[device_id]
            touched += changes.opened + changes.cleared
        self._save(conn, touched)  # gives new alerts their ids, which are their SMS codes
        _mark_online(conn, touched)
        events = [
            _event(a, "opened", a.opened_at)
            if a.active
            else _event(a, "cleared", a.cleared_at or now)
            for a in touched
        ]
        self._send_due(conn, [a for a in touched if a.active], now)
        return events

    def _send_due(self, conn: Connection, alerts: Sequence[Alert], now: float) -> None:
        notices = [n for alert in alerts for n in due_notices(alert, now, self.policy)]
        if not notices:
            return
        per_phone: dict[str, list[Notice]] = defaultdict(list)
        for notice in notices:
            for level in notice.levels:
                for phone in self._phones(notice.alert, level):
                    per_phone[phone].append(notice)
        messages = []
        for phone, mine in per_phone.items():
            urgent = any(n.alert.critical for n in mine)
            if (
                not urgent
                and self.outbox.sent_since(conn, phone, now - 3600) >= self.policy.max_sms_per_hour
            ):
                log.info("rate limit: %d notices for %s wait", len(mine), phone)
                for notice in mine:
                    notice.alert.next_notice_at = now + 900
                continue
            messages.append(self._sms(phone, mine, now))
        self._save(conn, [n.alert for n in notices])
        self.outbox.put(conn, messages)
        self.sms_queued += len(messages)

    def _sms(self, phone: str, notices: list[Notice], now: float) -> Sms:
        if len(notices) > 1:
            codes = " ".join(str(n.alert.id) for n in notices)
            urgent = min(notices, key=lambda n: (not n.alert.critical, n.alert.raised_at))
            place = self._places[urgent.alert.device_id]
            fields = {"count": str(len(notices)), "codes": codes, "place": place.place,
                      "village": place.village}  # fmt: skip
            return Sms(f"digest:{phone}:{int(now)}", phone, "digest", fields, None)
        notice = notices[0]
        alert = notice.alert
        place = self._places[alert.device_id]
        kind = alert.type.value if notice.kind is NoticeKind.NEW else notice.kind.value
        fields = {
            "device": alert.device_id,
            "place": place.place,
            "village": place.village,
            "code": str(alert.id),
            "type": alert.type.value,
        }
        key = f"alert:{alert.id}:{notice.kind}:{alert.reminders}:{alert.level}:{phone}"
        return Sms(key, phone, kind, fields, alert.id)

    def recipients(self, alert: Alert) -> dict[str, Level]:
        """Every phone an alert's SMS go to, at one level or another, with the first level that
        reaches it: the team of its village and work, the village head, the commune office.
        They, and nobody else, may answer the alert by SMS."""
        found: dict[str, Level] = {}
        for level in Level:
            for phone in self._phones(alert, level):
                found.setdefault(phone, level)
        return found

    def _phones(self, alert: Alert, level: Level) -> list[str]:
        place = self._places.get(alert.device_id)
        if place is None:  # a device taken out of the registry: only the office is left
            return self._office if level is Level.OFFICE else []
        if level is Level.TEAM:
            lamp_work = alert.type in LAMP_TYPES or (
                alert.type in DEVICE_TYPES and place.kind == "lamp"
            )
            return self._teams.get(
                (place.village_id, "lighting" if lamp_work else "collection"), []
            )
        if level is Level.HEAD:
            return self._heads.get(place.village_id, [])
        return self._office

    def _load_tracks(self, conn: Connection, devices: set[str] | None) -> dict[str, Track]:
        """The committed tracks of these devices (or of all), from the cache; what it lacks in
        one query. The returned tracks are the cache's own: never change them. On PostgreSQL
        all from SQL, and no cache."""
        if self._shared:
            return self._read_tracks(conn, devices)
        cache = self._tracks
        # Not ``devices - known.keys()``: a set minus a dict's keys walks all the keys.
        missing = None if devices is None else {d for d in devices if d not in cache.known}
        loaded: dict[str, Track] = {}
        if missing or (devices is None and not cache.complete):
            generation = cache.generation
            # The JSON as text, parsed here only for a device the cache lacks: the tick's
            # first read of every track skips those already in memory (at 100,000 devices,
            # parsing them all again cost tens of MB at once).
            query = _tracks_read_back()
            if missing is not None:
                query = query.where(tables.alert_tracks.c.device_id.in_(missing))
            known = cache.known
            for device_id, text, ts, last_seen, values in conn.execute(query):
                if missing is None and device_id in known:
                    continue
                track = _read_back(text, ts, last_seen, values)
                track.kind = sys.intern(track.kind)  # one "lamp" for all: tracks stay in memory
                track.device_id = sys.intern(track.device_id)  # and the registry's own id
                loaded[track.device_id] = track
            cache.fill(loaded, missing, generation)
        known = cache.known
        if devices is None:
            return {d: t for d, t in (loaded | known).items() if d in self._places}
        found = {}
        for device_id in devices:
            if device_id not in self._places:
                continue
            stored = known.get(device_id) or loaded.get(device_id)
            if stored is None:
                # The id as the registry holds it (interned), not the batch's copy: the track
                # and the cache's key keep it for the process's life (6 MB at 100,000).
                device_id = sys.intern(device_id)
                stored = Track(device_id, self._places[device_id].kind)
            found[device_id] = stored
        return found

    def _read_tracks(self, conn: Connection, devices: set[str] | None) -> dict[str, Track]:
        """The stored tracks of these devices (or of all), read now and caught up with their
        newest stored reading (``_unsaved``); a new track for a device of these that has none."""
        query = _tracks_read_back()
        if devices is not None:
            if not devices:
                return {}
            query = query.where(tables.alert_tracks.c.device_id.in_(devices))
        places = self._places
        found = {}
        for device_id, text, ts, last_seen, values in conn.execute(query):
            if device_id in places:
                found[device_id] = _read_back(text, ts, last_seen, values)
        if devices is not None:
            for device_id in devices:
                if device_id in places and device_id not in found:
                    found[device_id] = Track(device_id, places[device_id].kind)
        return found

    @staticmethod
    def _save_tracks(conn: Connection, tracks: Iterable[Track]) -> None:
        _SAVE_TRACKS.execute(conn, [(t.device_id, json_text(t.to_json())) for t in tracks])

    def active(self, conn: Connection, devices: set[str] | None = None) -> list[Alert]:
        """Alerts not cleared, of these devices or of all."""
        query = select(*ALERT_COLUMNS).where(_NOT_CLEARED)
        if devices is not None:
            query = query.where(tables.alerts.c.device_id.in_(devices))
        return [from_values(row) for row in conn.execute(query)]

    def _active_by_device(
        self, conn: Connection, devices: set[str]
    ) -> dict[str, dict[AlertType, Alert]]:
        """The active alerts of these devices, by device and type.

        Most devices of a batch have none. Which devices have any comes first, from the partial
        index of active alerts (a few ids; a storm's thousands); only those are read in full.
        An IN list of a whole batch's 2,000 devices cost more to build than the query.
        """
        grouped: dict[str, dict[AlertType, Alert]] = defaultdict(dict)
        alerting = {device_id for (device_id,) in conn.execute(_ALERTING)}
        mine = devices & alerting
        if mine:
            for alert in self.active(conn, mine):
                grouped[alert.device_id][alert.type] = alert
        return grouped

    @staticmethod
    def _save(conn: Connection, alerts: Iterable[Alert]) -> None:
        """New alerts in one insert and changed ones in one update, however many (a storm)."""
        unique = list({id(a): a for a in alerts}.values())
        old = [{"_id": a.id, **to_row(a)} for a in unique if a.id is not None]
        if old:
            conn.execute(_UPDATE_ALERTS, old)
        new = [a for a in unique if a.id is None]
        if new:
            ids = conn.execute(_INSERT_ALERTS, [to_row(a) for a in new]).scalars().all()
            for alert, alert_id in zip(new, ids, strict=True):
                alert.id = int(alert_id)


# An alert not cleared: the condition written as the partial index's own
# (tables.one_active_alert), a literal, so that the database can answer from that index.
_NOT_CLEARED = tables.alerts.c.state != literal_column(f"'{State.CLEARED.value}'")
# The devices with such an alert.
_ALERTING = select(tables.alerts.c.device_id).where(_NOT_CLEARED)

# Every batch saves a track per device: compiled once, with the JSON written here (ManyRows).
_SAVE_TRACKS = ManyRows(
    lambda conn: upsert(conn, tables.alert_tracks, ["device_id"], ["track"]), ("device_id", "track")
)
_INSERT_ALERTS = insert(tables.alerts).returning(tables.alerts.c.id, sort_by_parameter_order=True)
_UPDATE_ALERTS = update(tables.alerts).where(tables.alerts.c.id == bindparam("_id"))


def _tracks_read_back() -> Select[Any]:
    """Each stored track as JSON text, with its device's newest stored reading (``device_state``)
    as the ingest stored it: a track is not saved when only that moved (``_unsaved``)."""
    table, state = tables.alert_tracks, db.device_state
    return select(
        table.c.device_id,
        cast(table.c.track, Text),
        state.c.ts,
        state.c.last_seen,
        cast(state.c["values"], Text),
    ).outerjoin(state, state.c.device_id == table.c.device_id)


def _read_back(text: str, ts: int | None, last_seen: float | None, values: str | None) -> Track:
    """A stored track, caught up with its device's newest stored reading (``_unsaved``)."""
    track = Track.from_json(orjson.loads(text))
    if catch_up(track, ts, last_seen) and values is not None and track.kind == "bin":
        take_newest(track, orjson.loads(values))  # a lamp's track keeps none of its values
    return track


def _only_newest(before: Track, after: Track, mine: list[StoredReading]) -> bool:
    """Besides its freshness, the batch moved only the track's newest values (``NEWEST``), to
    those of the batch's newest reading, which ``Ingest`` stores in ``device_state``."""
    newest = mine[0] if len(mine) == 1 else max(mine, key=recency)
    return same_history(before, after) and newest_kept(after, newest.values)


def _node_order(reading: StoredReading) -> tuple[int, int]:
    """A device's readings in the order the node took them: its boot counter, then the sequence
    number within the boot (the wire contract, docs/protocol.md). The same order as by ``ts``
    for synced readings; not for a reading the gateway stamped (``synced`` false)."""
    return (reading.boot, reading.seq)


def _unsaved(
    before: Track,
    after: Track,
    received_at: float,
    statuses: bool,
    rest_same: bool,  # same but freshness, or but freshness and _only_newest: the caller's
) -> bool:
    """Whether a track a batch changed need not be saved: only its freshness moved, to the
    newest reading that ``Ingest`` stored in ``device_state`` in the same transaction
    (``on_ingest(..., state_kept=True)``), and perhaps its newest values, to that reading's
    (``_only_newest``). A healthy lamp's track changes only so, and a filling bin's.

    The row is written when the batch's newest reading is newer than the row's. A track's
    ``last_ts`` is never behind the row's ``ts`` (a track read back from SQL catches up with
    it: ``catch_up``), so a ``last_ts`` that moved forward means the row was written, with
    that ``ts`` and the batch's ``received`` as ``last_seen``. A birth or a will is not in the
    row: a track that took one is saved.

    The newest values too: read back, a track whose row is behind ``device_state`` takes that
    reading's values (``take_newest``, each kept as it was where the reading lacks it). A batch
    leaves them unsaved only when each is that reading's own or None (``newest_kept``), so
    whatever older values the row holds, the track read back has the ones this batch left.
    """
    return (
        not statuses
        and before.last_ts is not None
        and after.last_ts is not None
        and after.last_ts > before.last_ts
        and after.last_seen == received_at
        and rest_same
    )


def _mark_online(conn: Connection, alerts: Sequence[Alert]) -> None:
    """The device state follows the offline alert: silence makes a device offline too."""
    for alert in alerts:
        if alert.type is AlertType.DEVICE_OFFLINE:
            state = db.device_state
            conn.execute(
                update(state)
                .where(state.c.device_id == alert.device_id)
                .values(online=not alert.active)
            )


def _event(alert: Alert, what: Literal["opened", "cleared"], at: float) -> AlertEvent:
    assert alert.id is not None
    return AlertEvent(alert.id, alert.device_id, alert.village_id, alert.type.value, what, int(at))


class TrackCache:
    """The committed rule track of each device, kept in memory so that a batch does not read
    its devices' tracks back from SQL.

    It only ever holds what the database holds: a batch works on copies and ``stage``s the ones
    it changed on its connection; they join the cache when that transaction commits, and are
    dropped with it when it rolls back. Any database error empties the cache (a failed commit
    after its tracks were published): the next batch reads from SQL again. The engine is the
    only writer of the tracks table.
    """

    def __init__(self) -> None:
        self.known: dict[str, Track] = {}
        self.complete = False  # every stored track is in ``known``
        self.generation = 0  # moves when tracks are forgotten: a read begun before is not kept
        self._staged: dict[Connection, dict[str, Track]] = {}

    def fill(self, loaded: dict[str, Track], asked: set[str] | None, generation: int) -> None:
        """Tracks read from SQL. A track published meanwhile is newer: it stays."""
        if generation != self.generation:
            return
        for device_id, track in loaded.items():
            self.known.setdefault(device_id, track)
        if asked is None:
            self.complete = True

    def stage(self, conn: Connection, tracks: dict[str, Track]) -> None:
        if tracks:
            self._staged.setdefault(conn, {}).update(tracks)

    def commit(self, conn: Connection) -> None:
        # Called just before the database commits, while the transaction still holds its
        # locks: no other batch can have read these devices' rows in between.
        staged = self._staged.pop(conn, None)
        if staged:
            self.known.update(staged)

    def rollback(self, conn: Connection) -> None:
        self._forget(self._staged.pop(conn, None))

    def rollback_savepoint(self, conn: Connection, name: str, context: object) -> None:
        # The staged tracks may be from inside the savepoint (undone) or from before it (kept):
        # not knowing which, they are forgotten, and read again from SQL when next needed.
        self._forget(self._staged.pop(conn, None))

    def error(self, context: ExceptionContext) -> None:
        self.generation += 1
        self.known = {}
        self.complete = False

    def _forget(self, staged: dict[str, Track] | None) -> None:
        if not staged:
            return
        self.generation += 1
        for device_id in staged:
            self.known.pop(device_id, None)
        self.complete = False
