"""The durable SMS outbox in SQL: what was, or will be, sent to whom.

A message is written once under the caller's idempotency key (for example
``alert:123:new:0:0:+84912000181``), so enqueuing it again after a crash changes nothing. The
dispatcher claims a due message before it sends it and records the outcome after; rows stay
in the table: ``pending`` (waiting or retrying), ``sent``, or ``failed`` with the carrier's
reason.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, func, select, update

from .. import db
from ..sql import insert_for
from .text import Encoding, fits_one_segment

Status = Literal["pending", "sent", "failed"]
E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")

_table = db.sms_outbox


@dataclass(frozen=True, slots=True)
class Sms:
    """One message to send. ``id`` is the idempotency key, also sent to the carrier."""

    id: str
    to: str
    body: str
    encoding: Encoding
    kind: str
    alert_id: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.id) <= 160:
            raise ValueError(f"SMS id must be 1 to 160 characters: {self.id!r}")
        if not E164.fullmatch(self.to):
            raise ValueError(f"SMS recipient {self.to!r} is not an E.164 number like +84912345678")
        if not fits_one_segment(self.body, self.encoding):
            raise ValueError(f"SMS {self.id!r} does not fit one {self.encoding} segment")


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    sms: Sms
    status: Status
    attempts: int
    next_attempt_at: float
    created_at: float
    sent_at: float | None
    last_error: str | None
    provider_ref: str | None


def enqueue(conn: Connection, message: Sms, now: float, *, send_at: float | None = None) -> bool:
    """Store a message to send at ``send_at`` (default: as soon as possible); False if its id
    is already there."""
    row = {
        "id": message.id,
        "to": message.to,
        "body": message.body,
        "encoding": message.encoding,
        "kind": message.kind,
        "alert_id": message.alert_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now if send_at is None else send_at,
        "created_at": now,
    }
    result = conn.execute(insert_for(conn, _table).values(row).on_conflict_do_nothing())
    return bool(result.rowcount)


def due(conn: Connection, now: float, limit: int = 100) -> list[OutboxEntry]:
    """Pending messages whose time has come, the longest waiting first."""
    query = (
        select(_table)
        .where(_table.c.status == "pending", _table.c.next_attempt_at <= now)
        .order_by(_table.c.next_attempt_at, _table.c.created_at, _table.c.id)
        .limit(limit)
    )
    return [_entry(row) for row in conn.execute(query)]


def claim(conn: Connection, id: str, now: float, retry_at: float) -> bool:
    """Count an attempt and push the message to ``retry_at`` before it is sent.

    If the sender dies during the attempt the message comes due again at ``retry_at``, and
    another dispatcher that read the same due list cannot claim it a second time.
    """
    result = conn.execute(
        update(_table)
        .where(_table.c.id == id, _table.c.status == "pending", _table.c.next_attempt_at <= now)
        .values(attempts=_table.c.attempts + 1, next_attempt_at=retry_at)
    )
    return bool(result.rowcount)


def mark_sent(conn: Connection, id: str, provider_ref: str, now: float) -> None:
    conn.execute(
        update(_table)
        .where(_table.c.id == id)
        .values(status="sent", sent_at=now, provider_ref=provider_ref)
    )


def mark_retry(conn: Connection, id: str, error: str, next_at: float) -> None:
    conn.execute(
        update(_table)
        .where(_table.c.id == id, _table.c.status == "pending")
        .values(last_error=error, next_attempt_at=next_at)
    )


def mark_failed(conn: Connection, id: str, error: str) -> None:
    """The carrier refused the message for good: kept, with its reason, never retried."""
    conn.execute(
        update(_table)
        .where(_table.c.id == id, _table.c.status == "pending")
        .values(status="failed", last_error=error)
    )


def sent_since(conn: Connection, to: str, since: float) -> int:
    """Messages to ``to`` created since ``since``, whatever their state: for rate limits."""
    query = select(func.count()).where(_table.c.to == to, _table.c.created_at >= since)
    return int(conn.execute(query).scalar_one())


def ids_since(
    conn: Connection, prefix: str, to: Collection[str], since: float, *, limit: int | None = None
) -> list[tuple[str, float]]:
    """Ids and creation times of the messages to these numbers whose id starts with ``prefix``,
    created since ``since``, newest first: a producer's own history, read by its keys."""
    query = (
        select(_table.c.id, _table.c.created_at)
        .where(
            _table.c.to.in_(to),
            _table.c.id.startswith(prefix, autoescape=True),
            _table.c.created_at >= since,
        )
        .order_by(_table.c.created_at.desc())
        .limit(limit)
    )
    return [(row.id, row.created_at) for row in conn.execute(query)]


def list_messages(
    conn: Connection, status: Status | None = None, to: str | None = None, limit: int = 100
) -> list[OutboxEntry]:
    """Newest first."""
    query = select(_table).order_by(_table.c.created_at.desc(), _table.c.id).limit(limit)
    if status:
        query = query.where(_table.c.status == status)
    if to:
        query = query.where(_table.c.to == to)
    return [_entry(row) for row in conn.execute(query)]


def _entry(row: Any) -> OutboxEntry:
    sms = Sms(row.id, row.to, row.body, row.encoding, row.kind, row.alert_id)
    return OutboxEntry(
        sms,
        row.status,
        row.attempts,
        row.next_attempt_at,
        row.created_at,
        row.sent_at,
        row.last_error,
        row.provider_ref,
    )
