"""CSRF tokens of the web forms, derived from the session's secret (an HMAC), so nothing is kept
on the server: a page on another site cannot read the HttpOnly cookie, so cannot forge it."""

from __future__ import annotations

import hashlib
import hmac

FIELD = "csrf"


def csrf_token(session_secret: str) -> str:
    return hmac.new(session_secret.encode(), b"sangsach web form", hashlib.sha256).hexdigest()


def csrf_ok(session_secret: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(session_secret).encode(), given.encode())
