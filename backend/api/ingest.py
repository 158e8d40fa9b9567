"""POST /api/v1/ingest: batches from gateways, with a gateway token, at a bounded rate."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import ValidationError

from ..auth.ratelimit import RateLimiter
from ..batchorder import OutOfOrder
from . import fastbatch
from .deps import GatewayDep, ServicesDep, speaking_for
from .schemas import IngestBatch, IngestResult

# Below this a batch parses in well under a millisecond: handing it to a thread would cost more.
PARSE_INLINE_BYTES = 64 * 1024


def parse_batch(body: bytes) -> Any:
    """The batch in one pass over its bytes, or, if that fails, the parsed JSON as FastAPI has
    it (or its JSONDecodeError): FastAPI then validates it and words the errors, as always."""
    fast = fastbatch.decode(body)  # the common batch, checked as the models would
    if fast is not None:
        return fast
    try:
        return IngestBatch.model_validate_json(body)
    except ValidationError:
        return json.loads(body)


class _BatchRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            if len(body) > PARSE_INLINE_BYTES:  # a big batch is parsed off the event loop
                self._json = await anyio.to_thread.run_sync(parse_batch, body)
            else:
                self._json = parse_batch(body)
        return self._json


class _BatchRoute(APIRoute):
    """Parses a batch straight from the request's bytes into the model.

    FastAPI would decode the JSON into dicts and validate those: twice the work, on the server's
    event loop, for thousands of readings a second. A valid batch arrives here already a model,
    which FastAPI's validation takes as it is; the OpenAPI schema stays the model's, and a bad
    batch takes FastAPI's own way, so its errors read as before.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def parsed(request: Request) -> Response:
            return await handler(_BatchRequest(request.scope, request.receive))

        return parsed


router = APIRouter(prefix="/api/v1", tags=["ingest"], route_class=_BatchRoute)


@router.post(
    "/ingest",
    responses={
        403: {"description": "the token is not a gateway's, or another gateway's"},
        409: {"description": "the batch named in `after` was not stored here: nothing of this "
              "one was stored; resend both, in order"},
        429: {"description": "this gateway sends faster than SANGSACH_INGEST_RATE_PER_S: "
              "resend the batch after Retry-After seconds"},
        503: {"description": "time-series store unavailable: resend the batch after "
              "Retry-After seconds"},
    },
)  # fmt: skip
def ingest(
    batch: IngestBatch, services: ServicesDep, gateway: GatewayDep, request: Request
) -> IngestResult:
    """Store a gateway batch. Idempotent: resending a batch changes nothing.

    A gateway token speaks for its own gateway only: another ``gateway`` gets 403."""
    speaking_for(gateway, batch.gateway)
    limiter: RateLimiter = request.app.state.ingest_limiter
    messages = len(batch.readings) + len(batch.statuses) + len(batch.rejections)
    wait = limiter.take(f"{gateway.name}/{batch.gateway}", max(messages, 1))
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"gateway {batch.gateway!r} is over its ingest rate "
            f"({limiter.rate:g} messages/s): resend this batch later",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    try:
        return services.ingest.handle(batch)  # the store down: 503 (backend/api/errors.py)
    except OutOfOrder as err:  # nothing stored: the gateway resends from its spool's head
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
