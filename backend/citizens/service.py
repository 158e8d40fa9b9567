"""Citizens' reports become tickets, acknowledged by one SMS and closed with another
(docs/citizens.md).

Anyone may report: by SMS to the commune's number (``RAC P12``, ``DEN D15``, or free text with
a village's name) or on the public form (``/phan-anh``). A report that names a printed code or
a village becomes a ticket, linked to the device (for a point: the bin with an open alert, else
its first), the place, the village and that device's open alert. The sender gets one short
GSM-7 SMS with the ticket's number, and another when the office closes it.

Abuse is bounded: at most ``per_phone_day`` tickets per phone and local day; a text that makes
no ticket (an unknown code, words naming nothing, the day's share used) gets one help SMS per
phone and day, whatever it says and however often it comes, and the same text sent again
within ``REPEAT_S`` is the same ticket: an auto-responder answering our SMS, or a loop of two
machines, gets one reply a day, not one per message. A sender that is not a phone number (a
carrier's short code, a name) gets nothing. Every SMS goes through the outbox (kind
``citizen``), where the hourly share of every SMS counts it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from sangsach.registry_file import Commune
from sangsach.sun import VIETNAM

from ..alerts.tables import alerts
from ..notify import outbox
from ..notify.inbound import normalize_phone
from ..notify.text import fits_one_segment, to_gsm7
from .parse import KINDS, Kind, Read, Reader, Target, cut, plain
from .store import citizen_reports

log = logging.getLogger(__name__)

SMS_KIND: Final = "citizen"
PER_PHONE_DAY: Final = 5
REPEAT_S: Final = 600.0  # the same text from the same phone within this: the same ticket
# The start of our own SMS: a phone that sends one back (an auto-responder) is not answered.
OWN_SMS: Final = re.compile(
    r"(DA NHAN PHAN ANH [0-9]+ VE|PHAN ANH [0-9]+ VE|KHONG CO MA [A-Z0-9]+ MA IN TREN"
    r"|CHUA RO NOI CAN XU LY|SO MAY NAY DA GUI [0-9]+ PHAN ANH)\b"
)

# What the sender is told, written with diacritics and sent as GSM-7 (docs/citizens.md).
MESSAGES: Final[dict[str, str]] = {
    "ack": "Đã nhận phản ánh #{id} về {what}. Cảm ơn bạn. Xã sẽ nhắn lại khi xử lý xong.",
    "closed": "Phản ánh #{id} về {what} đã được xử lý. Cảm ơn bạn đã báo cho xã.",
    "unknown_code": "Không có mã {code}. Mã in trên thùng rác, cột đèn. Nhắn: RAC P12, "
    "DEN D15, hoặc ghi tên thôn và việc cần báo.",
    "unclear": "Chưa rõ nơi cần xử lý. Nhắn: RAC <mã điểm rác>, DEN <mã cột đèn>, "
    "hoặc ghi tên thôn và việc cần báo.",
    "limit": "Số máy này đã gửi {n} phản ánh hôm nay, đủ số xã nhận trong ngày. "
    "Mai bạn gửi tiếp, hoặc gọi văn phòng xã.",
}

Channel = Literal["sms", "web"]
Refusal = Literal["unknown_code", "unclear", "limit", "own_sms", "not_a_phone"]


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    created_at: float
    channel: Channel
    phone: str | None
    kind: Kind
    code: str | None
    device_id: str | None
    place_id: str | None
    village_id: str | None
    alert_id: str | None
    text: str
    status: Literal["open", "closed"]
    closed_at: float | None
    closed_by: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of a report: a ticket (new, or the same report again), or why none."""

    ticket: Ticket | None
    refused: Refusal | None = None
    detail: str = ""
    repeated: bool = False
    queued: bool = False  # an SMS went into the outbox


class TicketNotFound(LookupError):
    pass


