"""Sign in with a token (Vietnamese page), and sign out.

Signing in opens a server-side session (``backend/auth/sessions.py``); the cookie carries its
random id, never the token. Signing out ends the session on the server, and needs the page's
CSRF token like every other form: another site cannot sign anyone out.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from ..api.deps import ServicesDep
from ..auth.csrf import FIELD
from ..auth.failures import FailureLimiter
from ..auth.gate import client_address
from ..auth.roles import Role
from ..auth.sessions import SessionStore
from .pages import templates
from .session import COOKIE, LOGIN_PATH, AuthDep, check_csrf, safe_next, session_id

router = APIRouter(include_in_schema=False)


def _form(request: Request, next_path: str, error: str = "", code: int = 200) -> HTMLResponse:
    context = {"title": "Đăng nhập", "commune": "", "next_path": next_path, "error": error}
    return templates.TemplateResponse(request, "login.html", context, status_code=code)


def _secure(request: Request, public_url: str) -> bool:
    """The cookie goes only over https when users reach us by https (the setting), or when this
    request came by https (directly, or through a trusted proxy's X-Forwarded-Proto)."""
    return public_url.startswith("https://") or request.url.scheme == "https"


@router.get(LOGIN_PATH, response_class=HTMLResponse)
def login_page(request: Request, tiep: str = "/") -> HTMLResponse:
    return _form(request, safe_next(tiep))


@router.post(LOGIN_PATH, response_model=None)
def login(
    request: Request,
    auth: AuthDep,
    services: ServicesDep,
    ma: Annotated[str, Form(max_length=512)],
    tiep: Annotated[str, Form(max_length=2000)] = "/",
) -> HTMLResponse | RedirectResponse:
    _same_origin(request)
    secret = ma.strip()
    found = auth.who(secret) if secret else None
    if found is None or found[0].role is Role.GATEWAY:
        failures: FailureLimiter = request.app.state.auth_failures
        failures.failed(client_address(request.scope), "sign-in")
        error = "Mã truy cập không đúng, đã bị thu hồi, hoặc là mã của gateway."
        return _form(request, safe_next(tiep), error, status.HTTP_401_UNAUTHORIZED)
    sessions: SessionStore = request.app.state.sessions
    new_id = sessions.open(found[0], secret, services.clock())
    response = RedirectResponse(safe_next(tiep), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        new_id,
        max_age=int(sessions.lifetime_s),
        httponly=True,
        samesite="lax",
        secure=_secure(request, services.settings.public_url),
    )
    return response


@router.post("/dang-xuat")
def logout(
    request: Request,
    services: ServicesDep,
    csrf: Annotated[str, Form(alias=FIELD, max_length=128)] = "",
) -> Response:
    """Ends the session on the server. Without a session (another site's form: the cookie is not
    sent across sites) nothing is changed."""
    sid = session_id(request)
    if not sid:
        return RedirectResponse(LOGIN_PATH, status_code=status.HTTP_303_SEE_OTHER)
    check_csrf(request, csrf)
    sessions: SessionStore = request.app.state.sessions
    sessions.end(sid, services.clock())
    response = RedirectResponse(LOGIN_PATH, status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, httponly=True, samesite="lax")
    return response


def _same_origin(request: Request) -> None:
    """A sign-in form posted from another site is refused (login CSRF)."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="đăng nhập từ trang khác bị từ chối")
