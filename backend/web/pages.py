"""Server-rendered pages: overview, village, alerts (with acknowledge) and reports."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from sangsach.sun import VIETNAM

from .. import db
from ..alerts import tables
from ..alerts.tables import from_row
from ..api.deps import ServicesDep
from ..api.schemas import AlertId
from ..domain.rules import device_state
from ..notify.templates import PROBLEMS
from ..reports.build import (
    COLUMNS,
    Report,
    build_report,
    render_csv,
    render_html,
    rows,
    status_line,
)
from ..reports.period import Period, PeriodError, parse_period
from . import devicemap, session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates", context_processors=[session.context])


def vn_number(value: float | int | None, decimals: int = 1) -> str:
    """A number as Vietnamese writes it: 1.234,5 (dot for thousands, comma for decimals)."""
    if value is None:
        return ""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


templates.env.filters["vn"] = vn_number
# Every page needs a signed-in reader (or SANGSACH_WEB_OPEN_READ); forms need an operator.
router = APIRouter(include_in_schema=False, dependencies=[Depends(session.reader)])


def _local(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, VIETNAM).strftime("%H:%M %d/%m/%Y")


def _page(request: Request, name: str, title: str, services: Any, **context: Any) -> HTMLResponse:
    context = {"title": title, "commune": services.commune.commune.name, **context}
    return templates.TemplateResponse(request, name, context)


def this_month() -> str:
    now = datetime.now(VIETNAM)
    return f"{now.year}-{now.month:02d}"


def period_choices() -> list[tuple[str, str]]:
    """The picker's ready-made periods: this month, last month, each half-year and the year."""
    now = datetime.now(VIETNAM)
    last = (now.year - (now.month == 1), 12 if now.month == 1 else now.month - 1)
    return [
        (this_month(), "Tháng này"),
        (f"{last[0]}-{last[1]:02d}", "Tháng trước"),
        (f"{now.year}-H1", f"6 tháng đầu năm {now.year}"),
        (f"{now.year}-H2", f"6 tháng cuối năm {now.year}"),
        (f"{now.year}", f"Cả năm {now.year}"),
        (f"{now.year - 1}", f"Cả năm {now.year - 1}"),
    ]


def _period(text: str, *loc: str) -> Period:
    """The period ``text`` names, or a 422 naming the parameter ``loc`` as FastAPI's validation
    does (``backend/api/errors.py`` answers it), with the reason the parser gives."""
    try:
        return parse_period(text)
    except PeriodError as err:
        error = {"type": "value_error", "loc": loc, "msg": str(err), "input": text}
        raise RequestValidationError([error]) from err


def chosen_period(ky: str = "") -> Period:
    """The picker's period ``?ky=`` (default: this month)."""
    return _period(ky or this_month(), "query", "ky")


PeriodDep = Annotated[Period, Depends(chosen_period)]


def _map_dots(services: Any, village_id: str | None = None) -> list[devicemap.Dot]:
    d, s = db.devices, db.device_state
    located = select(
        d.c.id,
        d.c.kind,
        d.c.village_id,
        d.c.lat,
        d.c.lon,
        s.c.online,
        s.c["values"].label("latest"),
    ).outerjoin(s, s.c.device_id == d.c.id)
    if village_id is not None:
        located = located.where(d.c.village_id == village_id)
    with services.engine.connect() as conn:
        devices = [dict(r._mapping) for r in conn.execute(located)]
    return devicemap.dots(devices, services.scores.rules.thresholds)


def _active_alerts(services: Any) -> list[Any]:
    with services.engine.connect() as conn:
        return [from_row(r._mapping) for r in conn.execute(
            select(tables.alerts).where(tables.alerts.c.state != "cleared"))]  # fmt: skip


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, services: ServicesDep, chosen: PeriodDep) -> HTMLResponse:
    """Scores of the period ``ky`` (default: this month to date), with the picker."""
    result = services.scores.period(chosen.start, chosen.end)
    active = _active_alerts(services)
    table = rows(result, {})
    for row in table:
        row["active_alerts"] = sum(1 for a in active if a.village_id == row["village_id"])
    return _page(
        request, "overview.html", "Tổng quan Sáng – Sạch", services, rows=table,
        result=result, status_text=status_line(result), period=chosen, chosen=chosen.name,
        choices=period_choices(), dots=_map_dots(services), legend=devicemap.STATES,
        map_size=(devicemap.WIDTH, devicemap.HEIGHT),
    )  # fmt: skip


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
            {**row._mapping, "when": _local(row.ts),
             "state": device_state(row.kind, row.online, row.latest, th)}
            for row in conn.execute(query)
        ]  # fmt: skip
    alerts = [a for a in _active_alerts(services) if a.village_id == village_id]
    return _page(
        request, "village.html", found.name, services, village=found, row=mine,
        result=result, status_text=status_line(result), period=chosen, chosen=chosen.name,
        choices=period_choices(), alerts=alerts, kinds=PROBLEMS, legend=devicemap.STATES,
        lamps=[x for x in devices if x["kind"] == "lamp"],
        bins=[x for x in devices if x["kind"] == "bin"],
    )  # fmt: skip


@router.get("/canh-bao", response_class=HTMLResponse)
def alerts(request: Request, services: ServicesDep) -> HTMLResponse:
    with services.engine.connect() as conn:
        active = [from_row(r._mapping) for r in conn.execute(
            select(tables.alerts).where(tables.alerts.c.state != "cleared")
            .order_by(tables.alerts.c.opened_at.desc()))]  # fmt: skip
    shown = [{**_alert_dict(a), "opened": _local(a.opened_at)} for a in active]
    return _page(
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


@router.get("/bao-cao", response_class=HTMLResponse)
def reports(request: Request, services: ServicesDep, ky: str = "") -> HTMLResponse:
    chosen = ky or f"{datetime.now(VIETNAM).year}-H{1 if datetime.now(VIETNAM).month <= 6 else 2}"
    try:
        report = _report(services, chosen)
    except PeriodError as err:
        return _page(request, "reports.html", "Báo cáo", services, period=ky, rows=[],
                     columns=COLUMNS, error=str(err), status_text="", formula="",
                     choices=period_choices())  # fmt: skip
    title = f"Báo cáo {report.period.title}"
    return _page(
        request, "reports.html", title, services, period=report.period.name,
        rows=rows(report.scores, report.alerts), status_text=status_line(report.scores),
        formula=report.scores.formula_text, columns=COLUMNS, error="", choices=period_choices(),
    )  # fmt: skip


@router.get("/bao-cao/{period}.csv")
def report_csv(period: str, services: ServicesDep) -> Response:
    report = _report_or_422(services, period)
    name = f"bao-cao-{report.period.name}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return PlainTextResponse(
        render_csv(report), media_type="text/csv; charset=utf-8", headers=headers
    )


@router.get("/bao-cao/{period}.html", response_class=HTMLResponse)
def report_print(period: str, services: ServicesDep) -> HTMLResponse:
    return HTMLResponse(render_html(_report_or_422(services, period)))


def _report(services: Any, period: str) -> Report:
    return build_report(services.engine, services.scores, services.commune, parse_period(period))


def _report_or_422(services: Any, period: str) -> Report:
    chosen = _period(period, "path", "period")
    return build_report(services.engine, services.scores, services.commune, chosen)
