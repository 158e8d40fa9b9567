"""Sáng and Sạch scores per village for a period, with the emulation ranking."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status

from ..scores.compute import commune_scores
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
    """Per village: Sáng % inside the required lighting windows (unknown minutes apart), the
    Sạch indicators against their targets, and the ranking with its formula (docs/scores.md)."""
    if end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="end must be after start")
    if end - start > MAX_PERIOD_S:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="a period is at most 400 days"
        )
    return commune_scores(services.store, services.commune, start, end, services.census())
