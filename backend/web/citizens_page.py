"""Citizens' reports on the web: the public form (``/phan-anh``, no sign-in, no script needed),
the office's list of tickets with their close button, and the printable sheet of QR codes.

The form is plain HTML: a basic smartphone's browser sends it. Its guards are in
``backend/citizens/form.py``; a flood from one address is answered 429 before any database work.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, cast
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from ..api.deps import ServicesDep
from ..auth.gate import client_address
from ..auth.identify import shown_name
from ..auth.roles import Principal, Role, allows
from ..citizens.form import HONEYPOT_FIELD, STAMP_FIELD, FormGuard, FormRefused, form_key
from ..citizens.parse import KINDS, MAX_TEXT, Kind, codes_of
from ..citizens.qr import qr_svg
from ..citizens.service import CitizenReports, Ticket, TicketNotFound
from ..notify import outbox
from ..notify.inbound import normalize_phone
from ..services import Services
from . import session
from .render import local_time, page, pages_router, templates

PATH: Final = "/phan-anh"
OFFICE_PATH: Final = "/phieu-phan-anh"

public_router = APIRouter(include_in_schema=False)
router = pages_router()


def citizens_of(services: Services) -> CitizenReports:
    assert services.citizens is not None  # bootstrap sets it
    return services.citizens


def guard_of(request: Request) -> FormGuard:
    """One guard per app: its stamps' key from the admin token, its buckets and used stamps."""
    guard: FormGuard | None = getattr(request.app.state, "citizen_form", None)
    if guard is None:
        services: Services = request.app.state.services
        guard = FormGuard(form_key(services.settings.admin_token.get_secret_value()))
        request.app.state.citizen_form = guard
    return guard


def _commune_query(services: Services) -> str:
    """In a province, the commune of the form (its codes are its own): ``&xa=<id>``."""
    several = services.province is not None and services.province.several
    return f"&xa={services.commune_id}" if several else ""


