"""Gateway states: each gateway reports its own (its own gateway token); viewers read them all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from sangsach.config import GATEWAY_ID, BackendSettings

from .. import gateways
from .deps import ConnDep, GatewayDep, ServicesDep, speaking_for, viewer

router = APIRouter(prefix="/api/v1", tags=["gateways"])


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
    sms_held: str = Field(
        description="an SMS about this gateway's state that the office is owed but the limit "
        "holds back (SANGSACH_GATEWAY_SMS_PER_WINDOW), or empty"
    )
    sms_held_until: float | None = Field(description="when the held SMS may go, or null")


GatewayId = Annotated[
    str, Path(pattern=f"^{GATEWAY_ID}$", description="the gateway's SANGSACH_GATEWAY_ID")
]


@router.put(
    "/gateways/{gateway_id}/state",
    responses={403: {"description": "the token is not a gateway's, or another gateway's"}},
)
def report_state(
    gateway_id: GatewayId, body: GatewayReport, services: ServicesDep, principal: GatewayDep
) -> GatewayStateOut:
    """A gateway's heartbeat, with its own token. On the change to spool full, one SMS to each
    office phone; on the change back, one "resolved" SMS; at most SANGSACH_GATEWAY_SMS_PER_WINDOW
    of them per gateway in SANGSACH_GATEWAY_SMS_WINDOW_S (``sms_held`` says what waits)."""
    speaking_for(principal, gateway_id)
    now = services.clock()
    limit = sms_limit(services.settings)
    with services.engine.begin() as conn:
        reported = gateways.report(
            conn, gateway_id, body.spool_full, body.spooled, now, limit, body.intake_stalled
        )
        state = next(s for s in gateways.states(conn) if s.gateway_id == gateway_id)
    if reported.queued:
        services.dispatcher.wake()
    return _out(state, reported.held)


@router.get("/gateways", dependencies=[Depends(viewer)])
def list_states(conn: ConnDep, services: ServicesDep) -> list[GatewayStateOut]:
    """Every gateway that ever reported, with its latest state."""
    now = services.clock()
    limit = sms_limit(services.settings)
    return [_out(state, gateways.held(conn, state, now, limit)) for state in gateways.states(conn)]


def sms_limit(settings: BackendSettings) -> gateways.SmsLimit:
    return gateways.SmsLimit(
        settings.sms_office_phones, settings.gateway_sms_per_window, settings.gateway_sms_window_s
    )


def _out(state: gateways.GatewayState, held: gateways.Held | None) -> GatewayStateOut:
    return GatewayStateOut(
        gateway_id=state.gateway_id,
        spool_full=state.spool_full,
        spooled=state.spooled,
        full_since=state.full_since,
        reported_at=state.reported_at,
        intake_stalled=state.intake_stalled,
        sms_held=held.why if held else "",
        sms_held_until=held.until if held else None,
    )
