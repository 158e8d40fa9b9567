"""The 6-month and yearly reports: the page, its CSV, its printable document and its PDF."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from sangsach.sun import VIETNAM

from ..api.deps import ServicesDep
from ..reports.build import (
    CAMPAIGNS_TITLE,
    COLUMNS,
    NO_CAMPAIGNS,
    NO_ROUNDS,
    ROUND_COLUMNS,
    ROUNDS_TITLE,
    Report,
    build_report,
    campaign_rows,
    period_dates,
    render_csv,
    rows,
    shown,
    status_line,
    total_row,
)
from ..reports.document import STYLESHEET_URL, render_html, render_pdf
from ..reports.period import PeriodError, parse_period
from .render import page, pages_router, period_choices, period_of

router = pages_router()


@router.get("/bao-cao", response_class=HTMLResponse)
def reports(request: Request, services: ServicesDep, ky: str = "") -> HTMLResponse:
    chosen = ky or f"{datetime.now(VIETNAM).year}-H{1 if datetime.now(VIETNAM).month <= 6 else 2}"
    common = {"columns": COLUMNS, "shown": shown, "choices": period_choices(),
              "campaigns_title": CAMPAIGNS_TITLE, "no_campaigns": NO_CAMPAIGNS,
              "round_columns": ROUND_COLUMNS, "rounds_title": ROUNDS_TITLE,
              "no_rounds": NO_ROUNDS}  # fmt: skip
    try:
        report = _report(services, chosen)
    except PeriodError as err:
        return page(request, "reports.html", "Báo cáo", services, period=ky, rows=[],
                     error=str(err), status_text="", formula="", **common)  # fmt: skip
    title = f"Báo cáo {report.period.title}"
    return page(
        request, "reports.html", title, services, period=report.period.name,
        dates=period_dates(report.period),
        rows=rows(report.scores, report.alerts, report.campaign_counts, report.citizen_counts),
        campaigns=campaign_rows(report),
        total=total_row(report), status_text=status_line(report.scores),
        formula=report.scores.formula_text, error="", **common,
    )  # fmt: skip


@router.get("/bao-cao/{period}.csv")
def report_csv(period: str, services: ServicesDep) -> Response:
    report = _report_or_422(services, period)
    return PlainTextResponse(
        render_csv(report), media_type="text/csv; charset=utf-8", headers=_attachment(report, "csv")
    )


@router.get("/bao-cao/{period}.html", response_class=HTMLResponse)
def report_print(period: str, services: ServicesDep) -> HTMLResponse:
    report = _report_or_422(services, period)
    return HTMLResponse(render_html(report, stylesheet_url=STYLESHEET_URL))


@router.get("/bao-cao/{period}.pdf")
async def report_pdf(period: str, services: ServicesDep) -> Response:
    # Laying out a PDF takes a second or two: off the event loop, as the report's queries are.
    report = await run_in_threadpool(_report_or_422, services, period)
    pdf = await run_in_threadpool(render_pdf, report)
    return Response(pdf, media_type="application/pdf", headers=_attachment(report, "pdf"))


def _attachment(report: Report, suffix: str) -> dict[str, str]:
    name = f"bao-cao-{report.period.name}.{suffix}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _report(services: Any, period: str) -> Report:
    return build_report(services.engine, services.scores, services.commune, parse_period(period))


def _report_or_422(services: Any, period: str) -> Report:
    chosen = period_of(period, "path", "period")
    return build_report(services.engine, services.scores, services.commune, chosen)
