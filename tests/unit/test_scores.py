"""Sáng and Sạch scores and the ranking, with hand-computed numbers at the edges.

Times are seconds from T0, a local midnight; "18h" below means T0 + 18 × 3600.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sangsach.backend.scores.model import known_segments
from sangsach.backend.scores.ranking import VillageScores, formula_text, parts, rank
from sangsach.backend.scores.sach import (
    CollectionResult,
    CoverageResult,
    OverflowResult,
    collection_score,
    coverage_score,
    full_events,
    overflow_score,
    sach_result,
)
from sangsach.backend.scores.sang import LampInput, SangResult, required_spans, sang_score
from sangsach.contract import LightingWindow
from sangsach.lighting import LightingSchedule

T0 = 1_780_000_000 - 1_780_000_000 % 86400  # a UTC midnight; local time plays no part here
M, H, D = 60, 3600, 86400
NIGHT = [(T0 + 18 * H, T0 + 30 * H)]  # 18:00 to 06:00 next day: 12 h = 720 min
DAY = (T0, T0 + 2 * D)  # a period holding the whole night


def every(a: int, b: int, lit: bool, step: int = 300) -> list[tuple[int, bool]]:
    """A lamp reporting every 5 min from a (inclusive) to b (exclusive)."""
    return [(t, lit) for t in range(a, b, step)]


def fills(*pairs: tuple[float, float]) -> list[tuple[int, float]]:
    """A bin series from (hours after T0, fill %)."""
    return [(T0 + int(h * H), f) for h, f in pairs]


# --- Sáng ---------------------------------------------------------------------------------


def test_lamp_lit_all_required_time_is_100_percent() -> None:
    lamp = LampInput(NIGHT, every(T0 + 17 * H, T0 + 31 * H, True))
    r = sang_score([lamp], *DAY)
    # 18:00 to 06:00 = 12 h = 720 min, all lit.
    assert (r.required_minutes, r.lit_minutes, r.dark_minutes, r.unknown_minutes) == (
        720,
        720,
        0,
        0,
    )
    assert r.percent == 100.0
    assert r.meets is True


def test_lamp_dark_one_hour_of_twelve() -> None:
    samples = sorted(
        every(T0 + 18 * H, T0 + 22 * H, True)
        + every(T0 + 22 * H, T0 + 23 * H, False)  # out 22:00-23:00
        + every(T0 + 23 * H, T0 + 30 * H, True)
    )
    r = sang_score([LampInput(NIGHT, samples)], *DAY)
    # lit 660 of 720 min: 100 × 39600 / 43200 = 91.666... = 275/3.
    assert (r.lit_minutes, r.dark_minutes, r.unknown_minutes) == (660, 60, 0)
    assert r.percent == 275 / 3
    assert r.meets is False


def test_readings_that_stop_become_unknown_after_stale_time() -> None:
    # Last reading 23:55, fresh for 3 × 300 s = 15 min: known lit until 00:10.
    samples = every(T0 + 18 * H, T0 + 24 * H, True)
    r = sang_score([LampInput(NIGHT, samples)], *DAY)
    # lit 18:00-00:10 = 370 min; unknown 00:10-06:00 = 350 min; dark 0.
    assert (r.lit_minutes, r.unknown_minutes, r.dark_minutes) == (370, 350, 0)
    assert r.percent == 100 * 370 / 720  # 51.388...
    assert r.meets is False


def test_gap_of_exactly_stale_time_is_known_and_one_second_more_is_not() -> None:
    span = [(T0, T0 + 2000)]
    exact = sang_score([LampInput(span, [(T0, True), (T0 + 900, True)])], T0, T0 + 1800)
    # 0-900 from the first reading, 900-1800 from the second: all 1800 s lit.
    assert exact.unknown_minutes == 0
    late = sang_score([LampInput(span, [(T0, True), (T0 + 901, True)])], T0, T0 + 1801)
    # 0-900 lit, 900-901 unknown (1 s), 901-1801 lit.
    assert late.unknown_minutes == 1 / 60
    assert late.lit_minutes == 1800 / 60


def test_part_night_programme() -> None:
    # 18:00-23:00 and 04:00-06:00: 5 h + 2 h = 420 min required.
    programme = [(T0 + 18 * H, T0 + 23 * H), (T0 + 28 * H, T0 + 30 * H)]
    lit_all_night = LampInput(programme, every(T0 + 18 * H, T0 + 30 * H, True))
    r = sang_score([lit_all_night], *DAY)
    assert (r.required_minutes, r.lit_minutes) == (420, 420)  # lit outside windows is ignored
    evening_only = sorted(
        every(T0 + 18 * H, T0 + 23 * H, True) + every(T0 + 23 * H, T0 + 30 * H, False)
    )
    r = sang_score([LampInput(programme, evening_only)], *DAY)
    # 300 lit, 120 dark in the morning window: 100 × 300 / 420 = 71.43 %.
    assert (r.lit_minutes, r.dark_minutes) == (300, 120)
    assert r.percent == 100 * 300 / 420


def test_midnight_crossing_splits_between_daily_periods() -> None:
    lamp = LampInput(NIGHT, every(T0 + 18 * H, T0 + 30 * H, True))
    first = sang_score([lamp], T0, T0 + D)  # 18:00-24:00: 360 min
    second = sang_score([lamp], T0 + D, T0 + 2 * D)  # 00:00-06:00: 360 min
    assert (first.required_minutes, first.lit_minutes) == (360, 360)
    assert (second.required_minutes, second.lit_minutes) == (360, 360)


def test_period_start_cutting_a_window_uses_last_reading_before() -> None:
    # Period from 20:00; required 20:00-06:00 = 600 min. Samples from 20:05 on.
    start, end = T0 + 20 * H, T0 + 2 * D
    samples = every(T0 + 20 * H + 5 * M, T0 + 30 * H, True)
    without = sang_score([LampInput(NIGHT, samples)], start, end)
    # Nothing known before 20:05: 5 min unknown, 595 lit.
    assert (without.required_minutes, without.lit_minutes, without.unknown_minutes) == (
        600,
        595,
        5,
    )
    before = (T0 + 19 * H + 57 * M, True)  # fresh until 20:12, covers 20:00-20:05
    with_before = sang_score([LampInput(NIGHT, samples, before)], start, end)
    assert (with_before.lit_minutes, with_before.unknown_minutes) == (600, 0)
    stale_before = (T0 + 19 * H + 45 * M, True)  # fresh only until 20:00
    r = sang_score([LampInput(NIGHT, samples, stale_before)], start, end)
    assert r.unknown_minutes == 5


def test_two_lamps_add_their_minutes() -> None:
    full = LampInput(NIGHT, every(T0 + 18 * H, T0 + 30 * H, True))
    half = LampInput(
        NIGHT,
        sorted(every(T0 + 18 * H, T0 + 24 * H, True) + every(T0 + 24 * H, T0 + 30 * H, False)),
    )
    r = sang_score([full, half], *DAY)
    # required 2 × 720 = 1440; lit 720 + 360 = 1080; 100 × 1080 / 1440 = 75 %.
    assert (r.required_minutes, r.lit_minutes, r.dark_minutes) == (1440, 1080, 360)
    assert r.percent == 75.0


def test_target_met_exactly_at_95_percent() -> None:
    # 684 of 720 min lit: 100 × 41040 / 43200 = 95.0 exactly.
    samples = sorted(
        every(T0 + 18 * H, T0 + 29 * H + 24 * M, True)
        + every(T0 + 29 * H + 24 * M, T0 + 30 * H, False, step=60)
    )
    r = sang_score([LampInput(NIGHT, samples)], *DAY)
    assert (r.lit_minutes, r.dark_minutes) == (684, 36)
    assert r.percent == 95.0
    assert r.meets is True
    # One second less lit: 41039 s, just under.
    shorter = [(ts - 1 if ts == T0 + 29 * H + 24 * M else ts, lit) for ts, lit in samples]
    assert sang_score([LampInput(NIGHT, shorter)], *DAY).meets is False


def test_one_fresh_reading_can_cover_two_windows() -> None:
    # Windows 0-100 s and 200-300 s; one lit reading at 0 fresh for 1000 s covers both.
    spans = [(T0, T0 + 100), (T0 + 200, T0 + 300)]
    r = sang_score([LampInput(spans, [(T0, True)])], T0, T0 + 1000, stale_s=1000)
    assert (r.required_minutes, r.lit_minutes) == (200 / 60, 200 / 60)


def test_no_lamps_means_no_percent() -> None:
    r = sang_score([], *DAY)
    assert (r.percent, r.meets, r.required_minutes) == (None, None, 0)


class FakeSchedule:
    """Lit over fixed spans, like LightingSchedule but with round numbers."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.spans = spans

    def is_lit(self, t: int) -> bool:
        return any(a <= t < b for a, b in self.spans)

    def next_change(self, t: int) -> int | None:
        return min((e for s in self.spans for e in s if e > t), default=None)


