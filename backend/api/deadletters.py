"""Rejected device messages, each with its reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from sangsach.contract import Reason

from .. import db
from .deps import ConnDep, viewer
from .schemas import MAX_ID, DeadLetterPublic

router = APIRouter(prefix="/api/v1", tags=["dead letters"], dependencies=[Depends(viewer)])


@router.get("/dead-letters")
def list_dead_letters(
    conn: ConnDep,
    reason: Annotated[Reason | None, Query()] = None,
    device: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[DeadLetterPublic]:
    """Newest first."""
    table = db.dead_letters
    query = select(table).order_by(table.c.received_at.desc(), table.c.id)
    if reason:
        query = query.where(table.c.reason == reason)
    if device:
        query = query.where(table.c.device_id == device)
    rows = conn.execute(query.limit(limit).offset(offset))
    return [DeadLetterPublic.model_validate(row._mapping) for row in rows]
