"""Days whose readings arrived after they were over: marked at ingest, recomputed by the scores.

A gateway replaying a spool after an outage, or a node its buffer, brings readings of days
already rolled up. Such a day's stored parts would keep the outage as unknown time for ever;
ingest marks it here, in the batch's own transaction, and ``Scores`` recomputes it before the
day is read again (and the nightly thread every half minute, for Grafana).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, delete, select

from .. import db
from ..sql import upsert
from .days import local_day, local_midnight


def mark(conn: Connection, timestamps: Iterable[int], now: float | None = None) -> int:
    """Mark the local days, before today's, of these reading times; returns how many."""
    now = time.time() if now is None else now
    today = local_midnight(local_day(now))
    days = {local_midnight(local_day(ts)) for ts in timestamps if ts < today}
    if days:
        conn.execute(
            upsert(conn, db.late_days, ("day",), ("marked_at",)),
            [{"day": day, "marked_at": now} for day in sorted(days)],
        )
    return len(days)


def marked(engine: Engine, start: int, end: int) -> dict[int, float]:
    """The marked days starting in [start, end), with when each was marked."""
    table = db.late_days
    query = select(table.c.day, table.c.marked_at).where(table.c.day >= start, table.c.day < end)
    with engine.connect() as conn:
        return {int(day): float(at) for day, at in conn.execute(query)}


def clear(engine: Engine, seen: dict[int, float]) -> None:
    """Unmark the days recomputed, unless marked again since ``seen``."""
    table = db.late_days
    with engine.begin() as conn:
        for day, at in seen.items():
            conn.execute(delete(table).where(table.c.day == day, table.c.marked_at <= at))
