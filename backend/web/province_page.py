"""The province's page: its communes ranked for a period, and the choice of the commune whose
pages the province's office is looking at (cookie ``xa``; which communes a caller may see is
decided by its scope, never by the cookie: backend/api/deps.py)."""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from sangsach.province_file import Province

from ..api.deps import ServicesDep
from ..auth.scopes import COMMUNE_COOKIE
from ..reports.build import rows, status_line
from ..scores.province import communes_period
from ..services import Services
from .render import PeriodDep, page, pages_router, period_choices

router = pages_router()
PATH = "/tinh"
YEAR_S = 366 * 86_400


def _province(services: Services) -> Province:
    if services.province is None or not services.province.several:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail="cài đặt này chỉ có một xã: không có trang tỉnh"
        )
    return services.province


@router.get(PATH, response_class=HTMLResponse)
def province(request: Request, services: ServicesDep, chosen: PeriodDep) -> HTMLResponse:
    """Every commune of the province ranked for the period ``ky`` (default: this month)."""
    province = _province(services)
    result = communes_period(services.views(), province.formula, chosen.start, chosen.end)
    return page(
        request, "province.html", f"Toàn tỉnh {province.name}", services,
        rows=rows(result, {}), result=result, status_text=status_line(result), period=chosen,
        chosen=chosen.name, choices=period_choices(), in_view=services.commune_id,
    )  # fmt: skip


@router.get(PATH + "/xa/{commune_id}")
def pick(commune_id: str, services: ServicesDep) -> RedirectResponse:
    """Look at one commune's pages: the overview of ``commune_id``."""
    if commune_id not in _province(services).communes:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"không có xã {commune_id!r}")
    answer = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    answer.set_cookie(COMMUNE_COOKIE, commune_id, max_age=YEAR_S, httponly=True, samesite="lax")
    return answer