def test_required_spans_cut_to_the_period() -> None:
    schedule = FakeSchedule([(T0 + 18 * H, T0 + 23 * H), (T0 + 28 * H, T0 + 30 * H)])
    # Period 20:00 to 05:00 next day cuts both windows.
    assert required_spans(schedule, T0 + 20 * H, T0 + 29 * H) == [
        (T0 + 20 * H, T0 + 23 * H),
        (T0 + 28 * H, T0 + 29 * H),
    ]
    assert required_spans(schedule, T0 + 31 * H, T0 + 33 * H) == []


def test_required_spans_agree_with_the_real_schedule() -> None:
    schedule = LightingSchedule(
        20.72,
        106.23,
        [LightingWindow(on="17:30", off="23:00"), LightingWindow(on="04:00", off="06:30")],
    )
    start = T0
    spans = required_spans(schedule, start, start + 2 * D)
    assert len(spans) == 4  # two nights, two windows each
    for t in range(start, start + 2 * D, 60):
        assert schedule.is_lit(t) == any(a <= t < b for a, b in spans)


def test_known_segments_rejects_unsorted_samples() -> None:
    with pytest.raises(ValueError, match="sorted"):
        known_segments([(10, True), (5, True)], 900)


# --- Sạch: collection -------------------------------------------------------------------


