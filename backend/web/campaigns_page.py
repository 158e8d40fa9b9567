"""Green Sundays and clean-up days (``/chien-dich``): the campaigns of a period with the number
each village took part in, and the office's form to record one, correct it or delete it. The
form is checked by the API's own model and kept by the API's own functions."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from sangsach import formats
from sangsach.sun import VIETNAM

from ..api.campaigns import CampaignId, CampaignIn, entry, unknown_villages
from ..api.deps import ServicesDep
from ..api.schemas import MAX_ID
from ..auth.identify import shown_name
from ..auth.roles import Principal
from ..campaigns import (
    FIRST_DAY,
    KINDS,
    LAST_DAY,
    MAX_DAYS,
    Campaign,
    CampaignEntry,
    add,
    correct,
    get,
    in_period,
    per_village,
    remove,
)
from ..reports.build import period_dates
from ..reports.period import Period
from . import session
from .render import form_day, page, pages_router, period_choices, period_of

router = pages_router()
PATH = "/chien-dich"
TITLE = "Chủ nhật xanh và các đợt ra quân vệ sinh"

# The form's fields, named as the API names them, labelled as the office says them.
FIELDS: dict[str, str] = {
    "kind": "Loại hoạt động",
    "name": "Tên hoạt động",
    "first_day": "Ngày",
    "last_day": "Đến ngày",
    "villages": "Thôn tham gia",
    "participants": "Số người tham gia",
    "note": "Ghi chú",
    "entered_by": "Người nhập",
}
EXAMPLE_DAY = "14/06/2026"
ShownId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@dataclass(slots=True)
class Given:
    """The form as typed: text, kept to show it again beside its errors."""

    kind: str = "chu_nhat_xanh"
    name: str = ""
    first_day: str = ""
    last_day: str = ""
    villages: list[str] = field(default_factory=list)
    all_villages: bool = False
    participants: str = ""
    note: str = ""
    entered_by: str = ""

    def body(self) -> dict[str, Any]:
        """The API's JSON body: empty text as absent, days written dd/mm/yyyy as the API's."""
        return {
            "kind": self.kind.strip() or "chu_nhat_xanh", "name": self.name.strip() or None,
            "first_day": form_day(self.first_day), "last_day": form_day(self.last_day),
            "villages": self.villages, "all_villages": self.all_villages,
            "participants": self.participants.strip() or None,
            "note": self.note.strip() or None, "entered_by": self.entered_by.strip() or None,
        }  # fmt: skip


def given_form(
    kind: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
    first_day: Annotated[str, Form(max_length=40)] = "",
    last_day: Annotated[str, Form(max_length=40)] = "",
    villages: Annotated[list[str] | None, Form()] = None,
    all_villages: Annotated[str, Form(max_length=10)] = "",
    participants: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    entered_by: Annotated[str, Form(max_length=400)] = "",
) -> Given:
    return Given(kind, name, first_day, last_day, villages or [], bool(all_villages),
                 participants, note, entered_by)  # fmt: skip


GivenDep = Annotated[Given, Depends(given_form)]
OperatorDep = Annotated[Principal, Depends(session.operator)]


def _chosen(ky: str) -> Period:
    """The picker's period (default: this year, the span of the yearly report)."""
    return period_of(ky or str(datetime.now(VIETNAM).year), "query", "ky")


def _found(services: Any, campaign_id: int) -> Campaign:
    found = get(services.engine, campaign_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"không có đợt số {campaign_id}")
    return found


@router.get(PATH, response_class=HTMLResponse)
def campaigns_page(
    request: Request,
    services: ServicesDep,
    ky: str = "",
    sua: ShownId = None,
    da_luu: ShownId = None,
    da_xoa: ShownId = None,
) -> HTMLResponse:
    """The period's campaigns; ``?sua=<id>`` opens one in the form to correct or delete it."""
    editing = _found(services, sua) if sua is not None else None
    return _page(request, services, _chosen(ky), editing=editing, saved=da_luu, deleted=da_xoa)


@router.post(PATH, response_class=HTMLResponse, response_model=None)
def record_form(
    request: Request, services: ServicesDep, principal: OperatorDep, given: GivenDep
) -> HTMLResponse | RedirectResponse:
    """A new campaign; a refused form comes back with a message naming each field."""
    checked = _checked(services, given, principal)
    if isinstance(checked, list):
        return _refused(request, services, given, checked, None)
    return _saved_redirect(add(services.engine, checked, time.time()))


@router.post(PATH + "/{campaign_id}", response_class=HTMLResponse, response_model=None)
def correct_form(
    request: Request,
    campaign_id: CampaignId,
    services: ServicesDep,
    principal: OperatorDep,
    given: GivenDep,
) -> HTMLResponse | RedirectResponse:
    """A campaign corrected from the form it was opened in (``?sua=<id>``)."""
    editing = _found(services, campaign_id)
    checked = _checked(services, given, principal)
    if isinstance(checked, list):
        return _refused(request, services, given, checked, editing)
    kept = correct(services.engine, campaign_id, checked, time.time())
    return _saved_redirect(kept or editing)


@router.post(PATH + "/{campaign_id}/xoa", dependencies=[Depends(session.operator)])
def delete_form(campaign_id: CampaignId, services: ServicesDep) -> RedirectResponse:
    found = _found(services, campaign_id)
    remove(services.engine, campaign_id)
    target = f"{PATH}?ky={found.first_day.year}&da_xoa={campaign_id}"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


