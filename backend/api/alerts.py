"""Alerts: list and filter, acknowledge, assign, and history with response times."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from ..alerts import tables
from ..alerts.lifecycle import Alert, State
from ..alerts.model import AlertType
from ..alerts.tables import from_row
from .deps import ConnDep, ServicesDep, operator, viewer
from .schemas import MAX_TS, AlertId

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], dependencies=[Depends(viewer)])


class AlertPublic(BaseModel):
    id: int = Field(description="also the code people answer by SMS: OK <id>, XONG <id>")
    device_id: str
    type: AlertType
    village_id: str
    state: State
    level: int = Field(description="0: team, 1: village head, 2: commune office")
    opened_at: float
    acked_at: float | None
    acked_by: str | None
    done_at: float | None
    done_by: str | None
    cleared_at: float | None
    collected_at: float | None = Field(description="for a full bin: when it was emptied")
    reminders: int
    assigned_to: str | None


class Acknowledge(BaseModel):
    by: str = Field(min_length=1, max_length=64, description="who takes it on")


class Assign(BaseModel):
    to: str = Field(min_length=1, max_length=64, description="a person or team")


class TypeHistory(BaseModel):
    type: AlertType
    opened: int
    acknowledged: int
    cleared: int
    mean_time_to_acknowledge_s: float | None
    mean_time_to_clear_s: float | None


def _public(alert: Alert) -> AlertPublic:
    return AlertPublic.model_validate(alert, from_attributes=True)


@router.get("")
def list_alerts(
    conn: ConnDep,
    state: Annotated[State | None, Query()] = None,
    active: Annotated[bool | None, Query(description="true: not cleared")] = None,
    village: Annotated[str | None, Query(max_length=32)] = None,
    type: Annotated[AlertType | None, Query()] = None,
    device: Annotated[str | None, Query(max_length=48)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[AlertPublic]:
    """Newest first."""
    table = tables.alerts
    query = select(table).order_by(table.c.opened_at.desc(), table.c.id.desc()).limit(limit)
    for column, value in (
        (table.c.state, state),
        (table.c.village_id, village),
        (table.c.type, type),
        (table.c.device_id, device),
    ):
        if value is not None:
            query = query.where(column == value)
    if active is not None:
        cleared = table.c.state == State.CLEARED.value
        query = query.where(~cleared if active else cleared)
    return [_public(from_row(row._mapping)) for row in conn.execute(query)]


@router.get("/history")
def history(
    conn: ConnDep,
    start: Annotated[
        float | None, Query(ge=0, le=MAX_TS, description="opened at or after, Unix s")
    ] = None,
    end: Annotated[
        float | None, Query(ge=0, le=MAX_TS, description="opened before, Unix s")
    ] = None,
) -> list[TypeHistory]:
    """Per type: how many opened, acknowledged and cleared, and the mean times to each."""
    table = tables.alerts
    query = select(
        table.c.type, table.c.raised_at, table.c.acked_at, table.c.opened_at, table.c.cleared_at
    )
    if start is not None:
        query = query.where(table.c.opened_at >= start)
    if end is not None:
        query = query.where(table.c.opened_at < end)
    per_type: dict[str, list[tuple[float | None, float | None]]] = {}
    for row in conn.execute(query):
        to_ack = row.acked_at - row.raised_at if row.acked_at is not None else None
        to_clear = row.cleared_at - row.opened_at if row.cleared_at is not None else None
        per_type.setdefault(row.type, []).append((to_ack, to_clear))
    return [
        TypeHistory(
            type=AlertType(type_),
            opened=len(times),
            acknowledged=len(acks := [a for a, _ in times if a is not None]),
            cleared=len(clears := [c for _, c in times if c is not None]),
            mean_time_to_acknowledge_s=sum(acks) / len(acks) if acks else None,
            mean_time_to_clear_s=sum(clears) / len(clears) if clears else None,
        )
        for type_, times in sorted(per_type.items())
    ]


@router.get("/{alert_id}")
def get_alert(alert_id: AlertId, services: ServicesDep) -> AlertPublic:
    return _public(services.alerts.get(alert_id))  # an unknown id: 404 (errors.py)


@router.post("/{alert_id}/ack", dependencies=[Depends(operator)])
def acknowledge(alert_id: AlertId, body: Acknowledge, services: ServicesDep) -> AlertPublic:
    """Take an alert on: reminders and escalation stop; it clears when the device recovers."""
    return _public(services.alerts.acknowledge(alert_id, body.by))


@router.post("/{alert_id}/assign", dependencies=[Depends(operator)])
def assign(alert_id: AlertId, body: Assign, services: ServicesDep) -> AlertPublic:
    return _public(services.alerts.assign(alert_id, body.to))
