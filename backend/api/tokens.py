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


class TokenPublic(BaseModel):
    id: int
    name: str
    role: Role
    created_at: float
    revoked_at: float | None


class TokenIssued(TokenPublic):
    token: str = Field(description="the secret: shown this once, only its digest is kept")


def get_store(request: Request) -> TokenStore:
    store: TokenStore = request.app.state.auth.store
    return store


StoreDep = Annotated[TokenStore, Depends(get_store)]


def _public(info: TokenInfo) -> TokenPublic:
    return TokenPublic(
        id=info.id, name=info.name, role=info.role, created_at=info.created_at,
        revoked_at=info.revoked_at,
    )  # fmt: skip


@router.get("")
def list_tokens(store: StoreDep) -> list[TokenPublic]:
    """Every token issued, revoked ones included (never their secrets)."""
    return [_public(info) for info in store.list()]


@router.post("", status_code=status.HTTP_201_CREATED)
def issue_token(body: TokenIn, store: StoreDep) -> TokenIssued:
    try:
        info, secret = store.add(body.name, body.role, time.time())
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