def test_full_then_emptied_in_3_hours_is_on_time() -> None:
    series = fills((0, 50), (1, 85), (4, 10))  # full at 1h, drop 75 points at 4h
    assert full_events(series) == [(T0 + H, T0 + 4 * H)]
    r = collection_score([series], T0, T0 + D)
    assert (r.on_time, r.late, r.percent, r.meets) == (1, 0, 100.0, True)


def test_emptied_after_30_hours_is_late() -> None:
    series = fills((0, 50), (1, 85), (31, 10))
    r = collection_score([series], T0, T0 + 2 * D)
    # Late is decided at 1h + 24h = 25h, inside the period.
    assert (r.on_time, r.late, r.percent, r.meets) == (0, 1, 0.0, False)


def test_emptied_exactly_at_sla_is_on_time() -> None:
    series = fills((0, 50), (1, 85), (25, 10))
    assert collection_score([series], T0, T0 + 2 * D).on_time == 1


def test_still_full_at_end() -> None:
    series = fills((0, 50), (1, 85), (10, 90))
    past = collection_score([series], T0, T0 + 26 * H)  # SLA ran out at 25h: late
    assert (past.on_time, past.late) == (0, 1)
    within = collection_score([series], T0, T0 + 20 * H)  # 19 h full: undecided
    assert (within.on_time, within.late, within.percent, within.meets) == (0, 0, None, None)


def test_drop_of_exactly_30_points_empties_and_29_does_not() -> None:
    assert full_events(fills((0, 50), (1, 90), (2, 60))) == [(T0 + H, T0 + 2 * H)]
    assert full_events(fills((0, 50), (1, 90), (2, 61))) == [(T0 + H, None)]


def test_first_reading_is_a_baseline_and_refill_starts_a_new_event() -> None:
    # Full at the first reading: not "from below", no event; emptied, then full again at 5h.
    series = fills((0, 90), (1, 20), (5, 80), (6, 85), (7, 5))
    assert full_events(series) == [(T0 + 5 * H, T0 + 7 * H)]


def test_event_counted_in_the_period_it_is_decided() -> None:
    series = fills((0, 50), (23, 85), (26, 10))  # full 23h, emptied 26h, on time
    first = collection_score([series], T0, T0 + D)
    second = collection_score([series], T0 + D, T0 + 2 * D)
    assert (first.on_time, first.late) == (0, 0)
    assert (second.on_time, second.late) == (1, 0)


