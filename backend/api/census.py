"""The household census per village: read, entered by the office, or imported from CSV."""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from sangsach.registry_file import Census

from ..registry.census import CensusError, effective, parse_csv, record
from ..scores.days import local_day
from .deps import ServicesDep, operator, viewer
from .schemas import VillageId

router = APIRouter(prefix="/api/v1", tags=["census"], dependencies=[Depends(viewer)])

# The days an entry may take effect from: a census of this century. Year 1 was taken, and its
# local midnight is a moment before year 1 in UTC, which no date can show.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


class CensusIn(Census):
    entered_by: str = Field(min_length=1, max_length=64, description="who enters the figures")
    effective_from: date | None = Field(
        default=None,
        ge=FIRST_DAY,
        le=LAST_DAY,
        description="the day the figures take effect (default: today)",
    )


class CensusPublic(BaseModel):
    village_id: str
    households: int
    main_road_households: int
    main_road_standard_bins: int
    source: str = Field(description="registry (the file), api or csv")
    entered_at: float | None
    entered_by: str | None
    effective_from: date | None = Field(description="the day the figures take effect")


@router.get("/census")
def list_census(services: ServicesDep) -> list[CensusPublic]:
    """Each village's census in force today: the entry with the latest effective day up to
    today, else the registry file's."""
    return [
        CensusPublic(
            village_id=view.village_id, **view.census.model_dump(), source=view.source,
            entered_at=view.entered_at, entered_by=view.entered_by,
            effective_from=None if view.effective_from is None else local_day(view.effective_from),
        )
        for view in effective(services.engine, services.commune, time.time()).values()
    ]  # fmt: skip


@router.put("/villages/{village_id}/census", dependencies=[Depends(operator)])
def enter_census(village_id: VillageId, body: CensusIn, services: ServicesDep) -> CensusPublic:
    if village_id not in {v.id for v in services.commune.villages}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no village {village_id!r}")
    census = Census.model_validate(body.model_dump(exclude={"entered_by", "effective_from"}))
    now = time.time()
    record(services.engine, {village_id: census}, by=body.entered_by, source="api", now=now,
           effective_from=body.effective_from)  # fmt: skip
    return CensusPublic(
        village_id=village_id, **census.model_dump(), source="api", entered_at=now,
        entered_by=body.entered_by, effective_from=body.effective_from or local_day(now),
    )  # fmt: skip


@router.post(
    "/census/import",
    dependencies=[Depends(operator)],
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {}}}},
)
async def import_census(
    request: Request,
    services: ServicesDep,
    entered_by: Annotated[str, Query(min_length=1, max_length=64)],
    effective_from: Annotated[
        date | None,
        Query(
            ge=FIRST_DAY,
            le=LAST_DAY,
            description="the day the figures take effect (default: today)",
        ),
    ] = None,
) -> dict[str, int]:
    """A CSV file with the columns village_id, households, main_road_households and
    main_road_standard_bins; every line is kept, or none."""
    try:
        text = (await request.body()).decode("utf-8")
        entries = parse_csv(text, {v.id for v in services.commune.villages})
    except (UnicodeDecodeError, CensusError) as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(err)) from err
    record(services.engine, entries, by=entered_by, source="csv", now=time.time(),
           effective_from=effective_from)  # fmt: skip
    return {"imported": len(entries)}
