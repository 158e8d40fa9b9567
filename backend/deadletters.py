"""Dead letters kept within bounds: a retention in days and a cap on the text they keep.

The gateway folds what a flooding device sends beyond its rate into one letter per minute, but
a device that sends junk at just under its rate still makes up to that many letters a minute,
forever. So the oldest letters go: those older than the retention, then, while the text kept
(payloads and details) is above the cap, the oldest first.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, delete, func, select

from . import db

log = logging.getLogger(__name__)

_table = db.dead_letters
_CHUNK = 1000


def kept_bytes(conn: Connection) -> int:
    """Characters kept in payloads and details: the part of the table that grows."""
    size = func.coalesce(func.sum(func.length(_table.c.payload) + func.length(_table.c.detail)), 0)
    return int(conn.execute(select(size)).scalar_one())


def purge(conn: Connection, now: float, keep_s: float, max_bytes: int) -> int:
    """Delete letters older than ``keep_s``, then the oldest while above ``max_bytes``; how many."""
    gone = conn.execute(delete(_table).where(_table.c.received_at < now - keep_s)).rowcount
    excess = kept_bytes(conn) - max_bytes
    while excess > 0:
        oldest = conn.execute(
            select(_table.c.id, func.length(_table.c.payload) + func.length(_table.c.detail))
            .order_by(_table.c.received_at, _table.c.id)
            .limit(_CHUNK)
        ).all()
        if not oldest:
            break
        doomed = []
        for letter_id, size in oldest:
            doomed.append(letter_id)
            excess -= size
            if excess <= 0:
                break
        gone += conn.execute(delete(_table).where(_table.c.id.in_(doomed))).rowcount
    if gone:
        log.info("%d dead letters deleted (older than %.0f days, or above the size cap)",
                 gone, keep_s / 86_400)  # fmt: skip
    return int(gone)
