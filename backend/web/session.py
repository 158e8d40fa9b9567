"""Who reads the web pages: a server-side session opened by the sign-in page (the cookie holds
only its random id, HttpOnly, SameSite=Lax), or a bearer token for scripts. The caller was found
by ``backend/auth/gate.py`` before the request was read; these dependencies check the role.
Forms carry a CSRF token derived from the session id.

Read-only pages may be left open on the office LAN with ``SANGSACH_WEB_OPEN_READ=true``;
acknowledging always needs an operator.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Request, status

from ..api.deps import ServicesDep, check_scope, get_auth
from ..auth.csrf import FIELD, csrf_ok, csrf_token
from ..auth.gate import COOKIE, LOGIN_PATH
from ..auth.identify import Authenticator, shown_name
from ..auth.roles import VIETNAMESE, Principal, Role, allows

__all__ = ["COOKIE", "LOGIN_PATH", "AuthDep", "context", "operator", "reader", "safe_next"]

AuthDep = Annotated[Authenticator, Depends(get_auth)]


def caller(request: Request) -> Principal | None:
    """The staff member the gate found (viewer, operator, admin); gateway tokens open no page."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal if principal and principal.role is not Role.GATEWAY else None


def session_id(request: Request) -> str:
    """The id of the session that signs this request, or "" (a bearer token, or nobody)."""
    found: str = getattr(request.state, "session_id", "")
    return found


def safe_next(path: str) -> str:
    """Only a path on this site: never ``//host`` or a full URL."""
    if path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def _to_login(request: Request) -> HTTPException:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"{LOGIN_PATH}?tiep={quote(wanted, safe='')}"
    return HTTPException(
        status.HTTP_303_SEE_OTHER, detail="cần đăng nhập (sign in)", headers={"Location": target}
    )


def reader(request: Request, services: ServicesDep) -> Principal | None:
    """Read-only pages: a signed-in viewer or more, or anyone when the pages are open."""
    principal = caller(request)
    if principal is None and not services.settings.web_open_read:
        raise _to_login(request)
    check_scope(request, principal)
    return principal


def operator(request: Request, csrf: Annotated[str, Form(alias=FIELD)] = "") -> Principal:
    """Forms that change something: an operator or admin, and the form's CSRF token when a
    session signs the request."""
    principal = caller(request)
    if principal is None:
        raise _to_login(request)
    check_scope(request, principal)
    if not allows(principal.role, Role.OPERATOR):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"việc này cần quyền xử lý; mã {shown_name(principal)!r} chỉ có quyền xem",
        )
    check_csrf(request, csrf)
    return principal


def check_csrf(request: Request, given: str) -> None:
    """A form signed by the session cookie must carry the session's CSRF token."""
    sid = session_id(request)
    if sid and not csrf_ok(sid, given):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="biểu mẫu đã hết hạn hoặc không hợp lệ: tải lại trang rồi thử lại",
        )


def context(request: Request) -> dict[str, Any]:
    """What every page's header needs: who is signed in, the CSRF token, what they may do."""
    user = caller(request)
    sid = session_id(request)
    return {
        "user": user,
        "user_name": shown_name(user) if user else "",
        "csrf": csrf_token(sid) if sid else "",
        "csrf_field": FIELD,
        "can_operate": user is not None and allows(user.role, Role.OPERATOR),
        "role_names": VIETNAMESE,
    }
