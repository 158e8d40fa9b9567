"""Alerts: the open ones, each as a card (``alert_cards.py``: its place, who was texted, who
took it on, who reported it done, the replies by SMS with their answers); acknowledging one from
the office ("Nhận xử lý"); one alert on its own page; and the history, filtered and in pages.

The lists come from the API's own queries (``backend/alerts/queries.py``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse

from ..alerts import queries
from ..alerts.lifecycle import Alert, State
from ..alerts.model import AlertType
from ..alerts.queries import AlertFilter
from ..api.deps import ServicesDep
from ..api.schemas import AlertId
from ..auth.identify import shown_name
from ..auth.roles import Principal
from ..notify.templates import PROBLEMS
from ..services import Services
from . import session
from .alert_cards import STATES, cards
from .render import page, pages_router, period_choices, period_of, this_month

router = pages_router()

E = TypeVar("E", bound=StrEnum)
PAGE_SIZE: Final = 50
_MAX_PAGE: Final = 100_000
_MAX_ID: Final = 2**62

# After "Nhận xử lý", the page says what came of it (``?da=...&ma=<code>``).
NOTICES: Final = {
    "nhan": "Đã nhận xử lý cảnh báo {code}.",
    "co-nguoi": "Cảnh báo {code} đã có người nhận trước.",
    "het": "Cảnh báo {code} đã hết, không cần nhận nữa.",
}
# -- routes -----------------------------------------------------------------------------------


@router.get("/canh-bao", response_class=HTMLResponse)
def alerts(
    request: Request,
    services: ServicesDep,
    da: Annotated[str, Query(max_length=16)] = "",
    ma: Annotated[int | None, Query(ge=1, le=_MAX_ID)] = None,
) -> HTMLResponse:
    with services.engine.connect() as conn:
        shown = cards(conn, services, queries.list_alerts(
            conn, AlertFilter(active=True, villages=services.village_ids), limit=10_000))  # fmt: skip
    notice = NOTICES[da].format(code=ma) if da in NOTICES and ma is not None else ""
    return page(request, "alerts.html", "Cảnh báo đang mở", services, alerts=shown, notice=notice)


@router.get("/canh-bao/lich-su", response_class=HTMLResponse)
def history(
    request: Request,
    services: ServicesDep,
    thon: Annotated[str, Query(max_length=32)] = "",
    loai: Annotated[str, Query(max_length=24)] = "",
    trang_thai: Annotated[str, Query(max_length=24)] = "",
    ky: Annotated[str, Query(max_length=32)] = "",
    ngay: Annotated[str, Query(max_length=32)] = "",
    trang: Annotated[int, Query(ge=1, le=_MAX_PAGE)] = 1,
) -> HTMLResponse:
    """Every alert opened in a period (the picker's, or a run of days), newest first. The
    form sends every field; an empty one does not filter."""
    kind = _choice(AlertType, loai, "loai")
    state = _choice(State, trang_thai, "trang_thai")
    if ngay.strip():
        period = period_of(ngay, "query", "ngay")
    else:
        period = period_of(ky or this_month(), "query", "ky")
    villages = {v.id: v.name for v in services.commune.villages}
    where = AlertFilter(
        state=state,
        village=thon or None,
        type=kind,
        start=period.start,
        end=period.end,
        villages=services.village_ids,
    )
    with services.engine.connect() as conn:
        total = queries.count_alerts(conn, where)
        found = queries.list_alerts(conn, where, limit=PAGE_SIZE, offset=(trang - 1) * PAGE_SIZE)
        shown = cards(conn, services, found)
        per_type = queries.history(conn, where)
    pages = max(1, -(-total // PAGE_SIZE))
    filters = {"thon": thon, "loai": loai, "trang_thai": trang_thai, "ky": period.name}
    return page(
        request, "alerts_history.html", "Lịch sử cảnh báo", services, alerts=shown,
        total=total, page_no=trang, pages=pages, period=period, filters=filters,
        days=ngay.strip(), choices=period_choices(), villages=villages, kinds=PROBLEMS,
        states=STATES, per_type=[_type_row(s) for s in per_type],
        prev_url=_page_url(filters, trang - 1) if trang > 1 else "",
        next_url=_page_url(filters, trang + 1) if trang < pages else "",
    )  # fmt: skip


@router.get("/canh-bao/{alert_id}", response_class=HTMLResponse)
def one_alert(request: Request, alert_id: AlertId, services: ServicesDep) -> HTMLResponse:
    found = _seen(services, alert_id)
    with services.engine.connect() as conn:
        [shown] = cards(conn, services, [found])
    title = f"Cảnh báo {alert_id}: {shown.problem}"
    return page(request, "alert.html", title, services, a=shown)


@router.post("/canh-bao/{alert_id}/nhan")
def acknowledge(
    alert_id: AlertId,
    services: ServicesDep,
    principal: Annotated[Principal, Depends(session.operator)],
) -> RedirectResponse:
    """Take an alert on in the name of who is signed in; the page then says what came of it."""
    by = shown_name(principal)[:64]
    _seen(services, alert_id)
    alert = services.alerts.acknowledge(alert_id, by)  # an unknown id: 404 (api/errors.py)
    if alert.state is State.CLEARED:
        done = "het"
    elif alert.acked_by != by:
        done = "co-nguoi"
    else:
        done = "nhan"
    target = f"/canh-bao?da={done}&ma={alert_id}#canh-bao-{alert_id}"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


def _seen(services: Services, alert_id: int) -> Alert:
    """The alert, if the commune in view may see it; else 404, as for an unknown id."""
    found = services.alerts.get(alert_id)  # an unknown id: 404 (backend/api/errors.py)
    if not services.sees(found.village_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"không có cảnh báo {alert_id}")
    return found


def _choice(enum: type[E], text: str, name: str) -> E | None:
    """A filter's value, or None for "all"; a value it cannot be is a 422 naming it."""
    if not text:
        return None
    try:
        return enum(text)
    except ValueError as err:
        allowed = ", ".join(repr(e.value) for e in enum)
        error = {"type": "enum", "loc": ("query", name), "msg": f"expected {allowed}",
                 "input": text, "ctx": {"expected": allowed}}  # fmt: skip
        raise RequestValidationError([error]) from err


def _type_row(stats: queries.TypeStats) -> dict[str, Any]:
    return {
        "problem": PROBLEMS[stats.type.value].capitalize(),
        "opened": stats.opened,
        "acknowledged": stats.acknowledged,
        "cleared": stats.cleared,
        "to_ack": duration(stats.mean_time_to_acknowledge_s),
        "to_clear": duration(stats.mean_time_to_clear_s),
    }


def duration(seconds: float | None) -> str:
    """A mean time as a clerk reads it: "45 phút", "3 giờ 20 phút", "2 ngày 4 giờ"."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return "dưới 1 phút"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} ngày {hours} giờ" if hours else f"{days} ngày"
    if hours:
        return f"{hours} giờ {minutes} phút" if minutes else f"{hours} giờ"
    return f"{minutes} phút"


def _page_url(filters: dict[str, str], number: int) -> str:
    kept = {name: value for name, value in filters.items() if value}
    return "/canh-bao/lich-su?" + urlencode({**kept, "trang": number})
