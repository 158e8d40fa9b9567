"""Layer (a) of the exact scenario (tests/scenario_exact.py): the pure engine, fed directly."""

from __future__ import annotations

import pytest

from sangsach.backend.alerts.model import Thresholds
from sangsach.backend.alerts.rules import lamp_lit
from sangsach.backend.scores.ranking import VillageScores, rank
from sangsach.backend.scores.sach import (
    collection_score,
    coverage_score,
    overflow_score,
    sach_result,
)
from sangsach.backend.scores.sang import LampInput, required_spans, sang_score
from sangsach.lighting import LightingSchedule
from sangsach.registry_file import Village, parse_registry
from tests import scenario_exact as sc

COMMUNE = parse_registry(sc.REGISTRY, "scenario.yaml")
LAMPS = sc.lamp_readings()
BINS = sc.bin_readings()


def engine_scores(village: Village, start: int, end: int) -> VillageScores:
    info = COMMUNE.commune
    schedule = LightingSchedule(info.latitude, info.longitude, village.lighting or ())
    required = required_spans(schedule, start, end)
    lamps = []
    for lamp in (lamp for lane in village.lanes for lamp in lane.lamps):
        mine = [(r["ts"], lamp_lit(r, Thresholds())) for r in LAMPS if r["id"] == lamp.id]
        before = [s for s in mine if start - 900 <= s[0] < start]
        samples = [s for s in mine if start <= s[0] < end]
        lamps.append(LampInput(required, samples, before[-1] if before else None))
    points = [
        [[(r["ts"], r["fill_pct"]) for r in BINS if r["id"] == b.id and r["ts"] < end]
         for b in point.bins]
        for point in village.points
    ]  # fmt: skip
    census = village.census
    sach = sach_result(
        collection_score([b for p in points for b in p], start, end),
        overflow_score(points, start, end),
        coverage_score(census.main_road_households, census.main_road_standard_bins),
    )
    return VillageScores(village.id, sang_score(lamps, start, end), sach)


def test_required_minutes_are_the_programme_windows() -> None:
    info = COMMUNE.commune
    schedule = LightingSchedule(info.latitude, info.longitude, COMMUNE.villages[0].lighting or ())
    spans = required_spans(schedule, sc.DAY1, sc.DAY1 + sc.DAY)
    # 03:00-04:30 and 19:30-23:00 local, both inside the dark: the programme decides alone.
    assert [(a - sc.DAY1, b - sc.DAY1) for a, b in spans] == [
        (3 * sc.HOUR, 4 * sc.HOUR + 30 * sc.MIN),
        (19 * sc.HOUR + 30 * sc.MIN, 23 * sc.HOUR),
    ]


def test_period_scores_and_ranking_are_the_hand_computed_ones() -> None:
    scores = [engine_scores(v, sc.DAY1, sc.END) for v in COMMUNE.villages]
    for found in scores:
        want = sc.EXPECTED[found.village_id]
        sang, sach = found.sang, found.sach
        assert sang.required_minutes == want["sang_required_min"]
        assert sang.lit_minutes == want["sang_lit_min"]
        assert sang.dark_minutes == want["sang_dark_min"]
        assert sang.unknown_minutes == want["sang_unknown_min"]
        assert sang.percent == want["sang_pct"]
        assert sang.meets is want["sang_meets"]
        assert sach.collection.on_time == want["collection_on_time"]
        assert sach.collection.late == want["collection_late"]
        assert sach.collection.percent == want["collection_pct"]
        assert sach.overflow.hours == want["overflow_h"]
        assert sach.overflow.allowed_hours == want["overflow_allowed_h"]
        assert sach.coverage.percent == want["coverage_pct"]
        assert sach.meets is want["sach_meets"]
    ranking = rank(scores)
    assert [row.village_id for row in ranking] == sc.RANKING
    assert {row.village_id: (row.rank, row.score) for row in ranking} == {
        vid: (want["rank"], want["score"]) for vid, want in sc.EXPECTED.items()
    }


@pytest.mark.parametrize("day", range(3))
def test_daily_scores_are_the_hand_computed_ones(day: int) -> None:
    start = sc.DAYS[day]
    for village in COMMUNE.villages:
        found = engine_scores(village, start, start + sc.DAY)
        want = {key: values[day] for key, values in sc.DAILY[village.id].items()}
        assert found.sang.required_minutes == 600.0
        assert found.sang.lit_minutes == want["sang_lit_min"]
        assert found.sang.unknown_minutes == want["sang_unknown_min"]
        assert found.sang.percent == want["sang_pct"]
        assert found.sach.collection.on_time == want["collection_on_time"]
        assert found.sach.collection.late == want["collection_late"]
        assert found.sach.collection.percent == want["collection_pct"]
        assert found.sach.overflow.hours == want["overflow_h"]
        assert found.sach.coverage.percent == want["coverage_pct"]
