"""Web sessions: the cookie holds an opaque random id, the server keeps who it stands for.

Signing in with a token makes a session; the token itself never goes into the cookie. A session
ends at sign-out (its row is marked), when its lifetime is over, or when the token it was opened
with is revoked. Only the SHA-256 digest of the id is stored: a copy of the database does not
hold live sessions.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Column, Engine, Float, Integer, String, Table, delete, insert, select, update

from ..db import metadata
from .roles import Principal, Role
from .tokens import api_tokens

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_id", Integer, nullable=True),  # null: a bootstrap secret of the settings
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
    Column("ended_at", Float, nullable=True),
)

KEEP_ENDED_S = 30 * 86_400


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    expires_at: float


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, engine: Engine, lifetime_s: float) -> None:
        self.engine = engine
        self.lifetime_s = lifetime_s
        web_sessions.create(engine, checkfirst=True)

    def open(self, principal: Principal, token_id: int | None, now: float) -> str:
        """A new session for ``principal``; returns its id, which only the cookie keeps."""
        session_id = secrets.token_urlsafe(32)
        row = {
            "id_hash": _digest(session_id),
            "name": principal.name,
            "role": principal.role.value,
            "token_id": token_id,
            "created_at": now,
            "expires_at": now + self.lifetime_s,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(web_sessions).values(row))
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now - KEEP_ENDED_S))
        return session_id

    def find(self, session_id: str, now: float) -> Session | None:
        """The live session with this id: not ended, not expired, its token not revoked."""
        if not session_id or len(session_id) > 128:
            return None
        query = (
            select(web_sessions, api_tokens.c.revoked_at)
            .outerjoin(api_tokens, api_tokens.c.id == web_sessions.c.token_id)
            .where(
                web_sessions.c.id_hash == _digest(session_id),
                web_sessions.c.ended_at.is_(None),
                web_sessions.c.expires_at > now,
            )
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        m = row._mapping
        if m["token_id"] is not None and m["revoked_at"] is not None:
            return None
        return Session(Principal(m["name"], Role(m["role"])), m["expires_at"])

    def end(self, session_id: str, now: float) -> bool:
        """Sign out: the session stops working everywhere at once."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(web_sessions)
                .where(web_sessions.c.id_hash == _digest(session_id))
                .where(web_sessions.c.ended_at.is_(None))
                .values(ended_at=now)
            )
        return bool(done.rowcount)