def test_collection_target_met_at_exactly_90_percent() -> None:
    on_time = fills((0, 50), (1, 85), (2, 10))
    late = fills((0, 50), (1, 85), (40, 10))
    r = collection_score([on_time] * 9 + [late], T0, T0 + 2 * D)
    # 9 / (9 + 1) = 90.0 meets 90.0.
    assert (r.on_time, r.late, r.percent, r.meets) == (9, 1, 90.0, True)
    r = collection_score([on_time] * 8 + [late, late], T0, T0 + 2 * D)  # 8 / 10 = 80.0
    assert (r.percent, r.meets) == (80.0, False)


# --- Sạch: overflow ---------------------------------------------------------------------


def hourly(over_hours: set[int], upto: int = 24) -> list[tuple[int, float]]:
    """A bin reporting each hour 0..upto-1: 99 % at the given hours, else 50 %."""
    return [(T0 + h * H, 99.0 if h in over_hours else 50.0) for h in range(upto)]


def test_two_overlapping_bins_of_one_point_count_once() -> None:
    a = hourly({10, 11, 12})  # over 10h-13h
    b = hourly({12, 13})  # over 12h-14h
    r = overflow_score([[a, b]], T0, T0 + D)
    # Union 10h-14h = 4 h, not 3 + 2 = 5. Allowed 0.5 h × 1 point × 1 day.
    assert (r.points, r.hours, r.unknown_hours, r.allowed_hours) == (1, 4.0, 0.0, 0.5)
    assert r.meets is False


def test_points_add_up_and_allowance_scales() -> None:
    r = overflow_score([[hourly({3})], [hourly({5, 6})]], T0, T0 + 2 * D)
    # 1 h + 2 h = 3 h; over 2 days each bin's last reading (23h) goes stale at 26h: 22 h
    # unknown per point, 44 h. Allowed 0.5 × 2 points × 2 days = 2 h.
    assert (r.hours, r.unknown_hours, r.allowed_hours, r.meets) == (3.0, 44.0, 2.0, False)


def test_stale_bin_is_unknown_unless_another_bin_overflows() -> None:
    silent = hourly(set(), upto=12)  # last reading 11h, fresh until 14h
    r = overflow_score([[silent]], T0, T0 + D)
    assert (r.hours, r.unknown_hours) == (0.0, 10.0)  # 14h-24h unknown
    over_late = hourly({20, 21})  # over 20h-22h while the other is silent
    r = overflow_score([[silent, over_late]], T0, T0 + D)
    # 20h-22h overflow (one bin is enough); 14h-20h and 22h-24h unknown = 8 h.
    assert (r.hours, r.unknown_hours) == (2.0, 8.0)


def test_bin_without_a_reading_yet_is_unknown() -> None:
    late_start = [(T0 + 2 * H, 99.0), (T0 + 3 * H, 50.0), (T0 + 4 * H, 50.0)]
    r = overflow_score([[late_start]], T0, T0 + 5 * H)
    # 0h-2h unknown, 2h-3h over, 3h-5h known under (fresh until 7h).
    assert (r.hours, r.unknown_hours) == (1.0, 2.0)


def test_overflow_allowance_met_exactly() -> None:
    series = hourly({1})
    series.insert(2, (T0 + H + 30 * M, 50.0))  # back under at 1:30
    r = overflow_score([[series]], T0, T0 + D)
    # Over 1:00-1:30 = 0.5 h = allowed 0.5 h × 1 point × 1 day: meets.
    assert (r.hours, r.allowed_hours, r.meets) == (0.5, 0.5, True)


def test_no_points_means_no_verdict() -> None:
    r = overflow_score([], T0, T0 + D)
    assert (r.points, r.hours, r.meets) == (0, 0.0, None)


# --- Sạch: coverage and verdict ---------------------------------------------------------


def test_coverage_exact() -> None:
    assert coverage_score(200, 180) == CoverageResult(200, 180, 90.0, 90.0, True)
    assert coverage_score(200, 179).percent == 89.5
    assert coverage_score(200, 179).meets is False
    assert coverage_score(0, 0) == CoverageResult(0, 0, None, 90.0, None)


