"""Sáng and Sạch walks, verdicts and the ranking, with hand-computed numbers at the edges.

Times are seconds from T0, a local midnight; "18h" below means T0 + 18 × 3600.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from sangsach.backend.domain.rules import Thresholds
from sangsach.backend.scores.model import known_segments
from sangsach.backend.scores.parts import Parts, total
from sangsach.backend.scores.sach import collection_parts, full_events, point_seconds
from sangsach.backend.scores.sang import LampInput, lamp_seconds, required_spans
from sangsach.backend.scores.verdict import formula_text, judge, rank
from sangsach.contract import LightingWindow
from sangsach.lighting import LightingSchedule
from sangsach.registry_file import Census, ScoreFormula

T0 = 1_780_000_000 - 1_780_000_000 % 86400  # a UTC midnight; local time plays no part here
M, H, D = 60, 3600, 86400
NIGHT = [(T0 + 18 * H, T0 + 30 * H)]  # 18:00 to 06:00 next day: 12 h = 720 min
DAY = (T0, T0 + 2 * D)  # a period holding the whole night
TH = Thresholds()
FORMULA = ScoreFormula()


def every(a: int, b: int, lit: bool, step: int = 300) -> list[tuple[int, bool]]:
    """A lamp reporting every 5 min from a (inclusive) to b (exclusive)."""
    return [(t, lit) for t in range(a, b, step)]


def fills(*pairs: tuple[float, float]) -> list[tuple[int, float]]:
    """A bin series from (hours after T0, fill %)."""
    return [(T0 + int(h * H), f) for h, f in pairs]


@dataclass
class Minutes:
    required_minutes: float
    lit_minutes: float
    dark_minutes: float
    unknown_minutes: float
    percent: float | None  # of the measured time
    meets: bool | None


def sang_score(lamps: list[LampInput], start: int, end: int, stale_s: int = 900) -> Minutes:
    """The lamps' minutes summed, with the Sáng % of the measured time."""
    required = lit = dark = 0
    for lamp in lamps:
        r, li, d = lamp_seconds(lamp, start, end, stale_s)
        required, lit, dark = required + r, lit + li, dark + d
    pct = None if lit + dark == 0 else 100 * lit / (lit + dark)
    meets = None if pct is None else pct >= 95.0
    return Minutes(required / 60, lit / 60, dark / 60, (required - lit - dark) / 60, pct, meets)


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
    assert r.percent == 100.0  # of the measured time; 350 min are not measured


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


def on_time_late(
    series: list[tuple[int, float]], start: int, end: int, baseline: float | None = None
) -> tuple[int, int]:
    return collection_parts([(series, baseline)], start, end, TH)


def test_full_then_emptied_in_3_hours_is_on_time() -> None:
    assert on_time_late(fills((0, 10), (1, 85), (4, 5)), *DAY) == (1, 0)


def test_emptied_after_30_hours_is_late_and_decided_at_full_plus_sla() -> None:
    series = fills((0, 10), (1, 85), (31, 5))
    assert on_time_late(series, *DAY) == (0, 1)
    assert on_time_late(series, T0, T0 + 25 * H) == (0, 0)  # decided at 25:00, not before
    assert on_time_late(series, T0 + 25 * H, T0 + 26 * H) == (0, 1)


def test_emptied_exactly_at_sla_is_on_time() -> None:
    assert on_time_late(fills((0, 10), (1, 85), (25, 5)), *DAY) == (1, 0)


def test_drop_of_exactly_30_points_in_decimals_is_an_emptying() -> None:
    # 90.1 - 60.1 is 29.999999999999993 in floats: the first wave missed this emptying and
    # turned the event late 24 h later. In tenths it is exactly 300.
    assert 90.1 - 60.1 < 30
    assert full_events(fills((0, 10.0), (1, 90.1), (2, 60.1)), TH) == [(T0 + H, T0 + 2 * H)]
    assert on_time_late(fills((0, 10.0), (1, 90.1), (2, 60.1)), *DAY) == (1, 0)
    # 29.9 points is not.
    assert full_events(fills((0, 10.0), (1, 90.1), (2, 60.2)), TH) == [(T0 + H, None)]


