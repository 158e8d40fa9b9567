"""Issued tokens, kept in SQL as SHA-256 digests: the secret is shown once and never stored.

A token is 32 random bytes, so a plain digest is enough: there is nothing to guess from it.
Revoking keeps the row (who had access, and until when).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    RowMapping,
    Select,
    String,
    Table,
    insert,
    select,
    update,
)

from sangsach.config import GATEWAY_ID

from ..db import metadata
from ..sql import BigInt
from .roles import Role

PREFIX = "ss_"
NAME_MAX = 64

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigInt, primary_key=True, autoincrement=True),
    Column("name", String(NAME_MAX), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    # the one commune it may see (a commune id of the province file); NULL: the installation
    Column("scope", String(32), nullable=True),
)


class TokenError(ValueError):
    """A token that cannot be issued or revoked; the message says why."""


class BadTokenName(TokenError):
    """A name that is empty, too long or not printable."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    role: Role
    created_at: float
    revoked_at: float | None
    scope: str | None = None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_name(name: str, role: Role) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX or not name.isprintable():
        raise BadTokenName(f"a token name is 1 to {NAME_MAX} printable characters: {name!r}")
    if role is Role.GATEWAY and not re.fullmatch(GATEWAY_ID, name):
        raise BadTokenName(
            "a gateway token is named after the one gateway it speaks for, its "
            f"SANGSACH_GATEWAY_ID (1 to 32 letters, digits, - or _): {name!r}"
        )
    return name


class TokenStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, name: str, role: Role, now: float, scope: str | None = None
    ) -> tuple[TokenInfo, str]:
        """Issue a token (``scope``: the one commune it may see); returns it with its secret,
        which is not kept. The caller checks that ``scope`` names a commune."""
        name = check_name(name, role)
        if scope is not None and role is Role.GATEWAY:
            raise TokenError("a gateway token speaks for its gateway, not for a commune: no scope")
        secret = PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            if conn.execute(_active().where(api_tokens.c.name == name)).first():
                raise TokenError(f"a token named {name!r} is in use: revoke it first")
            row = {
                "name": name,
                "role": role.value,
                "token_hash": digest(secret),
                "created_at": now,
                "scope": scope,
            }
            token_id = conn.execute(insert(api_tokens).values(row)).inserted_primary_key
        assert token_id is not None
        return TokenInfo(int(token_id[0]), name, role, now, None, scope), secret

    def list(self) -> list[TokenInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.id))
            return [_info(row._mapping) for row in rows]

    def revoke(self, name: str, now: float) -> int:
        """Revoke the active token of this name; raises TokenError when there is none."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        if not done.rowcount:
            raise TokenError(f"no active token named {name!r}")
        return int(done.rowcount)

    def find(self, secret: str) -> TokenInfo | None:
        """The active token with this secret, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(_active().where(api_tokens.c.token_hash == digest(secret))).first()
        return _info(row._mapping) if row else None


def _active() -> Select[tuple[Any, ...]]:
    return select(api_tokens).where(api_tokens.c.revoked_at.is_(None))


def _info(m: RowMapping) -> TokenInfo:
    return TokenInfo(
        m["id"], m["name"], Role(m["role"]), m["created_at"], m["revoked_at"], m["scope"]
    )
