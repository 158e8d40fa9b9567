"""The FastAPI application: routers, start-up and shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from sangsach.config import BackendSettings

from .api import (
    alerts,
    campaigns,
    census,
    deadletters,
    errors,
    firmware,
    gateways,
    ingest,
    readings,
    registry,
    scores,
    sms,
    tickets,
    tokens,
    worklists,
)
from .auth.bodylimit import BodySizeLimit
from .auth.failures import FailureLimiter
from .auth.gate import AuthGate
from .auth.identify import Authenticator
from .auth.ratelimit import RateLimiter
from .auth.roles import Principal
from .auth.sessions import SessionStore
from .auth.tokens import TokenStore
from .notify.inbound import UnknownAlert
from .services import Services, bootstrap
from .timeseries.port import TimeSeriesStore, TimeSeriesUnavailable
from .web import apidocs, login, pages
from .web.headers import SecurityHeaders


def create_app(settings: BackendSettings, store: TimeSeriesStore | None = None) -> FastAPI:
    """Build the app; the registry is loaded and the stores connected before it serves."""
    services: Services = bootstrap(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.start_background()
        yield
        services.close()

    app = FastAPI(
        title="sangsach",
        summary="Sáng – Sạch: streetlights and waste bins of the commune",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served from this site by web/apidocs.py, not from a CDN
        redoc_url=None,
    )
    app.state.services = services
    auth = app.state.auth = Authenticator(settings, TokenStore(services.engine))
    app.state.ingest_limiter = RateLimiter(settings.ingest_rate_per_s, settings.ingest_burst)
    sessions = app.state.sessions = SessionStore(
        services.engine, settings.session_hours * 3600, (settings.admin_token.get_secret_value(),)
    )
    failures = app.state.auth_failures = FailureLimiter(
        settings.auth_failures_burst, settings.auth_failures_per_min / 60
    )

    def find_session(session_id: str) -> Principal | None:
        found = sessions.find(session_id, services.clock())
        return found.principal if found else None

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        AuthGate, identify=auth.identify, find_session=find_session, failures=failures
    )
    app.add_middleware(SecurityHeaders)  # the outermost: every answer gets the headers
    # The one exception boundary (backend/api/errors.py): JSON under /api/, pages elsewhere.
    app.add_exception_handler(RequestValidationError, errors.validation_error)
    app.add_exception_handler(HTTPException, errors.http_error)
    app.add_exception_handler(TimeSeriesUnavailable, errors.store_unavailable)
    app.add_exception_handler(UnknownAlert, errors.not_found)
    app.add_exception_handler(Exception, errors.unexpected)
    routers = (
        ingest,
        registry,
        readings,
        deadletters,
        alerts,
        sms,
        scores,
        census,
        tokens,
        gateways,
        worklists,
        campaigns,
        tickets,
    )
    for module in routers:
        app.include_router(module.router)
    app.include_router(firmware.router)
    app.include_router(firmware.files_router)

    app.include_router(login.router)
    for pages_router in pages.routers:
        app.include_router(pages_router)
    apidocs.install(app)  # before /static: it mounts /static/api-docs
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """What browsers ask for by themselves; the pages link the same icon."""
        return FileResponse(pages.HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Open to all, for health checks: no token needed."""
        return {"status": "ok"}

    return app
