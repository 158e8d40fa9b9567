"""Alerts: list and filter, acknowledge, assign, and history with response times."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from ..alerts import queries
from ..alerts.lifecycle import Alert, State
from ..alerts.model import AlertType
from ..alerts.queries import AlertFilter
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
    start: Annotated[
        float | None, Query(ge=0, le=MAX_TS, description="opened at or after, Unix s")
    ] = None,
    end: Annotated[
        float | None, Query(ge=0, le=MAX_TS, description="opened before, Unix s")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AlertPublic]:
    """Newest first."""
    where = AlertFilter(state, active, village, type, device, start, end)
    return [_public(a) for a in queries.list_alerts(conn, where, limit=limit, offset=offset)]


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
    stats = queries.history(conn, AlertFilter(start=start, end=end))
    return [TypeHistory.model_validate(s, from_attributes=True) for s in stats]


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
