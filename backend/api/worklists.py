"""Bins' fill forecasts and the collection crews' daily work lists (docs/worklists.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from ..bin_forecasts import BinForecast, full_text
from ..forecast import BANDS, HISTORY_DAYS, MIN_SAMPLES
from ..worklists.plan import WorkList
from ..worklists.service import page_path
from .deps import ServicesDep, viewer

router = APIRouter(
    prefix="/api/v1", tags=["forecasts and work lists"], dependencies=[Depends(viewer)]
)

METHOD = (
    f"median fill increments of about an hour over the last {HISTORY_DAYS} days, by local "
    f"weekday and {BANDS} bands of the day (at least {MIN_SAMPLES} each, else the weekday's, "
    "else all), none across a collection"
)


class ForecastPublic(BaseModel):
    device_id: str
    village_id: str
    place_id: str
    fill_pct: float | None = Field(description="the latest reading's fill")
    read_at: int | None = Field(description="when it was read, Unix seconds")
    rate_pct_per_day: float | None = Field(description="the model's average rise a day")
    full_at: int | None = Field(
        description="when the fill reaches the full threshold, Unix seconds; the reading's "
        "time when it has; null: not within 14 days, or no model yet"
    )
    text: str = Field(description="what the village page says, e.g. 'dự kiến đầy: thứ Năm'")
    samples: int = Field(description="increments the model was fitted on (0: no model yet)")


class ForecastsPublic(BaseModel):
    method: str
    forecasts: list[ForecastPublic]


def _public(f: BinForecast, now: float) -> ForecastPublic:
    return ForecastPublic(
        device_id=f.device_id, village_id=f.village_id, place_id=f.place_id,
        fill_pct=f.fill_pct, read_at=f.read_at, rate_pct_per_day=f.rate_pct_per_day,
        full_at=f.full_at, text=full_text(f, now), samples=f.samples,
    )  # fmt: skip


@router.get("/forecasts")
def list_forecasts(
    services: ServicesDep, village: Annotated[str | None, Query(max_length=32)] = None
) -> ForecastsPublic:
    """Each bin's fill forecast (of one village with ``village``), from its own readings."""
    now = services.clock()
    if village is not None and village not in {v.id for v in services.commune.villages}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no village {village!r}")
    found = services.forecasts.forecasts(services.forecasts.bins(village))
    return ForecastsPublic(method=METHOD, forecasts=[_public(f, now) for f in found])


class StopPublic(BaseModel):
    seq: int = Field(description="1, 2, ... along the route")
    place_id: str
    code: str = Field(description="the point's code: the crew answers XONG <code>")
    name: str
    village_name: str
    lat: float
    lon: float
    reason: str = Field(description="overdue, full, forecast or tet (a round before Tết)")
    fill_pct: float | None
    full_at: int | None
    done_at: float | None = Field(description="when the crew's XONG came; null: not yet")
    done_by: str | None = Field(description="the crew member's name (never the phone)")
    collected_at: int | None = Field(
        description="when a bin of the point was emptied after the list was made, by its "
        "readings: the collection that happened, beside the visit planned"
    )


class WorkListPublic(BaseModel):
    team_id: str
    team_name: str
    day: date
    kept: bool = Field(
        description="true: the day's list, made and sent at the set time; false: what it "
        "would be now (before the set time)"
    )
    made_at: float
    sent_at: float | None
    depot: tuple[float, float]
    points_total: int = Field(description="the crew's gathering points")
    points_known: int = Field(description="of which a bin had a recent reading")
    coverage_pct: float | None
    route_m: int = Field(description="the route's length: depot, the stops, back to the depot")
    reference_m: int = Field(description="the routing library's first tour over the same stops")
    done: int
    collected: int = Field(description="stops whose point was emptied by the readings")
    page: str
    stops: list[StopPublic]


def worklist_public(
    worklist: WorkList,
    kept: bool,
    name_of: Callable[[str | None], str | None],
    collected: dict[str, int] | None = None,
) -> WorkListPublic:
    collected = collected or {}
    return WorkListPublic(
        team_id=worklist.team_id, team_name=worklist.team_name, day=worklist.day, kept=kept,
        made_at=worklist.made_at, sent_at=worklist.sent_at, depot=worklist.depot,
        points_total=worklist.points_total, points_known=worklist.points_known,
        coverage_pct=worklist.coverage_pct, route_m=worklist.route_m,
        reference_m=worklist.reference_m, done=worklist.done,
        collected=sum(1 for s in worklist.stops if s.place_id in collected),
        page=page_path(worklist.team_id, worklist.day),
        stops=[
            StopPublic(**{**{k: getattr(s, k, None) for k in StopPublic.model_fields},
                          "done_by": name_of(s.done_by), "collected_at": collected.get(s.place_id)})
            for s in worklist.stops
        ],
    )  # fmt: skip


@router.get("/worklists")
def list_worklists(services: ServicesDep) -> list[WorkListPublic]:
    """Today's work list of each collection crew: the kept one once made, else a preview."""
    now = services.clock()
    found = []
    for team in services.worklists.teams():
        kept = services.worklists.get(team.id, services.worklists.today(now))
        worklist = kept or services.worklists.make(team, now)
        collected = services.worklists.collected(kept) if kept else {}
        found.append(
            worklist_public(worklist, kept is not None, services.worklists.member_name, collected)
        )
    return found


@router.get("/worklists/{team_id}/{day}")
def get_worklist(
    team_id: Annotated[str, Path(max_length=32)], day: date, services: ServicesDep
) -> WorkListPublic:
    """A crew's list of a day: kept, or today's preview; 404 for another day without one."""
    team = services.worklists.team(team_id)
    if team is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no collection crew {team_id!r}")
    kept = services.worklists.get(team_id, day)
    if kept is not None:
        collected = services.worklists.collected(kept)
        return worklist_public(kept, True, services.worklists.member_name, collected)
    now = services.clock()
    if day != services.worklists.today(now):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no work list of {team_id} on {day}")
    return worklist_public(
        services.worklists.make(team, now), False, services.worklists.member_name
    )
