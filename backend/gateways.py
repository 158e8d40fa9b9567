"""Gateway states: each gateway reports whether its spool's disk is full; the office is told.

On the change to full, one SMS goes to each commune office phone; on the change back, one
"resolved" SMS. The idempotency key names the gateway and the start of the episode, so a report
repeated after a crash or a retry queues nothing twice.

A gateway that flips between full and not full would text the office at every flip: at most
``per_window`` such SMS per gateway go out within ``window_s`` (``SmsLimit``). Further flips are
recorded, logged and shown by the state API (``held``); once the window allows, a heartbeat
sends what the office has not been told yet: the last SMS about a gateway always says its
state. What was told is read back from the outbox by the SMS's keys: no table of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy import Connection, select, update

from . import db
from .notify.outbox import Sms, enqueue, ids_since
from .notify.text import fits_one_segment, to_gsm7
from .sql import insert_for

log = logging.getLogger(__name__)

# The source texts, with diacritics; sent as GSM-7 "không dấu", one segment each.
SPOOL_FULL: Final = (
    "Trạm thu {gateway}: ổ đĩa hàng đợi sắp đầy, ngừng nhận dữ liệu mới; "
    "dữ liệu đã lưu vẫn an toàn. Cần giải phóng ổ đĩa, kiểm tra mạng."
)
SPOOL_OK: Final = "Trạm thu {gateway}: ổ đĩa hàng đợi đã có chỗ, nhận dữ liệu trở lại bình thường."

Kind = Literal["spool_full", "spool_ok"]
_TEMPLATES: Final[dict[Kind, str]] = {"spool_full": SPOOL_FULL, "spool_ok": SPOOL_OK}
_VIETNAMESE: Final[dict[Kind, str]] = {"spool_full": "ổ đĩa sắp đầy", "spool_ok": "đã có chỗ"}

_table = db.gateway_states


@dataclass(frozen=True, slots=True)
class GatewayState:
    gateway_id: str
    spool_full: str
    spooled: int
    full_since: float | None
    reported_at: float
    intake_stalled: str = ""


@dataclass(frozen=True, slots=True)
class SmsLimit:
    """Who is told of gateway states, and how often at most (per gateway and phone)."""

    office_phones: Sequence[str]
    per_window: int = 2
    window_s: float = 1800.0


@dataclass(frozen=True, slots=True)
class Held:
    """An SMS the office is owed but the limit holds back until ``until``."""

    kind: Kind
    until: float
    why: str


@dataclass(frozen=True, slots=True)
class Reported:
    queued: list[Sms]
    held: Held | None


@dataclass(frozen=True, slots=True)
class _Told:
    """One state SMS of a gateway in the outbox: its kind, its episode (ms) and when."""

    kind: Kind
    episode: str
    at: float

    def order(self) -> tuple[float, int, bool]:
        """Time, then episode, then an episode's "ok" after its "full"."""
        return (self.at, int(self.episode), self.kind == "spool_ok")


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
    limit: SmsLimit,
    intake_stalled: str = "",
) -> Reported:
    """Record a gateway's report; queue the office SMS it is owed, unless the limit holds it.

    A stalled intake is recorded and shown, not texted: the gateway's own supervision stops
    it when a thread dies, and its service manager restarts it.
    """
    row = conn.execute(select(_table).where(_table.c.gateway_id == gateway_id)).first()
    was_full = row is not None and bool(row.spool_full)
    since = row.full_since if row is not None else None
    if spool_full and not was_full:
        since = now
    elif not spool_full:
        since = None
    values = {
        "spool_full": spool_full,
        "spooled": spooled,
        "reported_at": now,
        "intake_stalled": intake_stalled,
        "full_since": since,
    }
    if row is None:
        conn.execute(insert_for(conn, _table).values(gateway_id=gateway_id, **values))
    else:
        conn.execute(update(_table).where(_table.c.gateway_id == gateway_id).values(values))
    owed, held = _owed(conn, gateway_id, since, now, limit)
    if held is not None and bool(spool_full) != was_full:
        log.warning("gateway %s: %s", gateway_id, held.why)
    queued = [sms for sms in owed if enqueue(conn, sms, now)]
    if queued and bool(spool_full) == was_full:
        log.info("gateway %s: the %s SMS held back is sent now", gateway_id, queued[0].kind)
    return Reported(queued, held)


def held(conn: Connection, state: GatewayState, now: float, limit: SmsLimit) -> Held | None:
    """The SMS about this gateway that the limit holds back now, if any."""
    return _owed(conn, state.gateway_id, state.full_since, now, limit)[1]


def _owed(
    conn: Connection, gateway_id: str, full_since: float | None, now: float, limit: SmsLimit
) -> tuple[list[Sms], Held | None]:
    """What the office has not been told about this gateway: its SMS, or why it must wait."""
    phones = limit.office_phones
    if not phones:
        return [], None
    prefix = f"gateway:{gateway_id}:"
    # the newest of the last rows (two SMS a phone: the same second may hold a full and its ok)
    latest = max(_told(ids_since(conn, prefix, phones, 0.0, limit=2 * len(phones)), prefix),
                 key=_Told.order, default=None)  # fmt: skip
    told_full = latest if latest is not None and latest.kind == "spool_full" else None
    kind: Kind
    if full_since is not None and told_full is None:
        kind, episode = "spool_full", f"{full_since * 1000:.0f}"
    elif full_since is None and told_full is not None:
        kind, episode = "spool_ok", told_full.episode  # resolves the episode the office knows
    else:
        return [], None
    recent: dict[tuple[Kind, str], float] = {}
    for told in _told(ids_since(conn, prefix, phones, now - limit.window_s), prefix):
        recent[told.kind, told.episode] = min(told.at, recent.get((told.kind, told.episode), now))
    if len(recent) >= limit.per_window:
        # the window frees a place when enough of its SMS are older than it
        until = sorted(recent.values())[len(recent) - limit.per_window] + limit.window_s
        why = (
            f"tin nhắn '{_VIETNAMESE[kind]}' chờ gửi: đã gửi {len(recent)} tin về trạm"
            f" này trong {limit.window_s / 60:g} phút ({kind} SMS held back: at most"
            f" {limit.per_window} per gateway in {limit.window_s:g} s,"
            " SANGSACH_GATEWAY_SMS_PER_WINDOW; sent when the window allows)"
        )
        return [], Held(kind, until, why)
    body = message(_TEMPLATES[kind], gateway_id)
    return [
        Sms(f"{prefix}{kind}:{episode}:{phone}", phone, body, "gsm7", kind) for phone in phones
    ], None


def _told(rows: list[tuple[str, float]], prefix: str) -> list[_Told]:
    """The outbox rows of one gateway's state SMS, read back from their ids (``prefix`` is
    checked again: SQL's LIKE may ignore case)."""
    found = []
    for key, at in rows:
        if not key.startswith(prefix):
            continue
        kind, episode, _phone = key.removeprefix(prefix).split(":", 2)
        if kind in _TEMPLATES:
            found.append(_Told(kind, episode, at))
    return found


def states(conn: Connection) -> list[GatewayState]:
    rows = conn.execute(select(_table).order_by(_table.c.gateway_id))
    return [
        GatewayState(
            r.gateway_id, r.spool_full, r.spooled, r.full_since, r.reported_at, r.intake_stalled
        )
        for r in rows
    ]
