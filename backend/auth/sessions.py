"""Web sessions: the cookie holds an opaque random id, the server keeps who it stands for.

Signing in with a token makes a session; the token itself never goes into the cookie. A session
ends at sign-out (its row is marked), when its lifetime is over, or when the secret it was opened
with stops being valid: an issued token revoked, or a secret of the settings changed (a leaked
``SANGSACH_ADMIN_TOKEN`` replaced ends its sessions at the restart). Only SHA-256 digests of the
id and of the secret are stored: a copy of the database holds no live session and no token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Column, Engine, Float, String, Table, delete, insert, select, update

from ..db import metadata
from .roles import Principal, Role
from .tokens import api_tokens, digest

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False),  # the digest of the secret signed in with
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
    Column("ended_at", Float, nullable=True),
    Column("scope", String(32), nullable=True),  # the principal's: one commune, or NULL
)

KEEP_ENDED_S = 30 * 86_400


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    expires_at: float


class SessionStore:
    def __init__(self, engine: Engine, lifetime_s: float, fixed_secrets: tuple[str, ...]) -> None:
        """``fixed_secrets``: the secrets of the settings that may sign in (the admin token)."""
        self.engine = engine
        self.lifetime_s = lifetime_s
        self._fixed = frozenset(digest(secret) for secret in fixed_secrets if secret)

    def open(self, principal: Principal, secret: str, now: float) -> str:
        """A new session for ``principal``, who proved it with ``secret``; returns its id, which
        only the cookie keeps."""
        session_id = secrets.token_urlsafe(32)
        row = {
            "id_hash": digest(session_id),
            "name": principal.name,
            "role": principal.role.value,
            "scope": principal.scope,
            "secret_hash": digest(secret),
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
        active_token = (
            select(api_tokens.c.id)
            .where(api_tokens.c.token_hash == web_sessions.c.secret_hash)
            .where(api_tokens.c.revoked_at.is_(None))
            .exists()
        )
        query = select(web_sessions, active_token.label("token_active")).where(
            web_sessions.c.id_hash == digest(session_id),
            web_sessions.c.ended_at.is_(None),
            web_sessions.c.expires_at > now,
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        m = row._mapping
        if not (m["token_active"] or m["secret_hash"] in self._fixed):
            return None
        return Session(Principal(m["name"], Role(m["role"]), scope=m["scope"]), m["expires_at"])

    def end(self, session_id: str, now: float) -> bool:
        """Sign out: the session stops working everywhere at once."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(web_sessions)
                .where(web_sessions.c.id_hash == digest(session_id))
                .where(web_sessions.c.ended_at.is_(None))
                .values(ended_at=now)
            )
        return bool(done.rowcount)
