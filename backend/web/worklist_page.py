"""The collection crews' work lists as pages: today's list of every crew, and one crew's list
of a day, printable (the office hands it to a crew without a smartphone)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse

from sangsach import formats

from ..api.deps import ServicesDep
from ..worklists.plan import WorkList
from ..worklists.service import page_path
from .render import local_time, page, pages_router

router = pages_router()


def _view(
    worklist: WorkList,
    kept: bool,
    name_of: Callable[[str | None], str | None],
    collected: dict[str, int],
) -> dict[str, Any]:
    coverage = worklist.coverage_pct
    return {
        "list": worklist,
        "kept": kept,
        "href": page_path(worklist.team_id, worklist.day),
        "day": formats.day(worklist.day),
        "route_km": formats.number(worklist.route_m / 1000),
        "reference_km": formats.number(worklist.reference_m / 1000),
        "coverage": "—" if coverage is None else formats.number(coverage, 0) + " %",
        "collected": sum(1 for s in worklist.stops if s.place_id in collected),
        "sent": local_time(worklist.sent_at) or "",
        "stops": [
            {
                "stop": s,
                "fill": "—" if s.fill_pct is None else formats.number(s.fill_pct, 0) + " %",
                "done": " – ".join(x for x in (local_time(s.done_at), name_of(s.done_by)) if x),
                "collected": local_time(collected.get(s.place_id)) or "",
            }
            for s in worklist.stops
        ],
    }


@router.get("/thu-gom", response_class=HTMLResponse)
def worklists_today(request: Request, services: ServicesDep) -> HTMLResponse:
    now = services.clock()
    views = []
    for team in services.worklists.teams():
        kept = services.worklists.get(team.id, services.worklists.today(now))
        worklist = kept or services.worklists.make(team, now)
        collected = services.worklists.collected(kept) if kept else {}
        views.append(_view(worklist, kept is not None, services.worklists.member_name, collected))
    day = formats.day(services.worklists.today(now))
    return page(request, "worklists.html", f"Danh sách thu gom ngày {day}", services, views=views)


@router.get("/thu-gom/{team_id}/{day}", response_class=HTMLResponse)
def worklist(request: Request, team_id: str, day: date, services: ServicesDep) -> HTMLResponse:
    team = services.worklists.team(team_id)
    if team is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"không có tổ thu gom {team_id!r}")
    kept = services.worklists.get(team_id, day)
    now = services.clock()
    if kept is None and day != services.worklists.today(now):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"tổ {team.name} không có danh sách ngày {formats.day(day)}",
        )
    worklist = kept or services.worklists.make(team, now)
    collected = services.worklists.collected(kept) if kept else {}
    view = _view(worklist, kept is not None, services.worklists.member_name, collected)
    title = f"{team.name}: thu gom ngày {view['day']}"
    return page(request, "worklist.html", title, services, view=view)
