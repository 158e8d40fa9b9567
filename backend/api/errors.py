"""The API's answers to errors, where FastAPI's own fall short."""

from __future__ import annotations

import json

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError


async def validation_error(request: Request, exc: Exception) -> Response:
    """422 with the errors, as FastAPI words them, whatever they quote.

    A request may carry a lone surrogate (``"\\udc00"`` is valid JSON); FastAPI's own answer
    quotes the input and then fails to encode it, so the client got a 500, and a gateway resent
    that batch forever instead of setting the entry aside. Here such a character is written back
    as the JSON escape it came as.
    """
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    text = json.dumps({"detail": jsonable_encoder(errors)}, ensure_ascii=False)
    return Response(
        text.encode("utf-8", errors="backslashreplace"),
        status_code=422,
        media_type="application/json",
    )
