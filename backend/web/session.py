"""Who reads the web pages: a session cookie set by the sign-in page (its value is the token,
HttpOnly, SameSite=Lax), or a bearer token for scripts. Forms carry a CSRF token.

Read-only pages may be left open on the office LAN with ``SANGSACH_WEB_OPEN_READ=true``;
acknowledging always needs an operator.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Request, status

from ..api.deps import ServicesDep, get_auth
from ..auth.csrf import FIELD, csrf_ok, csrf_token
from ..auth.identify import Authenticator
from ..auth.roles import VIETNAMESE, Principal, Role, allows

COOKIE = "sangsach_phien"
LOGIN_PATH = "/dang-nhap"
SESSION_MAX_AGE_S = 7 * 86_400

AuthDep = Annotated[Authenticator, Depends(get_auth)]


def presented(request: Request) -> tuple[str, bool]:
    """The secret the browser or script presents, and whether it came in the cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip(), False
    return request.cookies.get(COOKIE, ""), True


def staff(auth: Authenticator, secret: str) -> Principal | None:
    """A staff principal (viewer, operator, admin); gateway tokens do not open pages."""
    principal = auth.identify(secret)
    return principal if principal and principal.role is not Role.GATEWAY else None


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


def _remember(request: Request, principal: Principal, secret: str, from_cookie: bool) -> None:
    request.state.principal = principal
    request.state.csrf = csrf_token(secret) if from_cookie else ""


def reader(request: Request, auth: AuthDep, services: ServicesDep) -> Principal | None:
    """Read-only pages: a signed-in viewer or more, or anyone when the pages are open."""
    secret, from_cookie = presented(request)
    principal = staff(auth, secret) if secret else None
    if principal is not None:
        _remember(request, principal, secret, from_cookie)
    elif not services.settings.web_open_read:
        raise _to_login(request)
    return principal


def operator(
    request: Request, auth: AuthDep, csrf: Annotated[str, Form(alias=FIELD)] = ""
) -> Principal:
    """Forms that change something: an operator or admin, and the form's CSRF token when the
    session cookie signs the request."""
    secret, from_cookie = presented(request)
    principal = staff(auth, secret) if secret else None
    if principal is None:
        raise _to_login(request)
    if not allows(principal.role, Role.OPERATOR):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"cần quyền xử lý (operator); {principal.name!r} chỉ có quyền xem",
        )
    if from_cookie and not csrf_ok(secret, csrf):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="biểu mẫu hết hạn hoặc không hợp lệ (CSRF): tải lại trang rồi thử lại",
        )
    _remember(request, principal, secret, from_cookie)
    return principal


def context(request: Request) -> dict[str, Any]:
    """What every page's header needs: who is signed in, the CSRF token, what they may do."""
    user: Principal | None = getattr(request.state, "principal", None)
    return {
        "user": user,
        "csrf": getattr(request.state, "csrf", ""),
        "csrf_field": FIELD,
        "can_operate": user is not None and allows(user.role, Role.OPERATOR),
        "role_names": VIETNAMESE,
    }
