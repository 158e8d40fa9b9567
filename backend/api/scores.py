"""Sáng and Sạch scores per village for a period, with coverage, verdicts and the ranking."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from ..scores.service import PeriodScores
from ..scores.verdict import VERDICT_VI
from .deps import ServicesDep, viewer
from .schemas import MAX_TS

router = APIRouter(prefix="/api/v1", tags=["scores"], dependencies=[Depends(viewer)])

MAX_PERIOD_S = 400 * 86_400


@router.get("/scores")
def scores(
    services: ServicesDep,
    start: Annotated[int, Query(ge=0, le=MAX_TS, description="Unix seconds, inclusive")],
    end: Annotated[int, Query(ge=0, le=MAX_TS, description="Unix seconds, exclusive")],
) -> dict[str, Any]:
    """Per village: each indicator's value, target, coverage (the measured share of its
    required time) and verdict (met, not_met, insufficient, not_measured, nothing_due), the
    additive parts they come from, and the ranking of the villages with enough coverage, with
    the commune's formula (docs/scores.md). A period still running is computed up to now
    (``upto``, ``in_progress``)."""
    if end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="end must be after start")
    if end - start > MAX_PERIOD_S:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="a period is at most 400 days"
        )
    return as_json(services.scores.period(start, end))


def as_json(result: PeriodScores) -> dict[str, Any]:
    villages = []
    for v in result.villages:
        one = asdict(v)
        one["parts"]["lamp_unknown_s"] = v.parts.lamp_unknown_s
        one["sach_vi"] = VERDICT_VI[v.sach]
        for name in ("sang", "collection", "overflow", "census", "planned", "tet"):
            one[name]["verdict_vi"] = VERDICT_VI[one[name]["verdict"]]
        villages.append(one)
    return {
        "start": result.start,
        "end": result.end,
        "upto": result.upto,
        "in_progress": result.in_progress,
        "has_data": result.has_data,
        "villages": villages,
        "ranking": [
            {"rank": v.rank, "village_id": v.village_id, "score": v.score} for v in result.ranking
        ],
        "unranked": [
            {"village_id": v.village_id, "reason": v.unranked_reason}
            for v in result.unranked
            if result.has_data
        ],
        "formula": result.formula.model_dump(),
        "formula_text": result.formula_text,
    }
