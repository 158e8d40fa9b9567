"""While a backlog drains, today's live scores are recomputed every ten minutes instead of every
minute (issue 22): the ingest tells a backlog by its readings' age at arrival."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sangsach.backend.api.ingest import parse_batch
from sangsach.backend.db import make_engine
from sangsach.backend.ingest import BACKLOG_HOLD_S, BACKLOG_LAG_S, Ingest
from sangsach.backend.registry.load import load_commune
from sangsach.backend.scores.schedule import LIVE_FIRST_AFTER_S, LIVE_HELD_S, DailyRollups
from sangsach.backend.scores.service import Scores
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry

COMMUNE = load_registry(SAMPLE_REGISTRY)
LAMP = COMMUNE.villages[0].lanes[0].lamps[0].id


def _batch(seq: int, ts: int, arrival: float) -> bytes:
    reading = {"id": LAMP, "kind": "lamp", "boot": 1, "seq": seq, "ts": ts, "on": True,
               "current_a": 0.2, "received_at": arrival}  # fmt: skip
    return json.dumps({"gateway": "gw-1", "readings": [reading]}).encode()


def draining(ingest: Ingest) -> bool:
    return ingest.draining  # read anew at each call (mypy would take it as fixed after an assert)


def test_a_batch_of_queued_readings_marks_a_backlog_for_a_while(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sangsach.sqlite'}")
    load_commune(engine, COMMUNE)
    store = SqliteStore(tmp_path / "ts.sqlite")
    store.ensure_ready()
    ingest = Ingest(engine, store)
    clock = [1000.0]
    ingest.monotonic = lambda: clock[0]
    now = int(time.time())
    try:
        ingest.handle(parse_batch(_batch(1, now - BACKLOG_LAG_S + 1, now + 0.5)))
        assert not draining(ingest), "a reading a minute old is not a backlog"
        ingest.handle(parse_batch(_batch(2, now - 600, now + 1.0)))
        assert draining(ingest), "ten minutes old at arrival: it was queued"
        clock[0] += BACKLOG_HOLD_S - 1
        ingest.handle(parse_batch(_batch(3, now + 2, now + 2.5)))  # fresh: the backlog is in
        assert draining(ingest)
        clock[0] += 1
        assert not draining(ingest)
    finally:
        ingest.close()
        store.close()


def test_the_live_part_waits_while_a_backlog_drains(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "ts.sqlite") as store:
        store.ensure_ready()
        now = [float(int(time.time()))]
        draining = [False]
        scores = Scores(store, None, COMMUNE, lambda: now[0])
        rollups = DailyRollups(scores, catch_up_days=0, delay_s=900, clock=lambda: now[0],
                               draining=lambda: draining[0])  # fmt: skip
        assert rollups.refresh_live(), "the first: nothing to keep"
        now[0] += 61
        assert rollups.refresh_live(), "a minute on, no backlog: recomputed"
        draining[0] = True
        now[0] += 61
        assert not rollups.refresh_live(), "held while the backlog drains"
        now[0] += LIVE_HELD_S - 61
        assert rollups.refresh_live(), "but never older than LIVE_HELD_S"
        draining[0] = False
        now[0] += 61
        assert rollups.refresh_live()


def test_the_first_live_part_waits_after_the_start(tmp_path: Path) -> None:
    """A backend (re)started while the gateways replay their spools does not re-read today's
    readings as they pour in: the first live part comes LIVE_FIRST_AFTER_S after the start."""
    with SqliteStore(tmp_path / "ts.sqlite") as store:
        store.ensure_ready()
        now = [float(int(time.time()))]
        scores = Scores(store, None, COMMUNE, lambda: now[0])
        rollups = DailyRollups(scores, catch_up_days=0, delay_s=900, clock=lambda: now[0],
                               live_after_s=LIVE_FIRST_AFTER_S)  # fmt: skip
        assert not rollups.refresh_live(), "at the start: not yet"
        now[0] += LIVE_FIRST_AFTER_S - 1
        assert not rollups.refresh_live()
        now[0] += 1
        assert rollups.refresh_live(), "then as usual"
        now[0] += 1
        assert not rollups.refresh_live(), "and kept a minute"
