"""Dependencies shared by the routers, as typed aliases."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy import Connection

from ..services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_conn(services: ServicesDep) -> Iterator[Connection]:
    with services.engine.connect() as conn:
        yield conn


ConnDep = Annotated[Connection, Depends(get_conn)]


def require_gateway(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Ingest is for gateways only: ``Authorization: Bearer <SANGSACH_INGEST_TOKEN>``."""
    expected = services.settings.ingest_token.get_secret_value()
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong gateway token (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": "Bearer"},
        )
