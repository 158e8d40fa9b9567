"""What every page shares: the templates and their filters, the page frame, the period picker,
and the queries more than one page makes."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from sangsach import formats
from sangsach.sun import VIETNAM

from .. import db
from ..alerts import tables
from ..alerts.tables import from_row
from ..reports.period import Period, PeriodError, parse_period
from . import devicemap, session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates", context_processors=[session.context])


# Numbers and dates as Vietnamese writes them (sangsach/formats.py): ``x|vn`` 1.234,5,
# ``x|vn(2)``, ``x|vn(0)`` 3.948.131; ``d|vn_day`` 30/06/2026; ``ts|vn_time`` 13:05 30/06/2026.
templates.env.filters["vn"] = formats.number
templates.env.filters["vn_day"] = formats.day
templates.env.filters["vn_time"] = formats.moment


_DAY_MONTH_YEAR = re.compile(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*")


def form_day(text: str) -> str | None:
    """A day typed in a form as the API's models read it: ``14/6/2026`` as ``2026-06-14``, empty
    as None, anything else as typed (the model refuses it, naming the field)."""
    day = _DAY_MONTH_YEAR.fullmatch(text)
    if day:
        return f"{day[3]}-{int(day[2]):02d}-{int(day[1]):02d}"
    return text.strip() or None


def pages_router() -> APIRouter:
    """A router of pages: every page needs a signed-in reader (or SANGSACH_WEB_OPEN_READ);
    forms add ``session.operator``."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(session.reader)])


def local_time(ts: float | None) -> str:
    return formats.moment(ts)


def page(request: Request, name: str, title: str, services: Any, **context: Any) -> HTMLResponse:
    several = services.province is not None and services.province.several
    context = {
        "title": title,
        "commune": services.commune.commune.name,
        "province": services.province.name if several else None,
        **context,
    }
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


def period_of(text: str, *loc: str) -> Period:
    """The period ``text`` names, or a 422 naming the parameter ``loc`` as FastAPI's validation
    does (``backend/api/errors.py`` answers it), with the reason the parser gives."""
    try:
        return parse_period(text)
    except PeriodError as err:
        error = {"type": "value_error", "loc": loc, "msg": str(err), "input": text}
        raise RequestValidationError([error]) from err


def chosen_period(ky: str = "") -> Period:
    """The picker's period ``?ky=`` (default: this month)."""
    return period_of(ky or this_month(), "query", "ky")


PeriodDep = Annotated[Period, Depends(chosen_period)]


def map_dots(services: Any, village_id: str | None = None) -> list[devicemap.Dot]:
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
    located = located.where(
        d.c.village_id == village_id
        if village_id is not None
        else d.c.village_id.in_(services.village_ids)  # the commune in view's (a province)
    )
    with services.engine.connect() as conn:
        devices = [dict(r._mapping) for r in conn.execute(located)]
    return devicemap.dots(devices, services.scores.rules.thresholds)


def active_alerts(services: Any) -> list[Any]:
    """The open alerts of the commune in view."""
    a = tables.alerts
    with services.engine.connect() as conn:
        return [from_row(r._mapping) for r in conn.execute(
            select(a).where(a.c.state != "cleared", a.c.village_id.in_(services.village_ids)))]  # fmt: skip