def _checked(
    services: Any, given: Given, principal: Principal
) -> CampaignEntry | list[tuple[str, str]]:
    """The entry to keep, or the errors as ``(field, Vietnamese sentence)``."""
    known = [v.id for v in services.commune.villages]
    try:
        body = CampaignIn.model_validate(given.body())
    except ValidationError as err:
        return [_message(e, given) for e in err.errors()]
    unknown = unknown_villages(body, known)
    if unknown:
        return [("villages", f"{FIELDS['villages']}: không có thôn “{e['input']}” trong sổ "
                 "đăng ký.") for e in unknown]  # fmt: skip
    return entry(body, known, shown_name(principal)[:64])


def _refused(
    request: Request,
    services: Any,
    given: Given,
    errors: list[tuple[str, str]],
    editing: Campaign | None,
) -> HTMLResponse:
    day = given.body()["first_day"]
    try:
        chosen = _chosen(str(date.fromisoformat(day).year)) if day else _chosen("")
    except ValueError:
        chosen = _chosen("")
    response = _page(request, services, chosen, editing=editing, form=given, errors=errors)
    response.status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    return response


def _saved_redirect(kept: Campaign) -> RedirectResponse:
    target = f"{PATH}?ky={kept.first_day.year}&da_luu={kept.id}#dot-{kept.id}"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


def _message(error: ErrorDetails, given: Given) -> tuple[str, str]:
    """``(field, Vietnamese sentence naming it)`` for one of the model's errors."""
    kind, ctx = error["type"], error.get("ctx", {})
    name = str(error["loc"][0]) if error["loc"] else "first_day"
    label = FIELDS.get(name, name)
    typed = getattr(given, name, "")
    typed = typed.strip() if isinstance(typed, str) else ""
    if kind == "campaign_name_missing":
        return name, f"{label}: cần ghi tên cho loại “{KINDS['other']}”."
    if kind == "campaign_ends_before":
        return name, (
            f"{label} ({typed}) không được trước ngày bắt đầu ({given.first_day.strip()})."
        )
    if kind == "campaign_too_long":
        return name, f"{label}: một đợt dài nhiều nhất {MAX_DAYS} ngày."
    if kind == "campaign_no_village":
        return name, f"{label}: chọn ít nhất một thôn, hoặc chọn “Cả xã”."
    if kind == "missing" or (not typed and name != "kind"):
        return name, f"{label}: chưa nhập."
    if kind == "literal_error":
        return name, f"{label}: chọn một trong các loại: {', '.join(KINDS.values())}."
    if kind == "string_too_long":
        return name, f"{label}: dài quá {ctx.get('max_length')} ký tự."
    if name in ("first_day", "last_day"):
        if kind == "greater_than_equal":
            return name, f"{label}: không được trước ngày {formats.day(FIRST_DAY)}."
        if kind == "less_than_equal":
            return name, f"{label}: không được sau ngày {formats.day(LAST_DAY)}."
        return name, (
            f"{label}: “{typed}” không phải là một ngày (ngày/tháng/năm, ví dụ {EXAMPLE_DAY})."
        )
    if kind == "greater_than_equal":
        return name, f"{label}: ít nhất là {ctx.get('ge')}."
    if kind == "less_than_equal":
        return name, f"{label}: không được lớn hơn {formats.integer(ctx.get('le'))}."
    return name, f"{label}: cần một số nguyên (ví dụ 120), đã nhập “{typed}”."


def _last_sunday(today: date) -> date:
    """The day a Green Sunday form starts from: today on a Sunday, else the Sunday before."""
    return today - timedelta(days=(today.weekday() + 1) % 7)


def _as_given(campaign: Campaign) -> Given:
    return Given(
        kind=campaign.kind, name=campaign.name, first_day=formats.day(campaign.first_day),
        last_day="" if campaign.last_day == campaign.first_day
        else formats.day(campaign.last_day),
        villages=[] if campaign.all_villages else list(campaign.village_ids),
        all_villages=campaign.all_villages,
        participants="" if campaign.participants is None else str(campaign.participants),
        note=campaign.note or "", entered_by=campaign.entered_by,
    )  # fmt: skip


def shown_rows(found: list[Campaign], names: dict[str, str]) -> list[dict[str, Any]]:
    """The campaigns as the pages list them."""
    return [
        {"id": c.id, "days": c.days_text, "name": c.name, "kind": c.kind_vi,
         "villages": c.villages_text(names), "participants": c.participants,
         "note": c.note or "", "entered_by": c.entered_by,
         "entered_at": formats.moment(c.entered_at),
         "corrected_at": formats.moment(c.corrected_at)}
        for c in found
    ]  # fmt: skip


def _page(
    request: Request,
    services: Any,
    chosen: Period,
    *,
    editing: Campaign | None = None,
    saved: int | None = None,
    deleted: int | None = None,
    form: Given | None = None,
    errors: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    names = {v.id: v.name for v in services.commune.villages}
    found = in_period(services.engine, chosen)
    counts = per_village(found, names)
    if form is None:
        form = _as_given(editing) if editing else Given(
            first_day=formats.day(_last_sunday(datetime.now(VIETNAM).date())))  # fmt: skip
    notice = ""
    if saved is not None and (kept := get(services.engine, saved)) is not None:
        notice = f"Đã lưu đợt “{kept.name}” ({kept.days_text})."
    elif deleted is not None and get(services.engine, deleted) is None:
        notice = f"Đã xóa đợt số {deleted}."
    return page(
        request, "campaigns.html", TITLE, services, period=chosen, chosen=chosen.name,
        choices=period_choices(), dates=period_dates(chosen), rows=shown_rows(found, names),
        counts=[{"id": v, "name": n, "count": counts[v]} for v, n in names.items()],
        villages=list(names.items()), kinds=KINDS, fields=FIELDS, form=asdict(form),
        editing=editing, errors=dict(errors or []), error_list=errors or [], notice=notice,
        example_day=EXAMPLE_DAY, max_days=MAX_DAYS,
    )  # fmt: skip
