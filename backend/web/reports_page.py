"""The 6-month and yearly reports: the page, its CSV and its printable document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from sangsach.sun import VIETNAM

from ..api.deps import ServicesDep
from ..reports.build import (
    COLUMNS,
    Report,
    build_report,
    render_csv,
    render_html,
    rows,
    status_line,
)
from ..reports.period import PeriodError, parse_period
from .render import page, pages_router, period_choices, period_of

router = pages_router()


@router.get("/bao-cao", response_class=HTMLResponse)
def reports(request: Request, services: ServicesDep, ky: str = "") -> HTMLResponse:
    chosen = ky or f"{datetime.now(VIETNAM).year}-H{1 if datetime.now(VIETNAM).month <= 6 else 2}"
    try:
        report = _report(services, chosen)
    except PeriodError as err:
        return page(request, "reports.html", "Báo cáo", services, period=ky, rows=[],
                     columns=COLUMNS, error=str(err), status_text="", formula="",
                     choices=period_choices())  # fmt: skip
    title = f"Báo cáo {report.period.title}"
    return page(
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
    chosen = period_of(period, "path", "period")
    return build_report(services.engine, services.scores, services.commune, chosen)
