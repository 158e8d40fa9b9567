"""Readings that arrive after their day was rolled up: the day is marked at ingest and its
stored parts are recomputed before it is read again."""

from __future__ import annotations

from pathlib import Path

from sangsach.backend.db import make_engine
from sangsach.backend.scores import late
from sangsach.backend.scores.days import local_day
from sangsach.backend.scores.service import Scores
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.registry_file import parse_registry
from tests import scenario_exact as sc
from tests.unit.test_scenario_engine import stored

D = 86_400


def test_a_day_that_gets_late_readings_is_recomputed_before_it_is_read(
    tmp_path: Path, sql_url: str
) -> None:
    engine = make_engine(sql_url)
    readings = sc.lamp_readings() + sc.bin_readings()
    day2 = [r for r in readings if sc.DAYS[1] <= int(r["ts"]) < sc.DAYS[2]]
    on_time = [r for r in readings if r not in day2]
    with SqliteStore(tmp_path / "ts.sqlite") as store:
        store.ensure_ready()
        store.write(stored(on_time))
        scores = Scores(store, engine, parse_registry(sc.REGISTRY), clock=lambda: sc.END + D)
        scores.roll_up(local_day(sc.DAY1), local_day(sc.END - 1))
        # Day 2 was rolled up without its readings: all its required time unknown.
        hole = scores.period(sc.DAYS[1], sc.DAYS[2]).villages[0].parts
        assert (hole.lamp_lit_s, hole.lamp_dark_s) == (0, 0)
        # The gateway's spool replays day 2; ingest marks the day in its transaction.
        store.write(stored(day2))
        with engine.begin() as conn:
            assert late.mark(conn, [int(r["ts"]) for r in day2], now=sc.END + D) == 1
            assert late.mark(conn, [sc.END + D + 60], now=sc.END + D + 120) == 0  # today: not late
        result = scores.period(sc.DAY1, sc.END)
        assert late.marked(engine, 0, 2**62) == {}  # recomputed, unmarked
    want = sc.EXPECTED["thon-an"]
    assert result.villages[0].parts.lamp_lit_s == want["sang_lit_min"] * 60
    assert result.villages[0].score == want["score"]


def test_a_mark_made_during_a_recompute_is_kept(sql_url: str) -> None:
    engine = make_engine(sql_url)
    with engine.begin() as conn:
        late.mark(conn, [sc.DAY1 + 3600], now=sc.END)
    seen = late.marked(engine, 0, 2**62)
    with engine.begin() as conn:
        late.mark(conn, [sc.DAY1 + 7200], now=sc.END + 1)  # more readings of the same day
    late.clear(engine, seen)
    assert late.marked(engine, 0, 2**62) == {sc.DAY1: sc.END + 1}


def test_todays_part_is_kept_fresh_in_the_background_and_served_from_there(
    tmp_path: Path,
) -> None:
    now = [float(sc.DAY1 + 22 * 3600)]  # day 1, 22:00: today is day 1
    readings = sc.lamp_readings() + sc.bin_readings()
    before, after = (
        [r for r in readings if r["ts"] < now[0] - 3600],
        [r for r in readings if now[0] - 3600 <= r["ts"] < now[0]],
    )
    with SqliteStore(tmp_path / "ts.sqlite") as store:
        store.ensure_ready()
        store.write(stored(before))
        scores = Scores(store, None, parse_registry(sc.REGISTRY), clock=lambda: now[0])
        assert scores.refresh_today() is True
        assert scores.refresh_today() is False  # fresh for a minute
        held = scores.period(sc.DAY1, sc.END).villages[0].parts
        store.write(stored(after))  # the last hour's readings arrive
        now[0] += 30
        assert scores.period(sc.DAY1, sc.END).villages[0].parts == held  # served from the cache
        now[0] += 40
        assert scores.refresh_today() is True  # a minute old: recomputed
        assert scores.period(sc.DAY1, sc.END).villages[0].parts.lamp_lit_s > held.lamp_lit_s


def test_a_period_ending_now_is_served_from_the_cache_and_one_ending_earlier_is_exact(
    tmp_path: Path,
) -> None:
    now = float(sc.DAY1 + 22 * 3600)
    with SqliteStore(tmp_path / "ts.sqlite") as store:
        store.ensure_ready()
        store.write(stored(sc.lamp_readings() + sc.bin_readings()))
        scores = Scores(store, None, parse_registry(sc.REGISTRY), clock=lambda: now)
        scores.refresh_today()
        cached = scores._live[sc.DAY1].parts
        # An API caller's "now" a second behind the server's: the cached part.
        assert scores.period_parts(sc.DAY1, int(now) - 1) == cached
        # Ending at 20:00: computed for exactly that span.
        exact = scores.period_parts(sc.DAY1, sc.DAY1 + 20 * 3600)
        assert exact == scores.compute(sc.DAY1, sc.DAY1 + 20 * 3600) != cached


def test_an_empty_cached_today_gives_way_to_the_first_readings_at_once(tmp_path: Path) -> None:
    now = [float(sc.DAY1 + 22 * 3600)]
    with SqliteStore(tmp_path / "ts.sqlite") as store:
        store.ensure_ready()
        scores = Scores(store, None, parse_registry(sc.REGISTRY), clock=lambda: now[0])
        scores.refresh_today()  # a backend just started: nothing yet
        assert not scores.period(sc.DAY1, sc.END).has_data
        store.write(stored(sc.lamp_readings() + sc.bin_readings()))
        now[0] += 1  # the first readings arrive: not hidden for a minute and a half
        assert scores.period(sc.DAY1, sc.END).has_data
