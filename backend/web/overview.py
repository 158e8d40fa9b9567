"""The overview: every village's scores for the picked period, open alerts, the device map."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from ..api.deps import ServicesDep
from ..reports.build import rows, status_line
from . import devicemap
from .render import PeriodDep, active_alerts, map_dots, page, pages_router, period_choices

router = pages_router()


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, services: ServicesDep, chosen: PeriodDep) -> HTMLResponse:
    """Scores of the period ``ky`` (default: this month to date), with the picker."""
    result = services.scores.period(chosen.start, chosen.end)
    active = active_alerts(services)
    table = rows(result, {})
    for row in table:
        row["active_alerts"] = sum(1 for a in active if a.village_id == row["village_id"])
    return page(
        request, "overview.html", "Tổng quan Sáng – Sạch", services, rows=table,
        result=result, status_text=status_line(result), period=chosen, chosen=chosen.name,
        choices=period_choices(), dots=map_dots(services), legend=devicemap.STATES,
        map_size=(devicemap.WIDTH, devicemap.HEIGHT),
    )  # fmt: skip
