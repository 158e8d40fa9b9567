"""From a village's summed parts to its indicators, coverage, verdicts and score; the ranking.

Pure. Every share is of whole seconds or counts. Unknown time is *not measured*: it is never
lit nor dark, never overflow nor clean. Each indicator reports its coverage (the measured
share of its required time); below the commune's floor its verdict is "Chưa đủ số liệu". The
score multiplies each indicator's attainment on what was measured by that coverage, so a
village gains nothing when its sensors go silent or lose power. See docs/scores.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from sangsach import formats
from sangsach.registry_file import ScoreFormula

from .parts import Parts

Verdict = Literal["met", "not_met", "insufficient", "not_measured", "nothing_due"]

VERDICT_VI: dict[str, str] = {
    "met": "Đạt",
    "not_met": "Chưa đạt",
    "insufficient": "Chưa đủ số liệu",
    "not_measured": "Không đo",
    "nothing_due": "Không phát sinh",
}


@dataclass(frozen=True, slots=True)
class Indicator:
    value: float | None  # the indicator's own figure: a percent, or overflow hours
    target: float
    coverage: float | None  # measured share of the required time, in %; None: not time-based
    verdict: Verdict
    attainment: float | None  # 0..1 for the score (already × coverage); None: left out


@dataclass(frozen=True, slots=True)
class VillageResult:
    village_id: str
    name: str
    parts: Parts
    sang: Indicator  # value: % of the measured required time that was lit
    collection: Indicator  # value: % of decided full events emptied within the SLA
    overflow: Indicator  # value: overflow hours; target: hours allowed for the measured time
    census: Indicator  # value: % of main-road households with a standard bin
    sach: Verdict
    score: float | None  # None when not ranked
    rank: int | None
    unranked_reason: str | None
    planned: Indicator  # value: % of the planned visits seen done (shown, not in the score)
    tet: Indicator  # the same, of the rounds before Tết


def _share(part: int, whole: int) -> float | None:
    # One division of whole numbers: exactly 95 % comes out as 95.0 and meets 95.0.
    return None if whole == 0 else 100 * part / whole


def _judge(value: float | None, target: float, at_most: bool = False) -> Verdict:
    if value is None:
        return "nothing_due"
    return "met" if (value <= target if at_most else value >= target) else "not_met"


def sang(parts: Parts, formula: ScoreFormula) -> Indicator:
    target = formula.sang_target_pct
    required, measured = parts.lamp_required_s, parts.lamp_lit_s + parts.lamp_dark_s
    if required == 0:
        return Indicator(None, target, None, "not_measured", None)
    coverage = _share(measured, required)
    lit = _share(parts.lamp_lit_s, measured)
    assert coverage is not None
    if lit is None or coverage < formula.coverage_floor_pct:
        verdict: Verdict = "insufficient"
    else:
        verdict = _judge(lit, target)
    attainment = 0.0 if lit is None else min(1.0, lit / target) * coverage / 100
    return Indicator(lit, target, coverage, verdict, attainment)


def _bin_coverage(parts: Parts) -> float | None:
    return _share(parts.bin_measured_s, parts.bin_required_s)


def collection(parts: Parts, formula: ScoreFormula) -> Indicator:
    target = formula.collection_target_pct
    coverage = _bin_coverage(parts)
    if coverage is None:
        return Indicator(None, target, None, "not_measured", None)
    on_time = _share(parts.full_on_time, parts.full_on_time + parts.full_late)
    if coverage < formula.coverage_floor_pct:
        verdict: Verdict = "insufficient"
    else:
        verdict = _judge(on_time, target)
    attainment = None if on_time is None else min(1.0, on_time / target) * coverage / 100
    return Indicator(on_time, target, coverage, verdict, attainment)


def overflow(parts: Parts, formula: ScoreFormula) -> Indicator:
    """Overflow hours against an allowance per point-day of *measured* time; attainment in
    proportion: 1 up to the allowance, then allowance ÷ hours (twice over: 0.5)."""
    coverage = _bin_coverage(parts)
    allowed = formula.overflow_allowed_h_per_point_day * parts.bin_measured_s / 86_400
    hours = parts.bin_overflow_s / 3600
    if coverage is None:
        return Indicator(None, allowed, None, "not_measured", None)
    if coverage < formula.coverage_floor_pct:
        verdict: Verdict = "insufficient"
    else:
        verdict = _judge(hours, allowed, at_most=True)
    attained = 1.0 if hours <= allowed else allowed / hours
    return Indicator(hours, allowed, coverage, verdict, attained * coverage / 100)


def census(parts: Parts, formula: ScoreFormula) -> Indicator:
    target = formula.census_target_pct
    found = parts.census
    if found is None or found.main_road_households == 0:
        return Indicator(None, target, None, "not_measured", None)
    share = _share(found.main_road_standard_bins, found.main_road_households)
    assert share is not None
    return Indicator(share, target, None, _judge(share, target), min(1.0, share / target))


def planned_visits(planned: int, collected: int, unknown: int, formula: ScoreFormula) -> Indicator:
    """The work lists' planned visits that the bins' readings saw done (``rounds.py``): the
    share of the stops that could be judged; coverage: of the planned stops, those whose point
    was heard in the round. Against the collection target; shown beside the Sạch indicators,
    not counted in the score nor in the Sạch verdict (docs/scores.md)."""
    target = formula.collection_target_pct
    if planned == 0:
        return Indicator(None, target, None, "nothing_due", None)
    measured = planned - unknown
    coverage = _share(measured, planned)
    done = _share(collected, measured)
    assert coverage is not None
    if done is None or coverage < formula.coverage_floor_pct:
        verdict: Verdict = "insufficient"
    else:
        verdict = _judge(done, target)
    return Indicator(done, target, coverage, verdict, None)


def sach(indicators: Sequence[Indicator]) -> Verdict:
    """Met when every indicator the village can measure is met with enough coverage."""
    verdicts = [i.verdict for i in indicators]
    for verdict in ("not_met", "insufficient", "met", "nothing_due"):
        if verdict in verdicts:
            return verdict
    return "not_measured"


def _unranked_reason(s: Indicator, bins: Indicator, floor: float) -> str | None:
    if s.verdict == "not_measured":
        return "không có đèn gắn cảm biến phải sáng trong kỳ"
    if bins.verdict == "not_measured":
        return "không có thùng rác gắn cảm biến hoạt động trong kỳ"
    for what, indicator in (("đèn", s), ("thùng rác", bins)):
        if indicator.coverage is not None and indicator.coverage < floor:
            return (
                f"số liệu {what} chỉ đo được {_vi(indicator.coverage)}% thời gian"
                f" (cần từ {_vi(floor)}%)"
            )
    return None


def _vi(value: float) -> str:
    return formats.number(value, 1)


def judge(village_id: str, name: str, parts: Parts, formula: ScoreFormula) -> VillageResult:
    s, c, o, k = (
        sang(parts, formula),
        collection(parts, formula),
        overflow(parts, formula),
        census(parts, formula),
    )
    reason = _unranked_reason(s, o, formula.coverage_floor_pct)
    score = None
    if reason is None:
        sach_parts = [i.attainment for i in (c, o, k) if i.attainment is not None]
        sach_mean = sum(sach_parts) / len(sach_parts)  # overflow is always there when ranked
        score = round(
            formula.sang_weight * (s.attainment or 0.0) + formula.sach_weight * sach_mean, 2
        )
    p = parts
    return VillageResult(
        village_id, name, parts, s, c, o, k, sach((c, o, k)), score, None, reason,
        planned_visits(p.rounds_planned, p.rounds_collected, p.rounds_unknown, formula),
        planned_visits(p.tet_planned, p.tet_collected, p.tet_unknown, formula),
    )  # fmt: skip


def rank(results: Sequence[VillageResult]) -> list[VillageResult]:
    """The ranked villages, highest score first; ties by higher Sáng %, then village id.

    Villages without a score (not enough coverage) are not ranked: see ``unranked_reason``.
    """
    ranked = sorted(
        (r for r in results if r.score is not None),
        key=lambda r: (-(r.score or 0.0), -(r.sang.value or 0.0), r.village_id),
    )
    return [replace(r, rank=i) for i, r in enumerate(ranked, start=1)]


def formula_text(formula: ScoreFormula, unit: str = "thôn") -> str:
    """The ranking formula in Vietnamese, with the commune's numbers, as printed; ``unit``:
    what is ranked (the villages of a commune, the communes of a province: ``xã``)."""
    f = formula
    return (
        f"Điểm = {f.sang_weight:g} × Sáng + {f.sach_weight:g} × trung bình các chỉ tiêu Sạch có"
        f" số liệu. Mỗi chỉ tiêu tính trên thời gian đo được rồi nhân với tỉ lệ thời gian đo được"
        f" (thời gian không đo được không tính là đạt, cũng không tính là hỏng): Sáng ="
        f" min(1; tỉ lệ sáng ÷ {_vi(f.sang_target_pct)}%); thu gom đúng hạn ="
        f" min(1; tỉ lệ đúng hạn ÷ {_vi(f.collection_target_pct)}%); tràn rác = 1 nếu số giờ"
        f" tràn không quá {_vi(f.overflow_allowed_h_per_point_day)} giờ mỗi điểm mỗi ngày đo"
        f" được, quá thì bằng giờ cho phép ÷ giờ tràn; thùng rác đạt chuẩn trên trục chính ="
        f" min(1; tỉ lệ ÷ {_vi(f.census_target_pct)}%) (không nhân tỉ lệ đo). Chỉ xếp hạng {unit}"
        f" có số liệu đèn và thùng rác từ {_vi(f.coverage_floor_pct)}% thời gian trở lên; {unit}"
        f' không có đèn hoặc thùng rác gắn cảm biến ghi "Chưa xếp hạng". Làm tròn 2 chữ số'
        f" thập phân; bằng điểm thì xếp theo tỉ lệ sáng cao hơn, rồi theo mã {unit}."
    )
