"""Green Sundays and clean-up campaigns: listed by period, recorded, corrected and deleted by the
office (``backend/campaigns.py``)."""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ..auth.identify import shown_name
from ..auth.roles import Principal
from ..campaigns import (
    DEFAULT_NAMES,
    FIRST_DAY,
    LAST_DAY,
    MAX_DAYS,
    Campaign,
    CampaignEntry,
    add,
    between,
    correct,
    get,
    in_period,
    remove,
    span_days,
)
from ..web.render import period_of
from .deps import ServicesDep, operator, viewer
from .schemas import MAX_ID

router = APIRouter(prefix="/api/v1", tags=["campaigns"], dependencies=[Depends(viewer)])

CampaignId = Annotated[int, Path(ge=1, le=MAX_ID)]
Kind = Literal["chu_nhat_xanh", "tong_ve_sinh", "other"]


class CampaignIn(BaseModel):
    """A campaign as the office records it. The fields are checked in this order, so that each
    check can read the fields before it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Kind = Field(
        default="chu_nhat_xanh",
        description="chu_nhat_xanh (Chủ nhật xanh), tong_ve_sinh (a clean-up day) or other",
    )
    name: str | None = Field(
        default=None,
        max_length=120,
        validate_default=True,
        description="default: the kind's name ('Chủ nhật xanh'); required for kind other",
    )
    first_day: date = Field(ge=FIRST_DAY, le=LAST_DAY, description="its (first) local day")
    last_day: date | None = Field(
        default=None,
        ge=FIRST_DAY,
        le=LAST_DAY,
        validate_default=True,
        description=f"its last day, for a run of days (at most {MAX_DAYS}); default: first_day",
    )
    all_villages: bool = Field(default=False, description="the whole commune took part")
    villages: list[str] = Field(
        default_factory=list,
        max_length=500,
        validate_default=True,
        description="the ids of the villages taking part (the registry's); empty with all_villages",
    )
    participants: int | None = Field(
        default=None, ge=1, le=1_000_000, description="how many people took part"
    )
    note: str | None = Field(default=None, max_length=500)
    entered_by: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="who records it (default: the token's name)",
    )

    @field_validator("name")
    @classmethod
    def _named(cls, value: str | None, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if value:
            return value
        if kind in DEFAULT_NAMES:
            return DEFAULT_NAMES[kind]
        raise PydanticCustomError(
            "campaign_name_missing", "a campaign of kind 'other' needs a name"
        )

    @field_validator("last_day")
    @classmethod
    def _span(cls, value: date | None, info: ValidationInfo) -> date | None:
        first = info.data.get("first_day")
        if value is None or first is None:
            return value
        if value < first:
            raise PydanticCustomError(
                "campaign_ends_before", "last_day {last} is before first_day {first}",
                {"last": value.isoformat(), "first": first.isoformat()},
            )  # fmt: skip
        if span_days(first, value) > MAX_DAYS:
            raise PydanticCustomError(
                "campaign_too_long", "a campaign is at most {max_days} days",
                {"max_days": MAX_DAYS},
            )  # fmt: skip
        return value

    @field_validator("villages")
    @classmethod
    def _some_village(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if not value and not info.data.get("all_villages"):
            raise PydanticCustomError(
                "campaign_no_village", "name the villages taking part, or set all_villages"
            )
        return value


class CampaignPublic(BaseModel):
    id: int
    name: str
    kind: str
    kind_vi: str = Field(description="the kind in Vietnamese")
    first_day: date
    last_day: date
    all_villages: bool
    villages: list[str] = Field(description="the villages taking part")
    participants: int | None
    note: str | None
    entered_by: str
    entered_at: float = Field(description="when it was recorded, Unix seconds")
    corrected_at: float | None = Field(description="when it was last corrected")


def public(campaign: Campaign) -> CampaignPublic:
    return CampaignPublic(
        id=campaign.id, name=campaign.name, kind=campaign.kind, kind_vi=campaign.kind_vi,
        first_day=campaign.first_day, last_day=campaign.last_day,
        all_villages=campaign.all_villages, villages=list(campaign.village_ids),
        participants=campaign.participants, note=campaign.note,
        entered_by=campaign.entered_by, entered_at=campaign.entered_at,
        corrected_at=campaign.corrected_at,
    )  # fmt: skip


def unknown_villages(body: CampaignIn, known: list[str]) -> list[dict[str, Any]]:
    """The errors, FastAPI's way, for the ids of ``villages`` that are not the registry's."""
    return [
        {"type": "campaign_unknown_village", "loc": ("body", "villages", index),
         "msg": f"no village {village_id!r} in the registry; its villages: {', '.join(known)}",
         "input": village_id}
        for index, village_id in enumerate(body.villages)
        if village_id not in known
    ]  # fmt: skip


def entry(body: CampaignIn, known: list[str], by: str) -> CampaignEntry:
    """The checked body as kept: every village of the registry for the whole commune."""
    errors = unknown_villages(body, known)
    if errors:
        raise RequestValidationError(errors)
    assert body.name is not None  # the validator names every campaign
    chosen = set(body.villages)
    return CampaignEntry(
        name=body.name, kind=body.kind, first_day=body.first_day,
        last_day=body.last_day or body.first_day,
        village_ids=tuple(known if body.all_villages else [v for v in known if v in chosen]),
        all_villages=body.all_villages, participants=body.participants, note=body.note or None,
        entered_by=body.entered_by or by,
    )  # fmt: skip


def _known(services: Any) -> list[str]:
    return [v.id for v in services.commune.villages]


@router.get("/campaigns")
def list_campaigns(
    services: ServicesDep,
    period: Annotated[
        str | None,
        Query(
            max_length=40,
            description="only those with a day in it: 2026-06, 2026-H1, 2026, or "
            "2026-06-01..2026-06-30 (local days); default: all",
        ),
    ] = None,
    village: Annotated[
        str | None, Query(max_length=32, description="only those it took part in")
    ] = None,
) -> list[CampaignPublic]:
    """The campaigns in the order of their days."""
    if village is not None and village not in _known(services):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no village {village!r}")
    if period is None:
        return [public(c) for c in between(services.engine, village_id=village)]
    chosen = period_of(period, "query", "period")  # a period it cannot read: 422 naming it
    return [public(c) for c in in_period(services.engine, chosen, village)]


@router.get("/campaigns/{campaign_id}")
def one_campaign(campaign_id: CampaignId, services: ServicesDep) -> CampaignPublic:
    found = get(services.engine, campaign_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no campaign {campaign_id}")
    return public(found)


@router.post("/campaigns", status_code=status.HTTP_201_CREATED)
def record_campaign(
    body: CampaignIn,
    services: ServicesDep,
    principal: Annotated[Principal, Depends(operator)],
) -> CampaignPublic:
    """Record a campaign; 422 naming each refused field."""
    kept = entry(body, _known(services), shown_name(principal)[:64])
    return public(add(services.engine, kept, time.time()))


@router.put("/campaigns/{campaign_id}")
def correct_campaign(
    campaign_id: CampaignId,
    body: CampaignIn,
    services: ServicesDep,
    principal: Annotated[Principal, Depends(operator)],
) -> CampaignPublic:
    """Replace what was recorded of a campaign (the whole body, as when recording it)."""
    kept = entry(body, _known(services), shown_name(principal)[:64])
    found = correct(services.engine, campaign_id, kept, time.time())
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no campaign {campaign_id}")
    return public(found)


@router.delete(
    "/campaigns/{campaign_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(operator)],
)
def delete_campaign(campaign_id: CampaignId, services: ServicesDep) -> Response:
    """Delete a campaign recorded by mistake."""
    if not remove(services.engine, campaign_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no campaign {campaign_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
