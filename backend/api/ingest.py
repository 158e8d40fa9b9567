"""POST /api/v1/ingest: batches from gateways."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from ..timeseries.port import TimeSeriesUnavailable
from .deps import ServicesDep, require_gateway
from .schemas import IngestBatch, IngestResult

router = APIRouter(prefix="/api/v1", tags=["ingest"])


@router.post(
    "/ingest",
    dependencies=[Depends(require_gateway)],
    responses={503: {"description": "time-series store unavailable: resend the batch later"}},
)
def ingest(batch: IngestBatch, services: ServicesDep) -> IngestResult:
    """Store a gateway batch. Idempotent: resending a batch changes nothing."""
    try:
        return services.ingest.handle(batch)
    except TimeSeriesUnavailable as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(err)) from err
