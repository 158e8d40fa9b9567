"""Gateway states: each gateway reports its own (gateway token); viewers read them all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from .. import gateways
from .deps import ConnDep, ServicesDep, gateway, viewer

router = APIRouter(prefix="/api/v1", tags=["gateways"])

GATEWAY_ID = r"^[A-Za-z0-9_-]{1,32}$"


class GatewayReport(BaseModel):
    spool_full: str = Field(
        max_length=1000, description="why intake is paused (the spool's disk), or empty"
    )
    spooled: int = Field(ge=0, description="entries waiting in the spool")
    intake_stalled: str = Field(
        default="",
        max_length=1000,
        description="why intake looks stuck (messages wait, nothing committed), or empty",
    )


class GatewayStateOut(BaseModel):
    gateway_id: str
    spool_full: str
    spooled: int
    full_since: float | None = Field(description="since when the spool is full, or null")
    reported_at: float = Field(description="time of the latest report (heartbeat)")
    intake_stalled: str = Field(
        description="why the gateway's intake looks stuck (messages wait, nothing committed "
        "to its spool), or empty"
    )


GatewayId = Annotated[
    str, Path(pattern=GATEWAY_ID, description="the gateway's SANGSACH_GATEWAY_ID")
]


@router.put("/gateways/{gateway_id}/state", dependencies=[Depends(gateway)])
def report_state(
    gateway_id: GatewayId, body: GatewayReport, services: ServicesDep
) -> GatewayStateOut:
    """A gateway's heartbeat. On the change to spool full, one SMS to each office phone;
    on the change back, one "resolved" SMS."""
    now = services.clock()
    with services.engine.begin() as conn:
        queued = gateways.report(
            conn,
            gateway_id,
            body.spool_full,
            body.spooled,
            now,
            services.settings.sms_office_phones,
            body.intake_stalled,
        )
        state = next(s for s in gateways.states(conn) if s.gateway_id == gateway_id)
    if queued:
        services.dispatcher.wake()
    return _out(state)


@router.get("/gateways", dependencies=[Depends(viewer)])
def list_states(conn: ConnDep) -> list[GatewayStateOut]:
    """Every gateway that ever reported, with its latest state."""
    return [_out(state) for state in gateways.states(conn)]


def _out(state: gateways.GatewayState) -> GatewayStateOut:
    return GatewayStateOut(
        gateway_id=state.gateway_id,
        spool_full=state.spool_full,
        spooled=state.spooled,
        full_since=state.full_since,
        reported_at=state.reported_at,
        intake_stalled=state.intake_stalled,
    )
