"""One village: its scores, rank, coverage and open alerts, the state of each of its devices,
and its household census with the form the office enters a new one with."""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..api.census import FIRST_DAY, LAST_DAY, CensusIn, enter_census
from ..api.deps import ServicesDep
from ..bin_forecasts import full_text
from ..campaigns import in_period
from ..citizens.parse import KINDS
from ..notify.templates import PROBLEMS
from ..registry.census import CensusView, effective, history
from ..reports.build import rows, status_line
from ..reports.period import Period
from ..scores.days import local_day
from . import session
from .campaigns_page import shown_rows
from .devices import alert_href, device_rows
from .render import (
    PeriodDep,
    active_alerts,
    chosen_period,
    form_day,
    local_time,
    page,
    pages_router,
    period_choices,
)

router = pages_router()

# The census form's fields, named as the API names them, labelled as the office says them.
CENSUS_FIELDS: dict[str, str] = {
    "households": "Tổng số hộ",
    "main_road_households": "Số hộ ven trục đường chính",
    "main_road_standard_bins": "Số hộ ven trục đường chính có thùng rác đạt chuẩn",
    "effective_from": "Áp dụng từ ngày",
    "entered_by": "Người nhập",
}
SOURCES = {"registry": "Tệp đăng ký ban đầu", "api": "Nhập trên trang hoặc API", "csv": "Tệp CSV"}


def _village(services: Any, village_id: str) -> Any:
    found = next((v for v in services.commune.villages if v.id == village_id), None)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"không có thôn {village_id!r}")
    return found


@router.get("/thon/{village_id}", response_class=HTMLResponse)
def village(
    request: Request, village_id: str, services: ServicesDep, chosen: PeriodDep, da_luu: str = ""
) -> HTMLResponse:
    return _page(request, services, _village(services, village_id), chosen, saved=da_luu)


@router.post(
    "/thon/{village_id}/dieu-tra",
    response_class=HTMLResponse,
    response_model=None,
    dependencies=[Depends(session.operator)],
)
def enter_census_form(
    request: Request,
    village_id: str,
    services: ServicesDep,
    households: Annotated[str, Form()] = "",
    main_road_households: Annotated[str, Form()] = "",
    main_road_standard_bins: Annotated[str, Form()] = "",
    effective_from: Annotated[str, Form()] = "",
    entered_by: Annotated[str, Form()] = "",
) -> HTMLResponse | RedirectResponse:
    """The census form: checked by the API's own model and kept by the API's own function;
    refused figures come back in the form with a message naming each field."""
    found = _village(services, village_id)
    given = {
        "households": households, "main_road_households": main_road_households,
        "main_road_standard_bins": main_road_standard_bins,
        "effective_from": effective_from, "entered_by": entered_by,
    }  # fmt: skip
    try:
        body = CensusIn.model_validate(_as_api_body(given))
    except ValidationError as err:
        errors = [_message(e, given) for e in err.errors()]
        return _page(request, services, found, chosen_period(""), form=given, errors=errors,
                     status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)  # fmt: skip
    kept = enter_census(village_id, body, services)
    target = f"/thon/{village_id}?da_luu={kept.effective_from}#dieu-tra"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


def _as_api_body(given: dict[str, str]) -> dict[str, Any]:
    """The form's text as the API's JSON body: numbers as typed (the model reads them), an
    empty day as none (today), a day written dd/mm/yyyy as the API writes it."""
    body: dict[str, Any] = {name: value.strip() for name, value in given.items()}
    body["effective_from"] = form_day(given["effective_from"])
    return body


