"""Sign in with a token (Vietnamese page), and sign out. The token becomes the session cookie."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from ..auth.csrf import FIELD, csrf_ok
from .pages import templates
from .session import COOKIE, LOGIN_PATH, SESSION_MAX_AGE_S, AuthDep, presented, safe_next, staff

router = APIRouter(include_in_schema=False)


def _form(request: Request, next_path: str, error: str = "", code: int = 200) -> HTMLResponse:
    context = {"title": "Đăng nhập", "commune": "", "next_path": next_path, "error": error}
    return templates.TemplateResponse(request, "login.html", context, status_code=code)


@router.get(LOGIN_PATH, response_class=HTMLResponse)
def login_page(request: Request, tiep: str = "/") -> HTMLResponse:
    return _form(request, safe_next(tiep))


@router.post(LOGIN_PATH, response_model=None)
def login(
    request: Request,
    auth: AuthDep,
    ma: Annotated[str, Form(max_length=512)],
    tiep: Annotated[str, Form(max_length=2000)] = "/",
) -> HTMLResponse | RedirectResponse:
    _same_origin(request)
    secret = ma.strip()
    principal = staff(auth, secret) if secret else None
    if principal is None:
        error = "Mã truy cập không đúng, đã bị thu hồi, hoặc là mã của gateway."
        return _form(request, safe_next(tiep), error, status.HTTP_401_UNAUTHORIZED)
    response = RedirectResponse(safe_next(tiep), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        secret,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/dang-xuat")
def logout(
    request: Request, csrf: Annotated[str, Form(alias=FIELD, max_length=128)] = ""
) -> RedirectResponse:
    secret, from_cookie = presented(request)
    if from_cookie and secret and not csrf_ok(secret, csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="biểu mẫu không hợp lệ (CSRF)")
    response = RedirectResponse(LOGIN_PATH, status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, httponly=True, samesite="lax")
    return response


def _same_origin(request: Request) -> None:
    """A sign-in form posted from another site is refused (login CSRF)."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="đăng nhập từ trang khác bị từ chối")
