"""One village: its scores, rank and open alerts, and the state of each of its devices."""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from .. import db
from ..api.deps import ServicesDep
from ..domain.rules import device_state
from ..notify.templates import PROBLEMS
from ..reports.build import rows, status_line
from . import devicemap
from .render import PeriodDep, active_alerts, local_time, page, pages_router, period_choices

router = pages_router()


@router.get("/thon/{village_id}", response_class=HTMLResponse)
def village(
    request: Request, village_id: str, services: ServicesDep, chosen: PeriodDep
) -> HTMLResponse:
    found = next((v for v in services.commune.villages if v.id == village_id), None)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"không có thôn {village_id!r}")
    result = services.scores.period(chosen.start, chosen.end)
    mine = next(row for row in rows(result, {}) if row["village_id"] == village_id)
    th = services.scores.rules.thresholds[village_id]
    d, s, p = db.devices, db.device_state, db.places
    query = (
        select(
            d.c.id,
            d.c.kind,
            p.c.name.label("place_name"),
            s.c.online,
            s.c["values"].label("latest"),
            s.c.ts,
        )
        .join(p, p.c.id == d.c.place_id)
        .outerjoin(s, s.c.device_id == d.c.id)
        .where(d.c.village_id == village_id)
        .order_by(d.c.id)
    )
    with services.engine.connect() as conn:
        devices = [
            {**row._mapping, "when": local_time(row.ts),
             "state": device_state(row.kind, row.online, row.latest, th)}
            for row in conn.execute(query)
        ]  # fmt: skip
    alerts = [a for a in active_alerts(services) if a.village_id == village_id]
    return page(
        request, "village.html", found.name, services, village=found, row=mine,
        result=result, status_text=status_line(result), period=chosen, chosen=chosen.name,
        choices=period_choices(), alerts=alerts, kinds=PROBLEMS, legend=devicemap.STATES,
        lamps=[x for x in devices if x["kind"] == "lamp"],
        bins=[x for x in devices if x["kind"] == "bin"],
    )  # fmt: skip
