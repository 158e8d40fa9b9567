"""The yearly emulation (thi đua) ranking of villages, by one printed formula."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sangsach.backend.scores.sach import SachResult
from sangsach.backend.scores.sang import SangResult


@dataclass(frozen=True, slots=True)
class VillageScores:
    village_id: str
    sang: SangResult
    sach: SachResult


@dataclass(frozen=True, slots=True)
class RankRow:
    rank: int
    village_id: str
    score: float  # sang_part + sach_part, rounded to 2 decimals
    sang_part: float  # 0..50
    sach_part: float  # 0..50
    sang_percent: float | None


def _ratio(value: float | None, target: float) -> float | None:
    """Attainment of an at-least target, capped at 1."""
    if value is None:
        return None
    return min(1.0, value / target) if target > 0 else 1.0


def _overflow(hours: float, allowed: float) -> float:
    """1 with no overflow, down to 0 at the allowed hours (all or nothing if none allowed)."""
    if allowed <= 0:
        return 1.0 if hours == 0 else 0.0
    return max(0.0, 1 - hours / allowed)


def parts(village: VillageScores) -> tuple[float, float]:
    """(Sáng part, Sạch part), each 0..50.

    A missing Sáng % (no lamp required) gives 0: no measurement, no points. A missing Sạch
    indicator (no decided event, no point, no main-road household) is left out of the mean; with
    none left the Sạch part is 0.
    """
    sang = _ratio(village.sang.percent, village.sang.target) or 0.0
    sach = village.sach
    attained = [
        _ratio(sach.collection.percent, sach.collection.target),
        _overflow(sach.overflow.hours, sach.overflow.allowed_hours)
        if sach.overflow.points
        else None,
        _ratio(sach.coverage.percent, sach.coverage.target),
    ]
    known = [a for a in attained if a is not None]
    mean = sum(known) / len(known) if known else 0.0
    return 50 * sang, 50 * mean


def rank(villages: Sequence[VillageScores]) -> list[RankRow]:
    """Highest score first; ties by higher Sáng % (missing lowest), then village id."""
    rows = []
    for village in villages:
        sang_part, sach_part = parts(village)
        score = round(sang_part + sach_part, 2)  # ties are decided on the printed score
        rows.append((score, sang_part, sach_part, village))
    rows.sort(
        key=lambda r: (
            -r[0],
            -(r[3].sang.percent if r[3].sang.percent is not None else -1.0),
            r[3].village_id,
        )
    )
    return [
        RankRow(i, v.village_id, score, sang_part, sach_part, v.sang.percent)
        for i, (score, sang_part, sach_part, v) in enumerate(rows, start=1)
    ]


FORMULA_VI = (
    "Điểm = 50 × min(1; Sáng% ÷ mục tiêu Sáng)"
    " + 50 × trung bình các chỉ tiêu Sạch có số liệu, gồm:"
    " thu gom đúng hạn min(1; tỉ lệ đúng hạn ÷ mục tiêu);"
    " tràn rác max(0; 1 − giờ tràn ÷ giờ cho phép);"
    " thùng rác đạt chuẩn trên trục chính min(1; tỉ lệ ÷ mục tiêu)."
    " Làm tròn 2 chữ số thập phân. Bằng điểm thì xếp theo Sáng% cao hơn, rồi theo mã thôn."
)


def formula_text() -> str:
    """The ranking formula in Vietnamese, as printed in the report."""
    return FORMULA_VI
