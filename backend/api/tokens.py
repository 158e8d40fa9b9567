"""API tokens, for admins: list, issue (the secret is shown once), revoke."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from pydantic import BaseModel, Field

from ..auth.roles import Role
from ..auth.tokens import NAME_MAX, BadTokenName, TokenError, TokenInfo, TokenStore
from .deps import admin

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"], dependencies=[Depends(admin)])


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=NAME_MAX, description="who or what holds it")
    role: Role
    scope: str | None = Field(
        default=None,
        max_length=32,
        description="a province's: the id of the one commune it may see; absent: all",
    )


class TokenPublic(BaseModel):
    id: int
    name: str
    role: Role
    created_at: float
    revoked_at: float | None
    scope: str | None = None


class TokenIssued(TokenPublic):
    token: str = Field(description="the secret: shown this once, only its digest is kept")


def get_store(request: Request) -> TokenStore:
    store: TokenStore = request.app.state.auth.store
    return store


StoreDep = Annotated[TokenStore, Depends(get_store)]


def _public(info: TokenInfo) -> TokenPublic:
    return TokenPublic(
        id=info.id, name=info.name, role=info.role, created_at=info.created_at,
        revoked_at=info.revoked_at, scope=info.scope,
    )  # fmt: skip


@router.get("")
def list_tokens(store: StoreDep) -> list[TokenPublic]:
    """Every token issued, revoked ones included (never their secrets)."""
    return [_public(info) for info in store.list()]


@router.post("", status_code=status.HTTP_201_CREATED)
def issue_token(body: TokenIn, store: StoreDep, request: Request) -> TokenIssued:
    services = request.app.state.services
    communes = services.province.communes if services.province else {}
    if body.scope is not None and body.scope not in communes:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"scope: no commune {body.scope!r} in the registry; one of "
            + ", ".join(sorted(communes)),
        )
    if body.scope is not None and body.role is Role.GATEWAY:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="scope: a gateway token speaks for its gateway, not for a commune",
        )
    try:
        info, secret = store.add(body.name, body.role, time.time(), body.scope)
    except BadTokenName as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(err)) from err
    except TokenError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    return TokenIssued(**_public(info).model_dump(), token=secret)


@router.delete("/{name}")
def revoke_token(
    name: Annotated[str, Path(min_length=1, max_length=NAME_MAX)], store: StoreDep
) -> dict[str, int]:
    try:
        return {"revoked": store.revoke(name, time.time())}
    except TokenError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err)) from err