class CitizenReports:
    def __init__(
        self,
        engine: Engine,
        commune: Commune,
        clock: Callable[[], float],
        *,
        per_phone_day: int = PER_PHONE_DAY,
        held_until: Callable[[float], float] = lambda t: t,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine = engine
        self.commune = commune
        self.clock = clock
        self.per_phone_day = per_phone_day
        self.held_until = held_until
        self.on_queued = on_queued
        self.reader = Reader(commune)
        self.villages = {v.id: v.name for v in commune.villages}

    # -- reading ---------------------------------------------------------------------------

    def wants(self, text: str) -> bool:
        """Whether a text from a registered phone is a citizen's report (``RAC``/``DEN``
        first) rather than a crew's reply."""
        words = plain(text)
        return words.startswith(("RAC", "DEN")) and self.reader.read(text) is not None

    def describe(self, ticket: Ticket) -> str:
        """What a ticket is about, in words: ``điểm P12, Thôn Đông Hạ``."""
        village = self.villages.get(ticket.village_id or "", "")
        if ticket.code:
            noun = "cột đèn" if ticket.kind == "den" else "điểm"
            return f"{noun} {ticket.code}, {village}" if village else f"{noun} {ticket.code}"
        return village or KINDS[ticket.kind].lower()

    # -- reports ---------------------------------------------------------------------------

    def report_sms(self, sender: str, text: str, *, now: float) -> Outcome:
        """A report by SMS: a ticket and its acknowledgement, or one help SMS a day."""
        phone = normalize_phone(sender)
        if not outbox.E164.fullmatch(phone):
            return Outcome(None, "not_a_phone", f"{sender!r} is not a phone number: no answer")
        if OWN_SMS.match(plain(text)):
            return Outcome(None, "own_sms", "the text of one of our own SMS: not answered")
        read = self.reader.read(text)
        return self._report(read, "sms", phone, None, text, now)

    def report_form(
        self,
        kind: Kind,
        code: str,
        village_id: str,
        text: str,
        phone: str | None,
        address: str,
        *,
        now: float,
    ) -> Outcome:
        """A report from the public form; the form has checked its fields already."""
        target: Target | None = None
        found_code: str | None = None
        if code:
            found_code, target = self.reader.code(kind, code)
        village = target.village_id if target else (village_id or self.reader.village_in(text))
        read = None
        if found_code is not None or village:
            read = Read(target.kind if target else kind, found_code, target, village)
        return self._report(read, "web", phone, address, text, now)

    def _report(
        self,
        read: Read | None,
        channel: Channel,
        phone: str | None,
        address: str | None,
        text: str,
        now: float,
    ) -> Outcome:
        kept = cut(text)
        with self.engine.begin() as conn:
            if phone is not None:
                same = self._repeat(conn, phone, kept, now)
                if same is not None:
                    return Outcome(same, repeated=True, detail=f"ticket #{same.id}")
            if read is None or read.unknown_code:
                refusal: Refusal = "unclear" if read is None else "unknown_code"
                code = read.code if read is not None else None
                queued = phone is not None and self._help(conn, phone, refusal, now, code=code)
                detail = f"no code {code}" if code else "names no code and no village"
                return Outcome(None, refusal, detail, queued=queued)
            if phone is not None:
                today = self._today_count(conn, phone, now)
                if today >= self.per_phone_day:
                    queued = self._help(conn, phone, "limit", now, n=str(today))
                    detail = (
                        f"{phone} has sent {today} reports today (at most {self.per_phone_day})"
                    )
                    return Outcome(None, "limit", detail, queued=queued)
            device_id, alert_id = self._device_and_alert(conn, read.target)
            row = {
                "created_at": now,
                "channel": channel,
                "phone": phone,
                "address": address,
                "kind": read.kind,
                "code": read.code,
                "device_id": device_id,
                "place_id": read.target.place_id if read.target else None,
                "village_id": read.village_id,
                "alert_id": alert_id,
                "text": kept,
                "status": "open",
            }
            ticket_id = conn.execute(
                insert(citizen_reports).values(row).returning(citizen_reports.c.id)
            ).scalar_one()
            ticket = _ticket({**row, "id": ticket_id, "closed_at": None, "closed_by": None,
                              "note": None})  # fmt: skip
            queued = phone is not None and self._send(
                conn, f"{SMS_KIND}:ack:{ticket.id}", phone, "ack", now, now,
                id=str(ticket.id), what=self.describe(ticket),
            )  # fmt: skip
        if queued:
            self.on_queued()
        log.info("citizen report #%d by %s: %s %s", ticket.id, channel, read.kind, read.code or "")
        return Outcome(ticket, detail=f"ticket #{ticket.id}", queued=queued)

    def _repeat(self, conn: Connection, phone: str, text: str, now: float) -> Ticket | None:
        query = (
            select(citizen_reports)
            .where(
                citizen_reports.c.phone == phone,
                citizen_reports.c.text == text,
                citizen_reports.c.created_at >= now - REPEAT_S,
            )
            .order_by(citizen_reports.c.id.desc())
            .limit(1)
        )
        row = conn.execute(query).first()
        return _ticket(row._mapping) if row else None

    def _today_count(self, conn: Connection, phone: str, now: float) -> int:
        start = _local_midnight(now)
        query = select(func.count()).where(
            citizen_reports.c.phone == phone, citizen_reports.c.created_at >= start
        )
        return int(conn.execute(query).scalar_one())

    def _device_and_alert(
        self, conn: Connection, target: Target | None
    ) -> tuple[str | None, str | None]:
        """The device a code names (a point's bin with an open alert, else its first) and that
        device's open alert, the oldest."""
        if target is None or not target.device_ids:
            return None, None
        query = (
            select(alerts.c.id, alerts.c.device_id)
            .where(and_(alerts.c.device_id.in_(target.device_ids), alerts.c.state != "cleared"))
            .order_by(alerts.c.raised_at, alerts.c.id)
            .limit(1)
        )
        row = conn.execute(query).first()
        if row is None:
            return target.device_ids[0], None
        return str(row.device_id), str(row.id)

    def _help(self, conn: Connection, phone: str, why: str, now: float, **fields: Any) -> bool:
        """One help SMS per phone and local day, whatever went wrong and however often."""
        day = datetime.fromtimestamp(now, VIETNAM).date().isoformat()
        return self._send(conn, f"{SMS_KIND}:help:{phone}:{day}", phone, why, now, now, **fields)

    def _send(
        self,
        conn: Connection,
        key: str,
        phone: str,
        message: str,
        now: float,
        send_at: float,
        **fields: Any,
    ) -> bool:
        body = sms_text(message, **fields)
        sms = outbox.Sms(key, phone, body, "gsm7", SMS_KIND)
        return outbox.enqueue(conn, sms, now, send_at=send_at)

    # -- the office ------------------------------------------------------------------------

    def get(self, ticket_id: int) -> Ticket:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(citizen_reports).where(citizen_reports.c.id == ticket_id)
            ).first()
        if row is None:
            raise TicketNotFound(f"không có phiếu phản ánh #{ticket_id}")
        return _ticket(row._mapping)

    def list(
        self,
        status: Literal["open", "closed"] | None = None,
        village_id: str | None = None,
        limit: int = 100,
    ) -> list[Ticket]:
        """Newest first."""
        query = select(citizen_reports).order_by(citizen_reports.c.id.desc()).limit(limit)
        if status:
            query = query.where(citizen_reports.c.status == status)
        if village_id:
            query = query.where(citizen_reports.c.village_id == village_id)
        with self.engine.connect() as conn:
            return [_ticket(row._mapping) for row in conn.execute(query)]

    def close(self, ticket_id: int, by: str, note: str = "") -> tuple[Ticket, bool]:
        """Close a ticket and text its sender; closing it again changes nothing. Returns the
        ticket and whether this call closed it."""
        now = self.clock()
        with self.engine.begin() as conn:
            done = conn.execute(
                update(citizen_reports)
                .where(citizen_reports.c.id == ticket_id, citizen_reports.c.status == "open")
                .values(status="closed", closed_at=now, closed_by=by[:64], note=cut(note) or None)
            ).rowcount
            row = conn.execute(
                select(citizen_reports).where(citizen_reports.c.id == ticket_id)
            ).first()
            if row is None:
                raise TicketNotFound(f"không có phiếu phản ánh #{ticket_id}")
            ticket = _ticket(row._mapping)
            queued = bool(done) and ticket.phone is not None
            if queued and ticket.phone is not None:
                self._send(
                    conn, f"{SMS_KIND}:closed:{ticket.id}", ticket.phone, "closed", now,
                    self.held_until(now), id=str(ticket.id), what=self.describe(ticket),
                )  # fmt: skip
        if queued:
            self.on_queued()
        return ticket, bool(done)

    def counts(self, start: float, end: float) -> dict[str, int]:
        """Reports per village made in ``[start, end)``: the participation in the reports."""
        return counts_by_village(self.engine, start, end)

    def open_count(self, village_id: str) -> int:
        query = select(func.count()).where(
            citizen_reports.c.village_id == village_id, citizen_reports.c.status == "open"
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def sms_text(message: str, **fields: str) -> str:
    """One SMS to a citizen, in GSM-7 and one segment: a long place is cut from the end."""
    text = to_gsm7(MESSAGES[message].format(**fields))
    what = fields.get("what", "")
    while not fits_one_segment(text, "gsm7") and len(what) > 8:
        what = what[: len(what) - 4].rstrip(" ,") + ".."
        text = to_gsm7(MESSAGES[message].format(**{**fields, "what": what}))
    if not fits_one_segment(text, "gsm7"):
        raise ValueError(f"citizen SMS {message!r} does not fit one GSM-7 segment: {text!r}")
    return text


def _local_midnight(now: float) -> float:
    local = datetime.fromtimestamp(now, VIETNAM)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - timedelta(0)).timestamp()


def _ticket(row: Any) -> Ticket:
    return Ticket(
        id=int(row["id"]),
        created_at=float(row["created_at"]),
        channel=row["channel"],
        phone=row["phone"],
        kind=row["kind"],
        code=row["code"],
        device_id=row["device_id"],
        place_id=row["place_id"],
        village_id=row["village_id"],
        alert_id=row["alert_id"],
        text=row["text"],
        status=row["status"],
        closed_at=row["closed_at"],
        closed_by=row["closed_by"],
        note=row["note"],
    )


def counts_by_village(engine: Engine, start: float, end: float) -> dict[str, int]:
    """Citizens' reports per village made in ``[start, end)``: the participation the reports
    count (a report naming no village is in the commune's total only, under ``""``)."""
    query = (
        select(citizen_reports.c.village_id, func.count())
        .where(citizen_reports.c.created_at >= start, citizen_reports.c.created_at < end)
        .group_by(citizen_reports.c.village_id)
    )
    with engine.connect() as conn:
        return {str(v or ""): int(n) for v, n in conn.execute(query)}
