"""Open alerts, and acknowledging one from the office ("Nhận xử lý")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from ..alerts import tables
from ..alerts.tables import from_row
from ..api.deps import ServicesDep
from ..api.schemas import AlertId
from ..notify.templates import PROBLEMS
from . import session
from .render import local_time, page, pages_router

router = pages_router()


@router.get("/canh-bao", response_class=HTMLResponse)
def alerts(request: Request, services: ServicesDep) -> HTMLResponse:
    with services.engine.connect() as conn:
        active = [from_row(r._mapping) for r in conn.execute(
            select(tables.alerts).where(tables.alerts.c.state != "cleared")
            .order_by(tables.alerts.c.opened_at.desc()))]  # fmt: skip
    shown = [{**_alert_dict(a), "opened": local_time(a.opened_at)} for a in active]
    return page(
        request, "alerts.html", "Cảnh báo đang mở", services, alerts=shown, kinds=PROBLEMS,
        villages={v.id: v.name for v in services.commune.villages},
    )  # fmt: skip


def _alert_dict(alert: Any) -> dict[str, Any]:
    return {
        "id": alert.id, "type": alert.type.value, "device_id": alert.device_id,
        "village_id": alert.village_id, "state": alert.state.value, "acked_by": alert.acked_by,
    }  # fmt: skip


@router.post("/canh-bao/{alert_id}/nhan", dependencies=[Depends(session.operator)])
def acknowledge(
    alert_id: AlertId, by: Annotated[str, Form(min_length=1, max_length=64)], services: ServicesDep
) -> RedirectResponse:
    services.alerts.acknowledge(alert_id, by)  # an unknown id: 404 (backend/api/errors.py)
    return RedirectResponse("/canh-bao", status_code=status.HTTP_303_SEE_OTHER)
