"""The overview: every village's scores for the picked period, open alerts, the device map."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from ..api.deps import ServicesDep
from ..reports.build import rows, status_line
from . import devicemap
from .render import PeriodDep, active_alerts, map_dots, page, pages_router, period_choices

router = pages_router()

# The office's wall screen: ``/?tu-dong=60`` reloads the page every 60 s (a meta refresh: the
# pages' policy allows no inline script), within these bounds.
Refresh = Annotated[int | None, Query(alias="tu-dong", ge=10, le=3600)]


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request, services: ServicesDep, chosen: PeriodDep, refresh_s: Refresh = None
) -> HTMLResponse:
    """Scores of the period ``ky`` (default: this month to date), with the picker; reloaded
    every ``tu-dong`` seconds when asked."""
    result = services.scores.period(chosen.start, chosen.end)
    active = active_alerts(services)
    table = rows(result, {})
    for row in table:
        row["active_alerts"] = sum(1 for a in active if a.village_id == row["village_id"])
    dots = map_dots(services)
    names = {village.id: village.name for village in services.commune.villages}
    return page(
        request, "overview.html", "Tổng quan Sáng – Sạch", services, rows=table,
        result=result, status_text=status_line(result), period=chosen, chosen=chosen.name,
        choices=period_choices(), dots=dots, labels=devicemap.labels(dots, names),
        legend=devicemap.STATES,
        map_size=(devicemap.WIDTH, devicemap.HEIGHT), refresh_s=refresh_s,
    )  # fmt: skip
