"""Who is calling, decided from the headers before any request body is read.

FastAPI reads and validates a route's body before its dependencies run, so a role checked in a
dependency came after the work: an unauthenticated 7 MB batch was parsed on the event loop and
then answered 401 (or 422, when malformed). This ASGI middleware runs first:

- ``/api/...``: a bearer token is required and looked up (off the event loop); none or a wrong
  one is answered 401 at once, the body unread. The SMS webhook proves itself with its signature
  instead, which needs the body; its failures count as below.
- the pages: a bearer token or the session cookie; a form sent (any method but GET and HEAD)
  without a live session is sent to the sign-in page, its body unread. The citizens' report
  form (``/phan-anh``) is the exception: open to all, it guards itself (a rate per address
  checked before its body is read, a signed stamp: ``backend/citizens/form.py``).
- an address that failed too often (wrong tokens, wrong sign-ins, wrong webhook signatures) is
  answered 429 with ``Retry-After`` for every attempt to prove itself, a right secret included.

The principal found is left in ``scope["state"]["principal"]`` (``request.state.principal``),
with ``session_id`` for a session; the routes' dependencies then check the role.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import anyio.to_thread
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .failures import FailureLimiter
from .roles import Principal

COOKIE = "sangsach_phien"
LOGIN_PATH = "/dang-nhap"
# The citizens' report form: no sign-in; it guards itself (backend/citizens/form.py).
PUBLIC_FORM_PATH = "/phan-anh"
WEBHOOK_PATH = "/api/v1/sms/inbound"
OPEN_PATHS = frozenset(
    {"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/favicon.ico"}
)
# The pages' files; the update files nodes download (no token: each is checked on the node
# against the release it was offered, signed with the node's own key).
OPEN_PREFIXES = ("/static/", "/ota/")
SAFE_METHODS = frozenset({"GET", "HEAD"})

Identify = Callable[[str], "Principal | None"]
FindSession = Callable[[str], "Principal | None"]


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class AuthGate:
    def __init__(
        self,
        app: ASGIApp,
        identify: Identify,
        find_session: FindSession,
        failures: FailureLimiter,
    ) -> None:
        self.app = app
        self.identify = identify
        self.find_session = find_session
        self.failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        address = client_address(scope)
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" else ""
        api = path == "/api" or path.startswith("/api/")
        state = scope.setdefault("state", {})

        if scope["method"] == "POST" and path == PUBLIC_FORM_PATH:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST" and path in (WEBHOOK_PATH, LOGIN_PATH):
            # these prove themselves in the body (a signature, a sign-in form): only the
            # address's failures are checked here, and the route counts new ones
            wait = self.failures.retry_after(address)
            if wait:
                await _too_many(scope, receive, send, wait)
                return
            await self.app(scope, receive, send)
            return

        if bearer:
            wait = self.failures.retry_after(address)
            if wait:
                await _too_many(scope, receive, send, wait)
                return
            principal = await anyio.to_thread.run_sync(self.identify, bearer)
            if principal is None:
                self.failures.failed(address, "bearer")
                await _json(send, 401, "unknown or revoked token", {"www-authenticate": "Bearer"})
                return
            state["principal"] = principal
        elif api:
            await _json(
                send, 401, "missing token: send Authorization: Bearer <token>",
                {"www-authenticate": "Bearer"},
            )  # fmt: skip
            return
        else:
            session_id = _cookie(headers.get(b"cookie", b""), COOKIE)
            principal = None
            if session_id:
                principal = await anyio.to_thread.run_sync(self.find_session, session_id)
            if principal is not None:
                state["principal"] = principal
                state["session_id"] = session_id
            elif scope["method"] not in SAFE_METHODS:
                await _to_login(send, scope)
                return
        await self.app(scope, receive, send)


def _cookie(raw: bytes, name: str) -> str:
    for part in raw.decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip()
    return ""


async def _json(send: Send, status: int, detail: str, extra: dict[str, str]) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the unread body must not be taken as the next request
        *((k.encode(), v.encode()) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _too_many(scope: Scope, receive: Receive, send: Send, wait: int) -> None:
    """429 with ``Retry-After``: JSON to a program, the Vietnamese error page to a person (the
    sign-in form), whose body is left unread."""
    path: str = scope["path"]
    headers = {"retry-after": str(wait)}
    if path == WEBHOOK_PATH or path == "/api" or path.startswith("/api/"):
        await _json(send, 429, "too many failed attempts from this address: wait", headers)
        return
    from ..web.errors import error_page  # the pages import this module: imported when needed

    minutes = max(1, -(-wait // 60))
    page = error_page(
        Request(scope),
        429,
        [f"thử lại sau khoảng {minutes} phút"],
        {**headers, "connection": "close"},
    )
    await page(scope, receive, send)


async def _to_login(send: Send, scope: Scope) -> None:
    referer = urlsplit(dict(scope["headers"]).get(b"referer", b"").decode("latin-1"))
    back = (
        referer.path if referer.path.startswith("/") and not referer.path.startswith("//") else "/"
    )
    location = f"{LOGIN_PATH}?tiep={quote(back, safe='')}".encode()
    headers = [(b"location", location), (b"content-length", b"0"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
