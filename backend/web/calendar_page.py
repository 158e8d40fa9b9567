"""The lunar calendar's festivals of the coming year, and which nights the lamps stay lit till
dawn (sangsach/lunar.py: the same nights the lighting rule, the alerts and the Sáng score use)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from sangsach import formats
from sangsach.lighting import festival_nights
from sangsach.lunar import Festival, days_to_tet
from sangsach.sun import VIETNAM

from ..api.deps import ServicesDep
from .render import page, pages_router

router = pages_router()
DAYS_SHOWN = 366
WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


@router.get("/lich", response_class=HTMLResponse)
def calendar(request: Request, services: ServicesDep) -> HTMLResponse:
    commune = services.commune
    today = datetime.now(VIETNAM).date()
    end = today + timedelta(days=DAYS_SHOWN - 1)
    names = {v.id: v.name for v in commune.villages}
    seen: dict[tuple[object, str], Festival] = {}
    for village in commune.villages:
        for festival in festival_nights(commune, village).between(today, end):
            seen.setdefault((festival.day, festival.name), festival)
    rows: list[dict[str, Any]] = [
        {
            "day": formats.day(f.day),
            "weekday": WEEKDAYS[f.day.weekday()],
            "lunar": f.lunar.text(),
            "name": f.name,
            "village": names.get(f.village_id or "", "Cả xã"),
            "all_night": f.all_night,
        }
        for f in sorted(seen.values(), key=lambda f: (f.day, f.name))
    ]
    return page(
        request, "calendar.html", "Lịch lễ, Tết và chiếu sáng", services, rows=rows,
        start=formats.day(today), end=formats.day(end),
        tet_rounds=_tet_rounds(today, commune.tet_rounds_days),
    )  # fmt: skip


def _tet_rounds(today: date, days: int) -> dict[str, str] | None:
    """The coming rounds before Tết (every gathering point on the work lists): first and last
    day, as printed; None when the registry turns them off."""
    if days == 0:
        return None
    found = [
        d
        for d in (today + timedelta(days=n) for n in range(DAYS_SHOWN + days))
        if days_to_tet(d, days) is not None
    ][:days]
    if not found:
        return None
    return {"first": formats.day(found[0]), "last": formats.day(found[-1]), "days": str(days)}