def _form_page(
    request: Request,
    services: Services,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    guard = guard_of(request)
    context = {
        "title": "Phản ánh về đèn đường, rác thải",
        "commune": services.commune.commune.name,
        "action": PATH + _commune_query(services).replace("&", "?", 1),
        "values": values,
        "errors": errors or {},
        "kinds": KINDS,
        "villages": [(v.id, v.name) for v in services.commune.villages],
        "stamp": guard.stamp(services.clock()),
        "stamp_field": STAMP_FIELD,
        "honeypot_field": HONEYPOT_FIELD,
        "max_text": MAX_TEXT,
    }
    return templates.TemplateResponse(
        request, "citizen_form.html", context, status_code=status_code
    )


@public_router.get(PATH, response_class=HTMLResponse)
def report_form(
    request: Request,
    services: ServicesDep,
    ma: Annotated[str, Query(max_length=12)] = "",
) -> HTMLResponse:
    """The form, pre-filled by the code of a QR sheet: ``/phan-anh?ma=P12``."""
    values = {"loai": "rac", "ma": "", "thon": "", "noi_dung": "", "sdt": ""}
    if ma:
        code, target = citizens_of(services).reader.code("rac", ma)
        values["ma"] = code
        if target is not None:
            values["loai"], values["thon"] = target.kind, target.village_id
    return _form_page(request, services, values)


FIELDS: Final = ("loai", "ma", "thon", "noi_dung", "sdt", STAMP_FIELD, HONEYPOT_FIELD)


@public_router.post(PATH, response_class=HTMLResponse)
async def send_report(request: Request, services: ServicesDep) -> HTMLResponse:
    """A report from the form. The address's share is checked before the body is even read: a
    flood costs a bucket's look-up each, not a form's parsing nor the database."""
    guard = guard_of(request)
    address = client_address(request.scope)
    wait = guard.admit(address)
    if wait:
        minutes = max(1, -(-int(wait) // 60))
        # the body is left unread: the connection is not reused for another request
        headers = {"Retry-After": str(int(wait) + 1), "Connection": "close"}
        from .errors import error_page  # errors imports the pages: imported when needed

        return error_page(request, 429, [f"gửi tiếp sau khoảng {minutes} phút"], headers)
    if not _same_site(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="biểu mẫu gửi từ trang khác")
    form = await request.form(max_files=0, max_fields=len(FIELDS) + 4)
    given = {name: value if isinstance(value := form.get(name, ""), str) else "" for name in FIELDS}
    return await run_in_threadpool(_send, request, services, guard, address, given)


def _send(
    request: Request,
    services: Services,
    guard: FormGuard,
    address: str,
    given: dict[str, str],
) -> HTMLResponse:
    loai, ma, thon, noi_dung, sdt = (given[n] for n in ("loai", "ma", "thon", "noi_dung", "sdt"))
    values = {"loai": loai, "ma": ma.strip()[:12], "thon": thon, "noi_dung": noi_dung[:MAX_TEXT],
              "sdt": sdt.strip()[:24]}  # fmt: skip
    now = services.clock()
    try:
        guard.check(given[STAMP_FIELD], given[HONEYPOT_FIELD], now)
    except FormRefused as refused:
        return _form_page(request, services, values, {refused.field: str(refused)}, 400)
    citizens = citizens_of(services)
    errors: dict[str, str] = {}
    kind: Kind = "rac"
    if loai in ("rac", "den", "khac"):
        kind = cast(Kind, loai)
    else:
        errors["loai"] = "chọn một loại: Rác, Đèn hoặc Khác"
    code = ""
    if ma.strip():
        code, target = citizens.reader.code(kind, ma)
        if target is None:
            errors["ma"] = f"không có mã {code[:12]}: xem lại mã in trên thùng rác hoặc cột đèn"
    if thon and thon not in citizens.villages:
        errors["thon"] = "chọn một thôn trong danh sách"
    if not ma.strip() and not thon:
        errors["thon"] = "chọn thôn (hoặc nhập mã in trên thùng rác, cột đèn)"
    if len(noi_dung) > MAX_TEXT:
        errors["noi_dung"] = f"tối đa {MAX_TEXT} ký tự (đang có {len(noi_dung)})"
    phone: str | None = None
    if sdt.strip():
        phone = normalize_phone(sdt)
        if not (outbox.E164.fullmatch(phone) and len(phone) <= 16):
            errors["sdt"] = "số điện thoại không đúng, ví dụ 0912 345 678 (hoặc để trống)"
    if errors:
        return _form_page(request, services, values, errors, 422)
    outcome = citizens.report_form(
        kind,
        code,
        thon,
        noi_dung,
        phone,
        address,
        now=now,
    )
    if outcome.ticket is None:
        message = (
            f"số máy này đã gửi đủ {citizens.per_phone_day} phản ánh hôm nay: mai gửi tiếp"
            if outcome.refused == "limit"
            else "chưa rõ nơi cần xử lý: chọn thôn hoặc nhập mã"
        )
        field = "sdt" if outcome.refused == "limit" else "thon"
        return _form_page(request, services, values, {field: message}, 422)
    ticket = outcome.ticket
    context = {
        "title": f"Đã nhận phản ánh #{ticket.id}",
        "commune": services.commune.commune.name,
        "ticket": ticket,
        "what": citizens.describe(ticket),
        "kind": KINDS[ticket.kind],
        "texted": ticket.phone is not None,
    }
    return templates.TemplateResponse(request, "citizen_receipt.html", context)


def _same_site(request: Request) -> bool:
    """A post whose ``Origin`` (or, without it, ``Referer``) names another site is refused; a
    basic browser sending neither is let through (the stamp still guards it)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.url.netloc


# -- the office ----------------------------------------------------------------------------


def page_operator(request: Request) -> Principal:
    """A page holding citizens' phone numbers: an operator or admin signed in."""
    principal = session.caller(request)
    if principal is None:
        raise HTTPException(
            status.HTTP_303_SEE_OTHER,
            detail="cần đăng nhập (sign in)",
            headers={"Location": f"{session.LOGIN_PATH}?tiep={quote(request.url.path, safe='')}"},
        )
    if not allows(principal.role, Role.OPERATOR):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"trang này cần quyền xử lý; mã {shown_name(principal)!r} chỉ có quyền xem",
        )
    return principal


STATUSES: Final[dict[str, Literal["open", "closed"] | None]] = {
    "mo": "open",
    "dong": "closed",
    "tat-ca": None,
}


@router.get(OFFICE_PATH, response_class=HTMLResponse)
def tickets_page(
    request: Request,
    services: ServicesDep,
    _: Annotated[Principal, Depends(page_operator)],
    trang_thai: Annotated[str, Query(alias="trang-thai", pattern="^(mo|dong|tat-ca)$")] = "mo",
    thon: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    citizens = citizens_of(services)
    tickets = citizens.list(STATUSES[trang_thai], thon or None, 200)
    rows = [_row(citizens, t) for t in tickets]
    return page(
        request, "citizen_tickets.html", "Phản ánh của người dân", services, rows=rows,
        chosen=trang_thai, village=thon, villages=[(v.id, v.name) for v in services.commune.villages],
    )  # fmt: skip


def _row(citizens: CitizenReports, ticket: Ticket) -> dict[str, Any]:
    return {
        "t": ticket,
        "what": citizens.describe(ticket),
        "kind": KINDS[ticket.kind],
        "at": local_time(ticket.created_at),
        "closed": local_time(ticket.closed_at) or "",
        "channel": "SMS" if ticket.channel == "sms" else "Biểu mẫu",
    }


@router.post(OFFICE_PATH + "/{ticket_id}/dong")
def close_ticket(
    services: ServicesDep,
    ticket_id: Annotated[int, Path(ge=1, le=2**62)],
    principal: Annotated[Principal, Depends(session.operator)],
    ghi_chu: Annotated[str, Form(max_length=500)] = "",
) -> RedirectResponse:
    try:
        citizens_of(services).close(ticket_id, shown_name(principal), ghi_chu)
    except TicketNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err)) from err
    return RedirectResponse(f"{OFFICE_PATH}#phieu-{ticket_id}", status.HTTP_303_SEE_OTHER)


@router.get(OFFICE_PATH + "/ma-qr", response_class=HTMLResponse)
def qr_sheet(
    request: Request,
    services: ServicesDep,
    _: Annotated[Principal, Depends(page_operator)],
    thon: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    """One card per gathering point and per lamp: the QR opening the form pre-filled, and the
    code printed big beside it, to print and stick on the bin or pole."""
    citizens = citizens_of(services)
    base = services.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    cards = []
    kinds: tuple[Kind, ...] = ("rac", "den")
    for kind in kinds:
        for target in codes_of(citizens.reader.targets.values(), kind):
            if thon and target.village_id != thon:
                continue
            url = f"{base}{PATH}?ma={target.code}{_commune_query(services)}"
            svg = qr_svg(url)
            # a card per bin of a point (each bin gets its sticker) and per lamp
            for device_id in target.device_ids or ("",):
                cards.append({"target": target, "device_id": device_id, "url": url, "svg": svg})
    return page(
        request, "citizen_qr.html", "Mã QR phản ánh", services, cards=cards, village=thon,
        villages=[(v.id, v.name) for v in services.commune.villages],
    )  # fmt: skip
