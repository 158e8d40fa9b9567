"""Dependencies shared by the routers, as typed aliases, and the role each route needs.

Every route declares a role (``viewer``, ``operator``, ``admin`` or ``gateway``);
tests/integration/test_api_auth.py lists every route of the app and fails on one without.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection

from ..auth.identify import Authenticator
from ..auth.roles import Principal, Role, allows
from ..auth.scopes import COMMUNE_COOKIE, commune_may_open
from ..services import Services


def check_scope(request: Request, principal: Principal | None) -> None:
    """403 for a caller scoped to one commune on a route that is not a commune's, or whose
    commune is no longer in the registry. Called by every role's dependency."""
    if principal is None or principal.scope is None:
        return
    services: Services = request.app.state.services
    if services.province is None or not services.province.several:
        return  # a lone commune's installation: its scope is everything there is
    route = request.scope.get("route")
    if not commune_may_open(getattr(route, "path", "")):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="trang này của tỉnh; mã của xã chỉ xem được trang của xã mình "
            "(this is the province's: a commune's token opens its own commune's pages)",
        )
    if principal.scope not in services.province.communes:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"xã {principal.scope!r} của mã này không còn trong sổ đăng ký của tỉnh",
        )


def get_services(request: Request) -> Services:
    """The services as the caller's commune sees them. One commune: as they are. A province:
    a caller scoped to a commune sees that commune, on the routes a commune may open (else
    403); the province's office sees the commune it picked on the province's page (cookie
    ``xa``), else the first; a citizen's form, the commune of its address (``?xa=``)."""
    services: Services = request.app.state.services
    if services.province is None or not services.province.several:
        return services
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None and principal.scope is not None:
        check_scope(request, principal)
        return services.view(principal.scope)
    # the province's office: the commune it picked; a citizen: the commune of the QR code's
    # form (``?xa=``, printed in the code's address)
    picked = request.query_params.get(COMMUNE_COOKIE) or request.cookies.get(COMMUNE_COOKIE, "")
    return services.view(picked) if picked in services.province.communes else services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_conn(services: ServicesDep) -> Iterator[Connection]:
    with services.engine.connect() as conn:
        yield conn


ConnDep = Annotated[Connection, Depends(get_conn)]


def get_auth(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


BEARER = HTTPBearer(
    auto_error=False,
    description="A token from `sangsach tokens add` or a bootstrap secret of the settings",
)


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Principal:
    """The caller of an API route, as ``backend/auth/gate.py`` found it from
    ``Authorization: Bearer <token>`` before the body was read; else 401."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if credentials is None or principal is None:
        raise _unauthorized("missing token: send Authorization: Bearer <token>")
    return principal


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def require(role: Role) -> Callable[[Request, Principal], Principal]:
    """A dependency that lets through a principal whose role allows ``role``, else 403."""

    def dependency(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        check_scope(request, principal)
        if not allows(principal.role, role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this needs the {role} role; the token {principal.name!r} "
                f"has the {principal.role} role",
            )
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


viewer = require(Role.VIEWER)
operator = require(Role.OPERATOR)
admin = require(Role.ADMIN)
gateway = require(Role.GATEWAY)

GatewayDep = Annotated[Principal, Depends(gateway)]


def speaking_for(principal: Principal, gateway_id: str) -> None:
    """A gateway token speaks for its own gateway only (one token per gateway id), else 403."""
    if not principal.speaks_for(gateway_id):
        own = ", ".join(repr(i) for i in sorted(principal.gateway_ids)) or "no gateway"
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"the token {principal.name!r} speaks for {own}, not for gateway "
            f"{gateway_id!r}: each gateway sends with its own token (`sangsach tokens add "
            f"--name {gateway_id} --role gateway`), or SANGSACH_INGEST_GATEWAY_IDS names it",
        )
