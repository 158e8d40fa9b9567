"""Periods from stored days, on the embedded SQLite store: the scenarios of coverage (a lamp
installed mid-period, no data, a period in progress, a census change, a formula change, a bin
back from a gap). That any period equals the raw computation exactly is the property test of
tests/integration/test_scores_periods_stores.py, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sangsach.backend.db import make_engine
from sangsach.backend.registry.census import record
from sangsach.backend.scores.days import local_day, local_midnight
from sangsach.backend.scores.service import Scores
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.registry_file import Census, parse_registry
from tests import scenario_exact as sc
from tests.unit.test_scenario_engine import stored

H, D = 3600, 86_400


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path_factory.mktemp("periods") / "ts.sqlite") as s:
        s.ensure_ready()
        s.write(stored(sc.lamp_readings() + sc.bin_readings()))
        yield s


def test_a_lamp_installed_mid_period_is_required_only_from_then(tmp_path: Path) -> None:
    registry = sc.REGISTRY.replace(
        "{id: lamp-an-2, lat: 20.70120, lon: 106.21030}",
        "{id: lamp-an-2, lat: 20.70120, lon: 106.21030, installed: 2026-06-11}",
    )
    with SqliteStore(tmp_path / "ts.sqlite") as s:
        s.ensure_ready()
        s.write(stored(sc.lamp_readings() + sc.bin_readings()))
        scores = Scores(s, None, parse_registry(registry), clock=lambda: sc.END + D)
        an = scores.period(sc.DAY1, sc.END).villages[0].parts
    # lamp-an-1: 3 x 300 min; lamp-an-2 from day 2: 2 x 300, with its 30 unknown min of day 2.
    assert an.lamp_required_s == (900 + 600) * 60
    assert (an.lamp_lit_s, an.lamp_dark_s) == ((900 + 570) * 60, 0)  # day 1's dark hour is out


def test_a_period_without_data_ranks_nobody(store: SqliteStore) -> None:
    scores = Scores(store, None, parse_registry(sc.REGISTRY), clock=lambda: sc.END + D)
    before = scores.period(sc.DAY1 - 30 * D, sc.DAY1 - 10 * D)
    assert not before.has_data
    assert before.ranking == []
    assert all(v.sang.verdict == "not_measured" for v in before.villages)


def test_a_period_in_progress_is_computed_up_to_now(store: SqliteStore) -> None:
    now = sc.DAY1 + D + 22 * H  # day 2, 22:00
    scores = Scores(store, None, parse_registry(sc.REGISTRY), clock=lambda: now)
    running = scores.period(sc.DAY1, sc.END)
    assert running.in_progress and running.upto == now
    an = running.villages[0].parts
    # Day 1 whole (600 min), day 2 up to 22:00: 03:00-04:30 and 19:30-22:00 = 240 min per lamp;
    # nights still to come are not counted as dark.
    assert an.lamp_required_s == (600 + 2 * 240) * 60
    assert an.lamp_unknown_s == 30 * 60


def test_a_census_change_inside_a_year_applies_from_its_day(tmp_path: Path, sql_url: str) -> None:
    store = SqliteStore(tmp_path / "ts.sqlite")  # no day stored yet
    store.ensure_ready()
    store.write(stored(sc.lamp_readings() + sc.bin_readings()))
    engine: Engine = make_engine(sql_url)
    commune = parse_registry(sc.REGISTRY)
    record(engine, {"thon-an": Census(households=120, main_road_households=40, main_road_standard_bins=20)},
           by="test", source="api", now=sc.DAY1 - 5 * D, effective_from=local_day(sc.DAY1 + D))  # fmt: skip
    scores = Scores(store, engine, commune, clock=lambda: sc.END + D)
    assert scores.period(sc.DAY1, sc.DAY1 + D).villages[0].census.value == 95.0  # 38 / 40
    assert scores.period(sc.DAY1, sc.END).villages[0].census.value == 50.0  # 20 / 40
    # Stored days keep their census: a later correction changes them only on recompute.
    scores.roll_up(local_day(sc.DAY1), local_day(sc.END - 1))
    record(engine, {"thon-an": Census(households=120, main_road_households=40, main_road_standard_bins=40)},
           by="test", source="api", now=sc.END, effective_from=local_day(sc.DAY1 + D))  # fmt: skip
    assert scores.period(sc.DAY1, sc.END).villages[0].census.value == 50.0
    scores.roll_up(local_day(sc.DAY1), local_day(sc.END - 1), recompute=True)
    assert scores.period(sc.DAY1, sc.END).villages[0].census.value == 100.0


def test_a_bin_back_full_from_a_long_gap_counts_once_in_its_day_and_in_the_half_year(
    tmp_path: Path,
) -> None:
    registry = sc.REGISTRY
    day0 = local_midnight(date(2026, 3, 2))
    readings = [
        {"id": "bin-an-1", "kind": "bin", "boot": 1, "seq": 1, "ts": day0, "fill_pct": 20.0},
        # Silent 5 days, back full at day 5 10:00, emptied at 12:00: on time.
        {"id": "bin-an-1", "kind": "bin", "boot": 1, "seq": 2, "ts": day0 + 5 * D + 10 * H, "fill_pct": 90.0},
        {"id": "bin-an-1", "kind": "bin", "boot": 1, "seq": 3, "ts": day0 + 5 * D + 12 * H, "fill_pct": 10.0},
    ]  # fmt: skip
    with SqliteStore(tmp_path / "ts.sqlite") as s:
        s.ensure_ready()
        s.write(stored(readings))
        scores = Scores(s, None, parse_registry(registry), clock=lambda: day0 + 60 * D)
        days = [
            scores.period(day0 + n * D, day0 + (n + 1) * D).villages[0].parts for n in range(10)
        ]
        half = scores.period(local_midnight(date(2026, 1, 1)), local_midnight(date(2026, 7, 1)))
    assert sum(p.full_on_time for p in days) == 1
    assert days[5].full_on_time == 1
    assert half.villages[0].parts.full_on_time == 1


def test_days_before_any_device_counts_are_neither_computed_nor_stored(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "ts.sqlite") as s:
        s.ensure_ready()
        s.write(stored(sc.lamp_readings() + sc.bin_readings()))
        scores = Scores(s, None, parse_registry(sc.REGISTRY), clock=lambda: sc.END + D)
        long_ago = scores.period(sc.DAY1 - 400 * D, sc.DAY1 - 2 * D)  # an API's widest period
        assert not long_ago.has_data
        assert s.daily_scores() == []  # 400 empty days: nothing written
        scores.period(sc.DAY1 - 400 * D, sc.END)
        # Stored from the day the first device counts (bins' first reading, day 0 23:00).
        assert {r.day for r in s.daily_scores()} == {sc.DAY1 - D, *sc.DAYS}


def test_a_formula_change_in_the_registry_changes_a_closed_period_only_on_recompute(
    tmp_path: Path,
) -> None:
    with SqliteStore(tmp_path / "ts.sqlite") as s:
        s.ensure_ready()
        s.write(stored(sc.lamp_readings() + sc.bin_readings()))
        clock = lambda: sc.END + D  # noqa: E731
        before = Scores(s, None, parse_registry(sc.REGISTRY), clock=clock).period(sc.DAY1, sc.END)
        assert before.formula.sang_target_pct == 95.0
        stricter = sc.REGISTRY.replace(
            "  longitude: 106.23\n", "  longitude: 106.23\nscores: {sang_target_pct: 99}\n"
        )
        scores = Scores(s, None, parse_registry(stricter), clock=clock)
        kept = scores.period(sc.DAY1, sc.END)
        assert (kept.formula.sang_target_pct, kept.formula_text) == (95.0, before.formula_text)
        assert [v.score for v in kept.villages] == [v.score for v in before.villages]
        scores.roll_up(local_day(sc.DAY1), local_day(sc.END - 1), recompute=True)
        redone = scores.period(sc.DAY1, sc.END)
        assert redone.formula.sang_target_pct == 99.0
        an = redone.villages[0]
        assert an.sang.verdict == "not_met"  # 96.61 % misses 99 %
        assert an.score is not None and an.score < (before.villages[0].score or 0)
        # Today's part is judged by the registry's formula of today.
        assert scores.period(sc.END, sc.END + 3600).formula.sang_target_pct == 99.0