def _message(error: ErrorDetails, given: dict[str, str]) -> tuple[str, str]:
    """``(field, Vietnamese sentence naming it)`` for one of the model's errors."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "census_exceeds":
        field, limit = ctx["field"], ctx["limit"]
        return field, (
            f"{CENSUS_FIELDS[field]} ({given[field].strip()}) không được lớn hơn "
            f"{CENSUS_FIELDS[limit].lower()} ({given[limit].strip()})."
        )
    field = str(error["loc"][0]) if error["loc"] else "households"
    label, typed = CENSUS_FIELDS.get(field, field), given.get(field, "").strip()
    if not typed or kind == "missing":
        return field, f"{label}: chưa nhập."
    if kind == "string_too_long":
        return field, f"{label}: dài quá {ctx.get('max_length')} ký tự."
    if field == "effective_from":
        if kind == "greater_than_equal":
            return field, f"{label}: không được trước ngày {_day(FIRST_DAY)}."
        if kind == "less_than_equal":
            return field, f"{label}: không được sau ngày {_day(LAST_DAY)}."
        return (
            field,
            f"{label}: “{typed}” không phải là một ngày (ngày/tháng/năm, ví dụ 01/06/2026).",
        )
    if kind == "greater_than_equal":
        return field, f"{label}: không được là số âm."
    if kind == "less_than_equal":
        return field, f"{label}: không được lớn hơn {ctx.get('le'):,}.".replace(",", ".")
    return field, f"{label}: cần một số nguyên (ví dụ 450), đã nhập “{typed}”."


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _census_history(services: Any, found: Any) -> dict[str, Any]:
    """The census in force today, every entry (the latest in force first) and the registry
    file's figures they started from."""
    now = time.time()
    in_force = effective(services.engine, services.commune, now)[found.id]
    today = local_day(now)
    entries = []
    file_figures = CensusView(found.id, found.census, "registry", None, None)
    for view in [*history(services.engine, found.id), file_figures]:
        starts = None if view.effective_from is None else local_day(view.effective_from)
        entries.append({
            **view.census.model_dump(), "entry_id": view.entry_id,
            "source": SOURCES.get(view.source, view.source),
            "from": _day(starts) if starts else "Từ đầu",
            "future": starts is not None and starts > today,
            "in_force": view.entry_id == in_force.entry_id,
            "entered_by": view.entered_by or "Không ghi",
            "entered_at": _time(view.entered_at),
        })  # fmt: skip
    return {"census": in_force.census, "census_history": entries}


def _time(ts: float | None) -> str:
    return local_time(ts) or "—"


def _saved(text: str, entries: list[dict[str, Any]]) -> str:
    """The confirmation after the form, for an entry that exists (a link cannot invent one)."""
    try:
        day = _day(date.fromisoformat(text))
    except ValueError:
        return ""
    if any(e["from"] == day and e["entry_id"] is not None for e in entries):
        return f"Đã lưu số liệu điều tra ngày {day}."
    return ""


def _citizen_reports(services: Any, village_id: str, chosen: Period) -> dict[str, Any]:
    """The village's citizens' reports: how many in the period, and those still open (what
    and where, not who: the page is for viewers too)."""
    citizens = services.citizens
    open_tickets = citizens.list("open", village_id, 20)
    return {
        "count": citizens.counts(chosen.start, chosen.end).get(village_id, 0),
        "open_count": citizens.open_count(village_id),
        "open": [
            {"id": t.id, "at": local_time(t.created_at), "kind": KINDS[t.kind],
             "what": citizens.describe(t), "text": t.text}
            for t in open_tickets
        ],
    }  # fmt: skip


def _page(
    request: Request,
    services: Any,
    found: Any,
    chosen: Period,
    *,
    saved: str = "",
    form: dict[str, str] | None = None,
    errors: list[tuple[str, str]] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    result = services.scores.period(chosen.start, chosen.end)
    mine = next(row for row in rows(result, {}) if row["village_id"] == found.id)
    devices = device_rows(services, found.id)
    alerts = [
        {"id": a.id, "label": PROBLEMS.get(a.type.value, a.type.value), "href": alert_href(a.id),
         "device_id": a.device_id, "acked_by": a.acked_by}
        for a in sorted(active_alerts(services), key=lambda a: a.opened_at)
        if a.village_id == found.id
    ]  # fmt: skip
    census = _census_history(services, found)
    names = {v.id: v.name for v in services.commune.villages}
    campaigns = shown_rows(in_period(services.engine, chosen, found.id), names)
    defaults = {"effective_from": _day(local_day(time.time()))}
    now = services.clock()
    full = {f.device_id: full_text(f, now) for f in services.forecasts.forecasts(
        services.forecasts.bins(found.id))}  # fmt: skip
    response = page(
        request, "village.html", found.name, services, village=found, row=mine,
        result=result, status_text=status_line(result), period=chosen, chosen=chosen.name,
        choices=period_choices(), alerts=alerts,
        lamps=[x for x in devices if x["kind"] == "lamp"],
        bins=[{**x, "full_text": full.get(x["id"], "")} for x in devices if x["kind"] == "bin"],
        fields=CENSUS_FIELDS, form=form or defaults, errors=dict(errors or []),
        error_list=errors or [], saved=_saved(saved, census["census_history"]), **census,
        campaigns=campaigns, citizen=_citizen_reports(services, found.id, chosen),
    )  # fmt: skip
    response.status_code = status_code
    return response