def collection(percent: float | None) -> CollectionResult:
    meets = None if percent is None else percent >= 90.0
    return CollectionResult(0, 0, percent, 90.0, meets)


def overflow(hours: float, allowed: float = 1.0, points: int = 1) -> OverflowResult:
    return OverflowResult(points, hours, 0.0, allowed, hours <= allowed if points else None)


def coverage(percent: float | None) -> CoverageResult:
    return CoverageResult(0, 0, percent, 90.0, None if percent is None else percent >= 90.0)


def test_sach_met_when_all_met_failed_when_any_fails() -> None:
    assert sach_result(collection(95), overflow(0), coverage(90)).meets is True
    assert sach_result(collection(95), overflow(2), coverage(90)).meets is False
    assert sach_result(collection(None), overflow(0), coverage(90)).meets is None
    assert sach_result(collection(None), overflow(2), coverage(90)).meets is False


# --- Ranking ----------------------------------------------------------------------------


def village(
    vid: str,
    sang: float | None,
    coll: float | None = 90.0,
    hours: float = 0.0,
    cov: float | None = 90.0,
) -> VillageScores:
    s = SangResult(0, 0, 0, 0, sang, 95.0, None if sang is None else sang >= 95.0)
    return VillageScores(vid, s, sach_result(collection(coll), overflow(hours), coverage(cov)))


def test_formula_parts() -> None:
    # Sáng 76 / 95 = 0.8 → 40; Sạch mean(45/90, 1 − 0.5/1, 72/90) = mean(0.5, 0.5, 0.8) = 0.6 → 30.
    sang_part, sach_part = parts(village("b", 76.0, coll=45.0, hours=0.5, cov=72.0))
    assert sang_part == pytest.approx(40.0)
    assert sach_part == pytest.approx(30.0)
    # Above target is capped at 1: 100 / 95 → 50; all Sạch met → 50.
    assert parts(village("a", 100.0)) == (50.0, 50.0)
    # Overflow beyond the allowance gives 0, not a negative: mean(1, 0, 1) = 2/3 → 33.33.
    assert parts(village("c", 95.0, hours=3.0))[1] == pytest.approx(100 / 3)


def test_missing_numbers() -> None:
    # No lamps: Sáng part 0. No decided collection event: left out of the Sạch mean.
    assert parts(village("x", None, coll=None)) == (0.0, 50.0)
    # No Sạch indicator at all: Sạch part 0.
    sang = village("y", 95.0).sang
    v = VillageScores(
        "y", sang, sach_result(collection(None), overflow(0, points=0), coverage(None))
    )
    assert parts(v) == (50.0, 0.0)


def test_ranking_order_and_ties() -> None:
    rows = rank(
        [
            village("thon-d", 76.0, coll=72.0, cov=72.0),  # 40 + 50 × mean(.8, 1, .8) = 40 + 43.33
            village("thon-c", 95.0, coll=45.0, hours=0.5, cov=72.0),  # 50 + 30 = 80
            village("thon-top", 95.0),  # 50 + 50 = 100
            village("thon-e", 76.0, coll=72.0, hours=0.2, cov=72.0),  # 40 + 50 × .8 = 80
            village("thon-b", 57.0, coll=None),  # 30 + 50 = 80, lower Sáng than c and e
            village("thon-a", 57.0, coll=None),  # same as b: id decides
        ]
    )
    assert [(r.rank, r.village_id, r.score) for r in rows] == [
        (1, "thon-top", 100.0),
        (2, "thon-d", 83.33),
        (3, "thon-c", 80.0),  # Sáng 95 beats e's 76
        (4, "thon-e", 80.0),
        (5, "thon-a", 80.0),  # Sáng 57, a before b
        (6, "thon-b", 80.0),
    ]
    assert rows[2].sang_part == 50.0
    assert rows[2].sang_percent == 95.0


def test_formula_text_is_printed_in_the_docs() -> None:
    text = formula_text()
    assert text.startswith("Điểm = 50 × min(1; Sáng% ÷ mục tiêu Sáng)")
    docs = Path(__file__).resolve().parents[2] / "docs" / "scores.md"
    assert text in docs.read_text(encoding="utf-8")
