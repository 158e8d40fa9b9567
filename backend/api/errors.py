"""The backend's one exception boundary: every error kind is answered here, once, registered in
``backend/app.py``.

Which answer a request gets is decided by its path, once: under ``/api/`` a program is calling
and gets JSON ``{"detail": ...}``; anywhere else a person opened a page and gets a Vietnamese
error page in the site's layout (``backend/web/errors.py``).

- the time-series store down or timing out (``TimeSeriesUnavailable``): 503 with
  ``Retry-After``, the store's own reason in the log, not in the answer;
- a bad parameter (FastAPI's validation, a period the pages refuse): 422 naming it;
- an alert that does not exist: 404;
- anything else: 500 without internals, logged with its traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException

from ..web.errors import error_page, problem
from ..web.headers import COMMON, CSP

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
RETRY_AFTER_S = 30  # a restarted influxd answers within seconds; a gateway resends its batch
# Statuses only the framework and the edge raise on a page (a body it cannot parse, a body over the
# limit): their reasons are English and name settings, so the page's own wording stands alone.
FRAMEWORK_WORDED = frozenset({400, 413})
# Starlette answers an unexpected error from outside every middleware, so the security headers'
# middleware (backend/web/headers.py) never sees that answer: it carries them itself.
SECURITY_HEADERS = {"content-security-policy": CSP, **{k.decode(): v.decode() for k, v in COMMON}}


def is_page(request: Request) -> bool:
    """A page a person opened (not a program calling the API): every path outside ``/api/``."""
    return not request.url.path.startswith(API_PREFIX)


def _showable(text: str) -> str:
    """Text quoted back from the request, safe to encode whatever it holds (a lone surrogate
    becomes its escape)."""
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _json(status_code: int, detail: Any, headers: Mapping[str, str] | None = None) -> Response:
    text = json.dumps({"detail": jsonable_encoder(detail)}, ensure_ascii=False)
    return Response(
        _showable(text).encode("utf-8"),
        status_code=status_code,
        media_type="application/json",
        headers=dict(headers or {}),
    )


async def validation_error(request: Request, exc: Exception) -> Response:
    """422 naming each refused parameter and why: FastAPI's errors as it words them for the API,
    one line each on a page.

    A request may carry a lone surrogate (``"\\udc00"`` is valid JSON); FastAPI's own answer
    quotes the input and then fails to encode it, so the client got a 500, and a gateway resent
    that batch forever instead of setting the entry aside. Here such a character is written back
    as the JSON escape it came as.
    """
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    if is_page(request):
        return error_page(request, 422, [_showable(problem(e)) for e in errors])
    return _json(status.HTTP_422_UNPROCESSABLE_CONTENT, errors)


async def http_error(request: Request, exc: Exception) -> Response:
    """An ``HTTPException`` (a route's own, or the router's 404 and 405): on a page, the error
    page with the route's reason when it has one of its own; otherwise FastAPI's answer."""
    if not isinstance(exc, HTTPException):
        raise TypeError(f"http_error handles HTTPException, not {type(exc).__name__}")
    if not is_page(request) or exc.status_code < 400:  # a redirect to sign in stays one
        return await http_exception_handler(request, exc)
    detail = str(exc.detail)
    generic = detail == HTTPStatus(exc.status_code).phrase
    problems = [] if generic or exc.status_code in FRAMEWORK_WORDED else [_showable(detail)]
    return error_page(request, exc.status_code, problems, exc.headers)


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """The time-series store is down or timed out: 503, try again after ``Retry-After``."""
    log.warning("time-series store unavailable on %s %s: %s", request.method, request.url.path, exc)
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if is_page(request):
        return error_page(request, 503, headers=headers)
    detail = f"the time-series store is unavailable: try again in {RETRY_AFTER_S} s"
    return _json(status.HTTP_503_SERVICE_UNAVAILABLE, detail, headers)


async def not_found(request: Request, exc: Exception) -> Response:
    """A lookup of something that does not exist (an alert id): 404 with its reason."""
    if is_page(request):
        alert_id = request.path_params.get("alert_id")
        shown = [f"không có cảnh báo số {alert_id} đang mở"] if alert_id else []
        return error_page(request, 404, shown)
    return _json(status.HTTP_404_NOT_FOUND, str(exc))


async def unexpected(request: Request, exc: Exception) -> Response:
    """Any other exception: logged with its traceback, answered 500 without internals."""
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    if is_page(request):
        try:
            return error_page(request, 500, headers=SECURITY_HEADERS)
        except Exception:  # the page itself failed (say, a template): the answer stays plain
            log.exception("the error page failed too")
            text = "500 Lỗi máy chủ (Internal Server Error)"
            return PlainTextResponse(text, status_code=500, headers=SECURITY_HEADERS)
    detail = "internal error: the backend's log has the details"
    return JSONResponse({"detail": detail}, status_code=500, headers=SECURITY_HEADERS)
