"""POST /api/v1/ingest: batches from gateways, with a gateway token, at a bounded rate."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Request, status

from ..auth.ratelimit import RateLimiter
from ..timeseries.port import TimeSeriesUnavailable
from .deps import GatewayDep, ServicesDep
from .schemas import IngestBatch, IngestResult

router = APIRouter(prefix="/api/v1", tags=["ingest"])


@router.post(
    "/ingest",
    responses={
        429: {"description": "this gateway sends faster than SANGSACH_INGEST_RATE_PER_S: "
              "resend the batch after Retry-After seconds"},
        503: {"description": "time-series store unavailable: resend the batch later"},
    },
)  # fmt: skip
def ingest(
    batch: IngestBatch, services: ServicesDep, gateway: GatewayDep, request: Request
) -> IngestResult:
    """Store a gateway batch. Idempotent: resending a batch changes nothing."""
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
        return services.ingest.handle(batch)
    except TimeSeriesUnavailable as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(err)) from err