def test_first_reading_is_a_baseline_unless_one_is_given() -> None:
    series = fills((5, 90.0), (6, 10.0))
    assert full_events(series, TH) == []
    # A bin back from a long gap already full: the last reading before, however old, counts.
    assert full_events(series, TH, baseline=20.0) == [(T0 + 5 * H, T0 + 6 * H)]


# --- Sạch: overflow ---------------------------------------------------------------------

ALWAYS = (0, 2**62)


def hourly(*steps: tuple[int, float], hours: int = 24) -> list[tuple[int, float]]:
    """A bin read every hour from T0 for ``hours``: (first hour, fill) steps."""
    return [(T0 + h * H, [f for first, f in steps if first <= h][-1]) for h in range(hours)]


def test_two_overlapping_bins_of_one_point_count_once() -> None:
    a = hourly((0, 10), (10, 96), (13, 20))  # over 10:00-13:00
    b = hourly((0, 10), (12, 97), (14, 20))  # over 12:00-14:00
    assert point_seconds([(a, ALWAYS), (b, ALWAYS)], T0, T0 + D, TH, 3 * H) == (D, 4 * H, 0)


def test_stale_bin_is_unknown_unless_another_bin_overflows() -> None:
    a = hourly((0, 10), hours=12)  # last reading 11:00, fresh until 14:00
    b = hourly((0, 10), (20, 99))  # over from 20:00
    # 14:00-20:00 unknown (a stale, b fine); 20:00-24:00 over whatever a is.
    assert point_seconds([(a, ALWAYS), (b, ALWAYS)], T0, T0 + D, TH, 3 * H) == (D, 4 * H, 6 * H)


def test_a_bin_counts_only_inside_its_active_span() -> None:
    late = hourly((0, 10))
    installed_noon = (T0 + 12 * H, 2**62)
    assert point_seconds([(late, installed_noon)], T0, T0 + D, TH, 3 * H) == (12 * H, 0, 0)
    silent: list[tuple[int, float]] = []
    # Installed but never heard: required and unknown, not clean.
    assert point_seconds([(silent, installed_noon)], T0, T0 + D, TH, 3 * H) == (
        12 * H,
        0,
        12 * H,
    )


# --- Verdicts, coverage and the ranking -------------------------------------------------


def parts(**kw: int) -> Parts:
    census = Census(households=100, main_road_households=50, main_road_standard_bins=45)
    return Parts(**kw).with_census(census)


WELL = dict(
    lamp_required_s=100 * H, lamp_lit_s=96 * H, lamp_dark_s=4 * H,
    bin_required_s=240 * H, bin_overflow_s=0, bin_unknown_s=0, full_on_time=9, full_late=1,
)  # fmt: skip


def test_a_well_measured_village_meets_and_scores_by_the_formula() -> None:
    r = judge("thon-a", "Thôn A", parts(**WELL), FORMULA)
    assert (r.sang.value, r.sang.coverage, r.sang.verdict) == (96.0, 100.0, "met")
    assert (r.collection.value, r.collection.verdict) == (90.0, "met")
    assert (r.overflow.value, r.overflow.target, r.overflow.verdict) == (0.0, 5.0, "met")
    assert (r.census.value, r.census.verdict) == (90.0, "met")
    assert r.sach == "met"
    assert r.score == 100.0 and r.unranked_reason is None


