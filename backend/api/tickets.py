"""Citizens' reports as tickets: listed and closed by the office (docs/citizens.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from ..auth.identify import shown_name
from ..auth.roles import Principal
from ..citizens.service import CitizenReports, Ticket, TicketNotFound
from ..services import Services
from .deps import ServicesDep, operator

router = APIRouter(prefix="/api/v1/tickets", tags=["citizens' reports"])


class TicketPublic(BaseModel):
    id: int = Field(description="the ticket's number, #12 in the SMS")
    created_at: float
    channel: Literal["sms", "web"]
    phone: str | None = Field(description="the sender's phone, E.164; the form's is optional")
    kind: Literal["rac", "den", "khac"] = Field(description="waste, lamp, or other (free text)")
    code: str | None = Field(description="the printed code: P12 (gathering point), D15 (lamp)")
    device_id: str | None
    place_id: str | None
    village_id: str | None
    alert_id: str | None = Field(description="the device's open alert when the report came")
    text: str = Field(description="the report as sent, at most 500 characters")
    status: Literal["open", "closed"]
    closed_at: float | None
    closed_by: str | None
    note: str | None


class CloseTicket(BaseModel):
    note: str = Field(default="", max_length=500, description="the office's word, optional")


def public(ticket: Ticket) -> TicketPublic:
    return TicketPublic.model_validate(ticket, from_attributes=True)


def citizens_of(services: Services) -> CitizenReports:
    assert services.citizens is not None  # bootstrap sets it
    return services.citizens


@router.get("", dependencies=[Depends(operator)])
def list_tickets(
    services: ServicesDep,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    village: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[TicketPublic]:
    """Newest first. Operators only: a ticket holds the sender's phone number."""
    return [public(t) for t in citizens_of(services).list(status, village, limit)]


@router.post("/{ticket_id}/close")
def close_ticket(
    services: ServicesDep,
    principal: Annotated[Principal, Depends(operator)],
    ticket_id: Annotated[int, Path(ge=1, le=2**62)],
    body: Annotated[CloseTicket | None, Body()] = None,
) -> TicketPublic:
    """Close a ticket; its sender gets one SMS saying so (held through quiet hours). Closing a
    closed ticket again changes nothing and sends nothing."""
    try:
        ticket, _ = citizens_of(services).close(
            ticket_id, shown_name(principal), body.note if body else ""
        )
    except TicketNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err)) from err
    return public(ticket)
