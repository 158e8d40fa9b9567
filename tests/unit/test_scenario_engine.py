"""Layer (a) of the exact scenario (tests/scenario_exact.py): the score service on an embedded
SQLite store, fed directly; every number is compared with the hand-computed ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sangsach.backend.domain.readings import FIELDS, StoredReading
from sangsach.backend.scores.days import local_day
from sangsach.backend.scores.sang import required_spans
from sangsach.backend.scores.service import Scores
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.lighting import LightingSchedule
from sangsach.registry_file import parse_registry
from tests import scenario_exact as sc

COMMUNE = parse_registry(sc.REGISTRY, "scenario.yaml")


def stored(rows: list[dict[str, object]]) -> list[StoredReading]:
    refs = {d.id: d for d in COMMUNE.devices()}
    out = []
    for r in rows:
        ref = refs[str(r["id"])]
        kind = ref.kind
        values = {k: v for k, v in r.items() if k in FIELDS[kind]}
        out.append(StoredReading(ref.id, kind, ref.village_id, ref.place_id, int(r["boot"]),  # type: ignore[call-overload]
                                 int(r["seq"]), int(r["ts"]), True, values))  # type: ignore[call-overload, arg-type]  # fmt: skip
    return out


@pytest.fixture
def scores(tmp_path: Path) -> Iterator[Scores]:
    with SqliteStore(tmp_path / "ts.sqlite") as store:
        store.ensure_ready()
        store.write(stored(sc.lamp_readings() + sc.bin_readings()))
        yield Scores(store, None, COMMUNE, clock=lambda: sc.END + 3600)


def test_required_minutes_are_the_programme_windows() -> None:
    info = COMMUNE.commune
    schedule = LightingSchedule(info.latitude, info.longitude, COMMUNE.villages[0].lighting or ())
    spans = required_spans(schedule, sc.DAY1, sc.DAY1 + sc.DAY)
    # 03:00-04:30 and 19:30-23:00 local, both inside the dark: the programme decides alone.
    assert [(a - sc.DAY1, b - sc.DAY1) for a, b in spans] == [
        (3 * sc.HOUR, 4 * sc.HOUR + 30 * sc.MIN),
        (19 * sc.HOUR + 30 * sc.MIN, 23 * sc.HOUR),
    ]


def test_period_scores_and_ranking_are_the_hand_computed_ones(scores: Scores) -> None:
    result = scores.period(sc.DAY1, sc.END)
    assert result.has_data and not result.in_progress
    for found in result.villages:
        want = sc.EXPECTED[found.village_id]
        p = found.parts
        assert p.lamp_required_s == want["sang_required_min"] * 60
        assert p.lamp_lit_s == want["sang_lit_min"] * 60
        assert p.lamp_dark_s == want["sang_dark_min"] * 60
        assert p.lamp_unknown_s == want["sang_unknown_min"] * 60
        assert found.sang.value == want["sang_pct"]
        assert found.sang.coverage == want["sang_coverage"]
        assert found.sang.verdict == want["sang_verdict"]
        assert (p.full_on_time, p.full_late) == (
            want["collection_on_time"],
            want["collection_late"],
        )
        assert found.collection.value == want["collection_pct"]
        assert found.overflow.value == want["overflow_h"]
        assert found.overflow.target == want["overflow_allowed_h"]
        assert found.overflow.coverage == want["bin_coverage"]
        assert found.census.value == want["coverage_pct"]
        assert found.sach == want["sach_verdict"]
        assert (found.rank, found.score) == (want["rank"], want["score"])
    assert [v.village_id for v in result.ranking] == sc.RANKING


@pytest.mark.parametrize("day", range(3))
def test_daily_parts_are_the_hand_computed_ones(scores: Scores, day: int) -> None:
    start = sc.DAYS[day]
    found = scores.compute(start, start + sc.DAY)
    for village_id, want in sc.DAILY.items():
        got = found[village_id].values()
        assert {name: got[name] for name in want} == {n: v[day] for n, v in want.items()}


def test_the_days_add_up_to_the_period_and_are_stored_once(scores: Scores) -> None:
    first, last = local_day(sc.DAYS[0]), local_day(sc.DAYS[2])
    assert scores.roll_up(first, last) == 6  # 3 days x 2 villages
    assert scores.roll_up(first, last) == 0  # stored days are kept
    assert scores.roll_up(first, last, recompute=True) == 6
    rows = scores.store.daily_scores(start=sc.DAY1, end=sc.END)
    for village_id, want in sc.DAY_FIGURES.items():
        mine = [r.values for r in rows if r.village_id == village_id]
        for name, values in want.items():
            assert tuple(v.get(name) for v in mine) == values, name
    raw = scores.compute(sc.DAY1, sc.END)
    assert scores.period_parts(sc.DAY1, sc.END) == raw
