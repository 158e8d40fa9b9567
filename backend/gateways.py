"""Gateway states: each gateway reports whether its spool's disk is full; the office is told.

On the transition to full, one SMS goes to each commune office phone; on the transition back,
one "resolved" SMS. The idempotency key names the gateway and the start of the episode, so a
report repeated after a crash or a retry queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, select, update

from . import db
from .notify.outbox import Sms, enqueue
from .notify.text import fits_one_segment, to_gsm7
from .sql import insert_for

# The source texts, with diacritics; sent as GSM-7 "không dấu", one segment each.
SPOOL_FULL: Final = (
    "Trạm thu {gateway}: ổ đĩa hàng đợi sắp đầy, ngừng nhận dữ liệu mới; "
    "dữ liệu đã lưu vẫn an toàn. Cần giải phóng ổ đĩa, kiểm tra mạng."
)
SPOOL_OK: Final = "Trạm thu {gateway}: ổ đĩa hàng đợi đã có chỗ, nhận dữ liệu trở lại bình thường."

_table = db.gateway_states


@dataclass(frozen=True, slots=True)
class GatewayState:
    gateway_id: str
    spool_full: str
    spooled: int
    full_since: float | None
    reported_at: float
    intake_stalled: str = ""


def message(template: str, gateway_id: str) -> str:
    text = to_gsm7(template.format(gateway=gateway_id))
    if not fits_one_segment(text, "gsm7"):
        raise ValueError(f"gateway SMS for {gateway_id!r} does not fit one GSM-7 segment")
    return text


def report(
    conn: Connection,
    gateway_id: str,
    spool_full: str,
    spooled: int,
    now: float,
    office_phones: Sequence[str],
    intake_stalled: str = "",
) -> list[Sms]:
    """Record a gateway's report; queue and return the office SMS of a transition, if any.

    A stalled intake is recorded and shown, not texted: the gateway's own supervision stops
    it when a thread dies, and its service manager restarts it.
    """
    row = conn.execute(select(_table).where(_table.c.gateway_id == gateway_id)).first()
    was_full = row is not None and bool(row.spool_full)
    since = row.full_since if row is not None else None
    values = {
        "spool_full": spool_full,
        "spooled": spooled,
        "reported_at": now,
        "intake_stalled": intake_stalled,
    }
    queued: list[Sms] = []
    if spool_full and not was_full:
        since = now
        queued = _office(gateway_id, "spool_full", SPOOL_FULL, since, office_phones)
    elif not spool_full and was_full:
        queued = _office(gateway_id, "spool_ok", SPOOL_OK, since or now, office_phones)
        since = None
    values["full_since"] = since
    if row is None:
        conn.execute(insert_for(conn, _table).values(gateway_id=gateway_id, **values))
    else:
        conn.execute(update(_table).where(_table.c.gateway_id == gateway_id).values(values))
    return [sms for sms in queued if enqueue(conn, sms, now)]


def _office(
    gateway_id: str, kind: str, template: str, since: float, phones: Sequence[str]
) -> list[Sms]:
    body = message(template, gateway_id)
    return [
        Sms(f"gateway:{gateway_id}:{kind}:{since * 1000:.0f}:{phone}", phone, body, "gsm7", kind)
        for phone in phones
    ]


def states(conn: Connection) -> list[GatewayState]:
    rows = conn.execute(select(_table).order_by(_table.c.gateway_id))
    return [
        GatewayState(
            r.gateway_id, r.spool_full, r.spooled, r.full_since, r.reported_at, r.intake_stalled
        )
        for r in rows
    ]
