"""A track that only got fresher is not saved again (issue 22): the same alerts either way.

``Ingest`` stores each device's newest reading in ``device_state``; the alert engine then skips
saving a track whose only change is that reading's time and arrival, and perhaps a bin's newest
values, to that reading's own (``_unsaved``), and a track read back from SQL catches up with
``device_state``. These tests feed the same random batches (lamps switching, failing and
staying as they were, bins filling, burning, emptied, their sensors failing or left out,
readings replayed late or twice, births and wills, restarts of the engine) through the real
ingest and engine with and without the shortcut, and ask for identical alerts, SMS and tracks.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from sangsach.backend.alerts import engine as engine_module
from sangsach.backend.alerts.engine import AlertEngine, Sms
from sangsach.backend.alerts.model import Policy
from sangsach.backend.alerts.tables import alert_tracks, alerts
from sangsach.backend.api.ingest import parse_batch
from sangsach.backend.db import make_engine
from sangsach.backend.domain.readings import AlertEvent, StoredReading
from sangsach.backend.ingest import Ingest
from sangsach.backend.registry.load import load_commune
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry

COMMUNE = load_registry(SAMPLE_REGISTRY)
VILLAGE = COMMUNE.villages[0]
LAMPS = [lamp.id for lane in VILLAGE.lanes for lamp in lane.lamps][:4]
BINS = [b.id for point in VILLAGE.points for b in point.bins][:3]
START = 1_780_000_000
# Bin sensors that fail, with the values their failure leaves out.
FAILING = [("thermometer", ["temp_c"]), ("tilt", ["tilt_deg"]), ("battery", ["battery_v"]),
           ("ultrasonic", ["fill_pct", "distance_cm"])]  # fmt: skip


class Outbox:
    def __init__(self) -> None:
        self.sent: list[Sms] = []

    def put(self, conn: Connection, messages: Sequence[Sms]) -> None:
        self.sent += messages

    def sent_since(self, conn: Connection, to: str, since: float) -> int:
        return 0


class Clock:
    now = float(START)

    def __call__(self) -> float:
        return self.now


class SavingEveryTrack(AlertEngine):
    """The engine as before the shortcut: every changed track saved."""

    def on_ingest(
        self,
        conn: Connection,
        readings: Sequence[StoredReading],
        received: dict[str, float],
        statuses: Any,
        state_kept: bool = False,
    ) -> list[AlertEvent]:
        return super().on_ingest(conn, readings, received, statuses, state_kept=False)


class Backend:
    def __init__(self, root: Path, engine_class: type[AlertEngine]) -> None:
        root.mkdir()
        self.sql = make_engine(f"sqlite:///{root / 'sangsach.sqlite'}")
        load_commune(self.sql, COMMUNE)
        self.store = SqliteStore(root / "ts.sqlite")
        self.store.ensure_ready()
        self.outbox, self.clock = Outbox(), Clock()
        self.engine_class = engine_class
        self.start()

    def start(self) -> None:
        """(Re)start the engine and the ingest on the same databases: nothing in memory."""
        quiet_never = Policy(quiet_start_min=0, quiet_end_min=0)
        self.alerts = self.engine_class(
            self.sql, self.store, COMMUNE, self.outbox, policy=quiet_never, clock=self.clock
        )
        self.ingest = Ingest(self.sql, self.store, self.alerts)

    def handle(self, body: bytes, now: float) -> None:
        self.clock.now = now
        self.ingest.handle(parse_batch(body))

    def tick(self, now: float) -> None:
        self.clock.now = now
        self.alerts.tick()

    def outcome(self) -> tuple[list[tuple[Any, ...]], list[Sms], dict[str, Any]]:
        with self.sql.connect() as conn:
            rows = [tuple(r) for r in conn.execute(select(alerts).order_by(alerts.c.id))]
        return rows, list(self.outbox.sent), tracks_as_read_back(self.sql, self.store)

    def close(self) -> None:
        self.ingest.close()
        self.store.close()


def tracks_as_read_back(sql: Engine, store: SqliteStore) -> dict[str, Any]:
    """The tracks a restarted engine reads from SQL."""
    fresh = AlertEngine(sql, store, COMMUNE, Outbox())
    with sql.connect() as conn:
        return {d: t.to_json() for d, t in fresh._load_tracks(conn, None).items()}


def batches(seed: int, count: int) -> list[tuple[bytes, float, bool]]:
    """``count`` random gateway batches: (body, arrival, restart the backend before it)."""
    rng = random.Random(seed)
    ts = START
    seq = dict.fromkeys(LAMPS + BINS, 0)
    lamp_mode = dict.fromkeys(LAMPS, "lit")
    fill = dict.fromkeys(BINS, 20.0)
    sent: list[dict[str, Any]] = []
    out = []
    for _ in range(count):
        ts += rng.choice([30, 120, 300, 300, 300, 600, 900, 1800, 4000])
        readings: list[dict[str, Any]] = []
        statuses: list[dict[str, Any]] = []
        for lamp in rng.sample(LAMPS, rng.randint(0, len(LAMPS))):
            if rng.random() < 0.25:  # most readings say what the one before said
                lamp_mode[lamp] = rng.choice(["lit", "lit", "dark", "off", "broken"])
            mode = lamp_mode[lamp]
            for _same_second in range(rng.choice([1, 1, 1, 2])):
                seq[lamp] += 1
                readings.append({
                    "id": lamp, "kind": "lamp", "boot": 1, "seq": seq[lamp], "ts": ts,
                    "on": mode != "off", "current_a": 0.2 if mode == "lit" else 0.0,
                    "voltage_v": 230.0, "lux": 2.0, "fault": mode == "broken", "rssi": -60,
                })  # fmt: skip
        for bin_id in rng.sample(BINS, rng.randint(0, len(BINS))):
            fill[bin_id] = (
                rng.uniform(0, 10) if rng.random() < 0.15
                else min(100.0, fill[bin_id] + rng.choice([0.0, 0.0, 3.0, 12.0]))
            )  # fmt: skip
            seq[bin_id] += 1
            reading: dict[str, Any] = {
                "id": bin_id, "kind": "bin", "boot": 1, "seq": seq[bin_id], "ts": ts,
                "fill_pct": round(fill[bin_id], 1), "distance_cm": 50.0,
                "battery_v": rng.choice([3.9, 3.85, 3.8, 3.3]),
                "temp_c": rng.choice([28.0, 29.5, 31.0, 80.0]), "tilt_deg": rng.choice([1.0, 2.5]),
            }  # fmt: skip
            if bin_id == BINS[-1]:  # a bin without a tilt sensor: never a tilt
                del reading["tilt_deg"]
            if rng.random() < 0.2:  # a sensor that could not be read: its value missing
                sensor, names = rng.choice(FAILING)
                for name in names:
                    reading.pop(name, None)
                reading["sensor_errors"] = [sensor]
            elif rng.random() < 0.1:  # a value left out, no error named
                reading.pop(rng.choice(["temp_c", "battery_v", "tilt_deg"]), None)
            readings.append(reading)
        if sent and rng.random() < 0.2:  # a reading replayed late, or delivered twice
            readings.append(rng.choice(sent))
        if rng.random() < 0.15:
            device = rng.choice(LAMPS + BINS)
            state = rng.choice(["online", "offline"])
            statuses.append({"id": device, "state": state, "received_at": ts + 1.0,
                             **({"ts": ts} if state == "online" else {})})  # fmt: skip
        sent += readings
        arrival = ts + rng.choice([0.5, 1.0, 2.5])
        body = {
            "gateway": "gw-1",
            "readings": [{**r, "received_at": arrival} for r in readings],
            "statuses": statuses,
        }
        out.append((json.dumps(body).encode(), arrival, rng.random() < 0.1))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_same_alerts_sms_and_tracks_with_and_without_the_shortcut(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipped: list[bool] = []
    decide = engine_module._unsaved

    def counted(*args: Any) -> bool:
        skipped.append(decide(*args))
        return skipped[-1]

    monkeypatch.setattr(engine_module, "_unsaved", counted)
    saving = Backend(tmp_path / "saving", SavingEveryTrack)
    skipping = Backend(tmp_path / "skipping", AlertEngine)
    try:
        for body, arrival, restart in batches(seed, 50):
            for backend in (saving, skipping):
                if restart:
                    backend.start()
                backend.handle(body, arrival)
                backend.tick(arrival + 5)
            running = {d: t.to_json() for d, t in skipping.alerts._tracks.known.items()}
            read_back = tracks_as_read_back(skipping.sql, skipping.store)
            assert {d: read_back[d] for d in running} == running, "a restart would read these"
        end = arrival + 6 * 3600  # everything silent: the tick judges from the stored tracks
        for backend in (saving, skipping):
            backend.start()
            backend.tick(end)
        before, after = saving.outcome(), skipping.outcome()
        assert before[0] == after[0], "the same alerts, opened and cleared at the same times"
        assert before[1] == after[1], "the same SMS"
        assert before[2] == after[2], "a restarted engine reads the same tracks"
        assert any(row for row in before[0]), "the sequence raised alerts"
        assert sum(skipped) > 50, "tracks went unsaved (else this tests nothing)"
    finally:
        saving.close()
        skipping.close()


def test_a_track_read_back_is_as_fresh_as_the_running_one(tmp_path: Path) -> None:
    """A lamp reporting the same lit state: its track is saved once, then only device_state
    moves; a restarted engine reads the newest time and arrival, as the running one holds."""
    backend = Backend(tmp_path / "b", AlertEngine)
    try:
        lamp = LAMPS[0]
        for n in range(1, 6):
            ts = START + 300 * n
            reading = {"id": lamp, "kind": "lamp", "boot": 1, "seq": n, "ts": ts, "on": True,
                       "current_a": 0.2, "received_at": ts + 0.5}  # fmt: skip
            backend.handle(json.dumps({"gateway": "gw-1", "readings": [reading]}).encode(), ts)
        running = backend.alerts._tracks.known[lamp]
        assert (running.last_ts, running.last_seen) == (START + 1500, START + 1500.5)
        with backend.sql.connect() as conn:
            [raw] = conn.execute(select(alert_tracks.c.track)).one()
        assert raw["last_ts"] == START + 300, "saved once, when it first lit"
        read_back = tracks_as_read_back(backend.sql, backend.store)[lamp]
        assert read_back == running.to_json()
        # A birth is not in device_state: a track that took one is saved.
        status = {"id": lamp, "state": "online", "ts": START + 1600, "received_at": START + 1601}
        backend.handle(json.dumps({"gateway": "gw-1", "statuses": [status]}).encode(), START + 1601)
        assert tracks_as_read_back(backend.sql, backend.store)[lamp]["last_seen"] == START + 1601
    finally:
        backend.close()


def test_a_batch_after_a_restart_is_judged_on_all_its_readings(tmp_path: Path) -> None:
    """A restarted engine reads a device's track back from SQL inside the batch's transaction.
    It must read the state as the batch found it: caught up with the device's newest reading
    as ``Ingest`` had just stored it for this very batch, the track took that reading as its
    latest, and every other reading of the batch as late. A lamp toggling seven times in one
    batch opened ``cycling`` on a running backend and nothing on a restarted one (in the fault
    recovery test: a cycling lamp judged dark for 25 minutes after a backend restart)."""
    lamp = LAMPS[0]

    def body(readings: list[tuple[int, int, bool]], arrival: float) -> bytes:
        return json.dumps({
            "gateway": "gw-1",
            "readings": [
                {"id": lamp, "kind": "lamp", "boot": 1, "seq": seq, "ts": ts, "on": lit,
                 "current_a": 0.2 if lit else 0.0, "voltage_v": 230.0, "lux": 2.0,
                 "fault": False, "rssi": -60, "received_at": arrival}
                for seq, ts, lit in readings
            ],
            "statuses": [],
        }).encode()  # fmt: skip

    first = body([(1, START, True)], START + 1.0)
    toggling = [(seq, START + 120 * seq, seq % 2 == 1) for seq in range(2, 9)]
    later = START + 120 * 9.0
    running, restarted = (
        Backend(tmp_path / "running", AlertEngine),
        Backend(tmp_path / "restarted", AlertEngine),
    )
    try:
        for backend in (running, restarted):
            backend.handle(first, START + 1.0)
        restarted.start()  # nothing in memory: the lamp's track is read back from SQL
        for backend in (running, restarted):
            backend.handle(body(toggling, later), later)
        kinds = []
        for backend in (running, restarted):
            with backend.sql.connect() as conn:
                kinds.append(sorted(conn.execute(select(alerts.c.type)).scalars()))
        assert kinds[0] == ["cycling"], kinds
        assert kinds[1] == kinds[0], "a restart changes nothing"
    finally:
        running.close()
        restarted.close()


def bin_body(seq: int, ts: int, **values: float) -> bytes:
    reading = {"id": BINS[0], "kind": "bin", "boot": 1, "seq": seq, "ts": ts,
               "received_at": ts + 0.5, **values}  # fmt: skip
    return json.dumps({"gateway": "gw-1", "readings": [reading]}).encode()


def saved_bin_track(backend: Backend) -> dict[str, Any]:
    with backend.sql.connect() as conn:
        row = conn.execute(
            select(alert_tracks.c.track).where(alert_tracks.c.device_id == BINS[0])
        ).one()
    return row[0]  # type: ignore[no-any-return]


def test_a_filling_bin_is_saved_once_and_read_back_as_it_runs(tmp_path: Path) -> None:
    """A bin filling up, its temperature and battery moving, no threshold near: only the newest
    values move, and ``device_state`` holds them, so the track is saved once, when first seen
    (it was saved at every reading before: a fifth of the drain's readings)."""
    backend = Backend(tmp_path / "b", AlertEngine)
    try:
        for n in range(1, 6):
            ts = START + 600 * n
            body = bin_body(n, ts, fill_pct=10.0 + n, temp_c=28.0 + n, battery_v=3.9 - n / 100)
            backend.handle(body, ts)
        assert saved_bin_track(backend)["fill"] == 11.0, "saved once, when first seen"
        running = backend.alerts._tracks.known[BINS[0]]
        assert (running.fill, running.temp, running.battery) == (15.0, 33.0, 3.85)
        assert tracks_as_read_back(backend.sql, backend.store)[BINS[0]] == running.to_json()
    finally:
        backend.close()


def test_a_value_the_newest_reading_lacks_is_saved(tmp_path: Path) -> None:
    """The newest reading lacks the temperature, which an unsaved reading before it had moved:
    ``device_state`` cannot give it back, so this batch saves the track."""
    backend = Backend(tmp_path / "b", AlertEngine)
    try:
        backend.handle(bin_body(1, START, fill_pct=10.0, temp_c=28.0), START)
        backend.handle(bin_body(2, START + 600, fill_pct=11.0, temp_c=29.5), START + 600)
        assert saved_bin_track(backend)["temp"] == 28.0, "the second reading left it unsaved"
        backend.handle(bin_body(3, START + 1200, fill_pct=12.0), START + 1200)
        assert saved_bin_track(backend)["temp"] == 29.5
        read_back = tracks_as_read_back(backend.sql, backend.store)[BINS[0]]
        assert (read_back["fill"], read_back["temp"]) == (12.0, 29.5)
    finally:
        backend.close()
