"""Daily rollups on a schedule: missed days caught up at start by a real backend process, and
yesterday rolled up after local midnight + the delay (an injected clock)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from sangsach.backend.domain.readings import DailyScore, StoredReading
from sangsach.backend.scores.days import local_midnight
from sangsach.backend.scores.parts import PART_NAMES
from sangsach.backend.scores.schedule import DailyRollups, next_run_after
from sangsach.backend.scores.service import Scores
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.localbroker import LocalBroker
from sangsach.registry_file import parse_registry
from sangsach.sun import VIETNAM
from tests import scenario_exact as sc
from tests.harness import GATEWAY, Stack, wait_until

COMMUNE = parse_registry(sc.REGISTRY, "scenario.yaml")
KEYS = ("id", "kind", "boot", "seq", "ts", "received_at")


def _stored() -> list[StoredReading]:
    """The scenario's readings as the backend stores them."""
    village = {"an": "thon-an", "binh": "thon-binh"}
    return [
        StoredReading(r["id"], r["kind"], village[r["id"].split("-")[1]], "p", r["boot"],
                      r["seq"], r["ts"], True, {k: v for k, v in r.items() if k not in KEYS})
        for r in sc.lamp_readings() + sc.bin_readings()
    ]  # fmt: skip


def test_next_run_is_after_the_next_local_midnight() -> None:
    assert next_run_after(sc.DAY1 - 1, 900) == sc.DAY1 + 900
    assert next_run_after(sc.DAY1 + 899, 900) == sc.DAY1 + 900
    assert next_run_after(sc.DAY1 + 900, 900) == sc.DAY1 + sc.DAY + 900


def test_the_day_just_ended_is_rolled_up_after_midnight(tmp_path: Path) -> None:
    now = [float(sc.DAY1 + 2 * sc.DAY + 23 * sc.HOUR)]  # day 3, 23:00 local
    with SqliteStore(tmp_path / "ts.sqlite") as store:
        store.ensure_ready()
        store.write(_stored())
        scores = Scores(store, None, COMMUNE, lambda: now[0])
        rollups = DailyRollups(scores, catch_up_days=2, delay_s=900, clock=lambda: now[0])
        # At start: the two days before today, none stored yet.
        assert rollups.catch_up() == [date(2026, 6, 10), date(2026, 6, 11)]
        assert rollups.catch_up() == []  # nothing missing any more
        assert rollups.step() is None
        now[0] = sc.END + 899  # 00:14:59 the next day: not yet
        assert rollups.step() is None
        now[0] = sc.END + 900
        assert rollups.step() == date(2026, 6, 12)
        assert rollups.step() is None  # once a day
        rows = store.daily_scores()
        assert sorted({row.day for row in rows}) == list(sc.DAYS)
        assert len(rows) == 6
        # Each day's stored parts and figures are the scenario's, worked out by hand.
        for row in rows:
            n = sc.DAYS.index(row.day)
            for name, by_day in sc.DAILY[row.village_id].items():
                assert row.values[name] == by_day[n], (row.village_id, n, name)
            for name, figures in sc.DAY_FIGURES[row.village_id].items():
                assert row.values[name] == figures[n], (row.village_id, n, name)
        now[0] = sc.END + sc.DAY + 900
        assert rollups.step() == date(2026, 6, 13)


def test_a_day_stored_without_parts_is_caught_up_again(tmp_path: Path) -> None:
    now = float(sc.DAY1 + 2 * sc.DAY + 23 * sc.HOUR)
    with SqliteStore(tmp_path / "ts.sqlite") as store:
        store.ensure_ready()
        # Day 1 as the first wave stored it (figures, no parts), for both villages.
        store.write_daily_scores(
            [DailyScore(v.id, sc.DAY1, {"sang_pct": 90.0}) for v in COMMUNE.villages]
        )
        scores = Scores(store, None, COMMUNE, lambda: now)
        rollups = DailyRollups(scores, catch_up_days=2, delay_s=900, clock=lambda: now)
        assert rollups.missing_days() == [date(2026, 6, 10), date(2026, 6, 11)]
        assert rollups.catch_up() == [date(2026, 6, 10), date(2026, 6, 11)]
        day1 = [r for r in store.daily_scores() if r.day == sc.DAY1]
        assert len(day1) == 2 and all(set(PART_NAMES) <= set(r.values) for r in day1)
        # Then nothing is missing any more.
        assert rollups.missing_days() == []


def test_a_real_backend_catches_up_missed_days_on_start(tmp_path: Path) -> None:
    # lamp-an-2 installed long ago, so required even though it is never heard.
    text = sc.REGISTRY.replace("{id: lamp-an-2,", "{id: lamp-an-2, installed: 2026-01-01,")
    assert text != sc.REGISTRY
    registry = tmp_path / "xa-mau.yaml"
    registry.write_text(text, encoding="utf-8")
    today = datetime.now(VIETNAM).date()
    yesterday = today - timedelta(days=1)
    start = local_midnight(yesterday)
    # lamp-an-1 follows the programme all of yesterday; lamp-an-2 is never heard.
    readings = [
        r | {"ts": r["ts"] - sc.DAY1 + start, "received_at": r["ts"] - sc.DAY1 + start + 0.5}
        for r in sc.lamp_readings()
        if r["id"] == "lamp-an-1" and r["ts"] < sc.DAY1 + sc.DAY
    ]
    env = {"SANGSACH_REGISTRY_FILE": str(registry), "SANGSACH_ROLLUP_CATCH_UP_DAYS": "0"}
    with LocalBroker(tmp_path / "mosquitto") as broker:
        stack = Stack(tmp_path / "stack", broker.port, env)
        try:
            stack.start_backend()
            body = {"gateway": "gw-1", "readings": readings}
            stack.http.post("/api/v1/ingest", json=body, headers=GATEWAY).raise_for_status()
            stack.backend.stop()
            store = SqliteStore(tmp_path / "stack" / "timeseries.sqlite")
            assert store.daily_scores() == []  # catch-up switched off: nothing written
            stack.env["SANGSACH_ROLLUP_CATCH_UP_DAYS"] = "3"
            stack.start_backend()
            wait_until(lambda: len(store.daily_scores()) == 6, 60, "3 days x 2 villages")
            days = [row.day for row in store.daily_scores()]
            assert sorted(set(days)) == [
                local_midnight(today - timedelta(days=n)) for n in (3, 2, 1)
            ]
            [an] = [r for r in store.daily_scores(start=start) if r.village_id == "thon-an"]
            # 2 lamps x 300 required minutes: lamp-an-1 lit 300, lamp-an-2 unknown 300.
            assert an.values["lamp_required_s"] == 2 * 300 * 60
            assert an.values["lamp_lit_s"] == 300 * 60
            assert an.values["lamp_dark_s"] == 0
            assert an.values["sang_pct"] == 100.0  # of the measured time
            assert an.values["sang_coverage_pct"] == 50.0  # under the floor: not judged
            store.close()
        finally:
            stack.close()