def test_a_sensor_outage_is_not_enough_data_and_does_not_pay() -> None:
    # 70 % of lamp time measured, all lit: the verdict cannot be given and the score is 70 %
    # of the Sáng part, not the full part.
    outage = {**WELL, "lamp_lit_s": 70 * H, "lamp_dark_s": 0}
    r = judge("thon-a", "Thôn A", parts(**outage), FORMULA)
    assert (r.sang.value, r.sang.coverage, r.sang.verdict) == (100.0, 70.0, "insufficient")
    assert r.score is None
    assert r.unranked_reason == "số liệu đèn chỉ đo được 70,0% thời gian (cần từ 80,0%)"
    # At 85 % measured the village is ranked, and its silent 15 % costs it at least as much as
    # the same time dark would: losing sensors (or power to the nodes) never pays.
    silent = judge("a", "A", parts(**{**WELL, "lamp_lit_s": 85 * H, "lamp_dark_s": 0}), FORMULA)
    dark = judge("a", "A", parts(**{**WELL, "lamp_lit_s": 85 * H, "lamp_dark_s": 15 * H}), FORMULA)
    assert silent.score == 50 * 0.85 + 50  # 92.5
    assert dark.score == round(50 * 85 / 95 + 50, 2)  # 94.74


def test_unknown_bin_time_is_no_longer_clean() -> None:
    lost = {**WELL, "bin_unknown_s": 120 * H}  # half the point-time not measured
    r = judge("a", "A", parts(**lost), FORMULA)
    assert (r.overflow.coverage, r.overflow.verdict, r.sach) == (
        50.0,
        "insufficient",
        "insufficient",
    )
    assert r.score is None


def test_a_village_without_bins_is_not_measured_and_not_ranked() -> None:
    no_bins = {**WELL, "bin_required_s": 0, "full_on_time": 0, "full_late": 0}
    r = judge("a", "A", parts(**no_bins), FORMULA)
    assert (r.collection.verdict, r.overflow.verdict) == ("not_measured", "not_measured")
    assert r.sach == "met"  # the census, all it can measure, is met
    assert r.score is None
    assert r.unranked_reason == "không có thùng rác gắn cảm biến hoạt động trong kỳ"


def test_overflow_scores_in_proportion_with_the_allowance_of_the_measured_time() -> None:
    # 240 measured point-hours = 10 point-days: 5 h allowed.
    def attained(hours: float) -> float | None:
        r = judge("a", "A", parts(**{**WELL, "bin_overflow_s": int(hours * H)}), FORMULA)
        return r.overflow.attainment

    assert attained(5) == 1.0
    assert attained(10) == 0.5
    assert attained(50) == 0.1  # no cliff: ten times over still differs from twice over


def test_ranking_orders_by_score_then_sang_then_id() -> None:
    a = judge("thon-a", "A", parts(**WELL), FORMULA)
    b = judge(
        "thon-b", "B", parts(**{**WELL, "lamp_lit_s": 80 * H, "lamp_dark_s": 20 * H}), FORMULA
    )
    c = judge("thon-c", "C", parts(**WELL), FORMULA)
    u = judge("thon-u", "U", parts(**{**WELL, "bin_required_s": 0}), FORMULA)
    ranked = rank([b, u, c, a])
    assert [(r.village_id, r.rank) for r in ranked] == [("thon-a", 1), ("thon-c", 2), ("thon-b", 3)]


def test_parts_of_days_add_up_with_the_last_census() -> None:
    one = Parts(lamp_required_s=10, lamp_lit_s=5).with_census(
        Census(households=10, main_road_households=5, main_road_standard_bins=1)
    )
    two = Parts(lamp_required_s=20, lamp_lit_s=7).with_census(
        Census(households=11, main_road_households=6, main_road_standard_bins=6)
    )
    summed = total([one, two])
    assert (summed.lamp_required_s, summed.lamp_lit_s, summed.households) == (30, 12, 11)


def test_formula_is_the_communes_and_checked() -> None:
    text = formula_text(ScoreFormula(sang_target_pct=90, coverage_floor_pct=75))
    assert "90,0%" in text and "75,0%" in text
    with pytest.raises(ValueError, match="must be 100"):
        ScoreFormula(sang_weight=60, sach_weight=50)


def test_formula_text_is_printed_in_the_docs() -> None:
    docs = Path(__file__).parents[2] / "docs" / "scores.md"
    assert formula_text(FORMULA) in docs.read_text(encoding="utf-8")
