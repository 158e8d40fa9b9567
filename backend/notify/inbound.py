"""Replies by SMS: ``OK <code>`` acknowledges an alert, ``XONG <code>`` says it is done.

Only people in the registry may answer: a team member, a village head, or a commune office
number; and an alert only its own recipients (``NotRecipient``): the team of its village and
work, the head of its village, the commune office. Every inbound message is kept in ``sms_inbound`` with its sender, what it was read
as and what came of it, refused ones included.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from sqlalchemy import Engine, insert, select, update

from .. import db

log = logging.getLogger(__name__)

Action = Literal["ack", "done"]
Role = Literal["team", "head", "office"]
Result = Literal[
    "received",
    "accepted",
    "unknown_sender",
    "unparseable",
    "unknown_alert",
    "not_recipient",
    "report",  # a citizen's report (backend/citizens/): its ticket, or why none, in the detail
]

# A keyword, an optional separator, the code, then at most some end punctuation: "OK 123",
# "ok123", "Ok  123", "XONG: 123", "Xong 123.". Anything more is refused, since words after
# the code ("XONG 123 chưa xong") could say the opposite of the keyword.
_REPLY: Final = re.compile(r"(OK|XONG)\s*[:#.,-]?\s*([0-9]{1,6})[\s.!]*", re.IGNORECASE)
# "XONG P12": a gathering point of the day's work list (backend/worklists/), by its code.
_POINT: Final = re.compile(r"XONG\s*[:#.,-]?\s*([A-Z]{1,3}[0-9]{1,4})[\s.!]*", re.IGNORECASE)
_KEYWORD: Final = re.compile(r"(OK|XONG)\b", re.IGNORECASE)
_ACTIONS: Final[dict[str, Action]] = {"OK": "ack", "XONG": "done"}


class UnknownAlert(LookupError):
    """No open alert has this code."""


class NotRecipient(PermissionError):
    """The phone is in the registry but not among this alert's recipients."""


class AlertActions(Protocol):
    """What a reply does to an alert. Both return a short note for the log and the API.

    Both raise ``UnknownAlert`` for a code of no alert, and ``NotRecipient`` when the phone
    may not answer that alert. A carrier may deliver the same reply twice: both must be
    harmless when repeated.
    """

    def acknowledge(self, code: str, phone: str) -> str: ...

    def mark_done(self, code: str, phone: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Reply:
    action: Action
    code: str


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


@dataclass(frozen=True, slots=True)
class Sender:
    phone: str
    role: Role


@dataclass(frozen=True, slots=True)
class Outcome:
    id: int
    result: Result
    detail: str
    action: Action | None = None
    code: str | None = None

    @property
    def accepted(self) -> bool:
        return self.result == "accepted"


def parse_reply(text: str) -> Reply | Refused:
    stripped = text.strip()
    if not stripped:
        return Refused("empty message")
    match = _REPLY.fullmatch(stripped)
    if match:
        return Reply(_ACTIONS[match[1].upper()], match[2])
    point = _POINT.fullmatch(stripped)
    if point:
        return Reply("done", point[1].upper())
    if not _KEYWORD.match(stripped):
        return Refused("a reply starts with OK or XONG, then the code, e.g. OK 123")
    return Refused("expected OK or XONG followed by the code (1 to 6 digits) and nothing else")


def normalize_phone(raw: str) -> str:
    """``0912 000 107``, ``84912000107`` and ``+84912000107`` are one Vietnamese number."""
    digits = re.sub(r"[\s.()-]", "", raw)
    if digits.startswith("+"):
        return digits
    if digits.startswith("84"):
        return "+" + digits
    if digits.startswith("0"):
        return "+84" + digits[1:]
    return digits


def find_sender(engine: Engine, phone: str, office_phones: Collection[str]) -> Sender | None:
    with engine.connect() as conn:
        members = select(db.team_members.c.phone).where(db.team_members.c.phone == phone)
        if conn.execute(members.limit(1)).first():
            return Sender(phone, "team")
        heads = select(db.villages.c.head_phone).where(db.villages.c.head_phone == phone)
        if conn.execute(heads.limit(1)).first():
            return Sender(phone, "head")
    return Sender(phone, "office") if phone in office_phones else None


def receive(
    engine: Engine,
    actions: AlertActions,
    sender: str,
    text: str,
    *,
    now: float,
    office_phones: Collection[str] = (),
) -> Outcome:
    """Keep an inbound SMS, check its sender, read it and apply it to the alert."""
    phone = normalize_phone(sender)
    # Written before anything is decided: a crash below leaves the message as "received".
    with engine.begin() as conn:
        row = {
            "received_at": now,
            "sender": phone,
            "text": text,
            "result": "received",
            "detail": "",
        }
        query = insert(db.sms_inbound).values(row).returning(db.sms_inbound.c.id)
        inbound_id: int = conn.execute(query).scalar_one()
    known = find_sender(engine, phone, office_phones)
    if known is None:
        log.warning("SMS from unknown number %s refused: %r", phone, text)
        return _record(
            engine, Outcome(inbound_id, "unknown_sender", f"{phone} is not in the registry"), None
        )
    reply = parse_reply(text)
    if isinstance(reply, Refused):
        return _record(engine, Outcome(inbound_id, "unparseable", reply.reason), known.role)
    act = actions.acknowledge if reply.action == "ack" else actions.mark_done
    try:
        note = act(reply.code, phone)
    except UnknownAlert as err:
        outcome = Outcome(
            inbound_id,
            "unknown_alert",
            str(err) or f"no alert {reply.code}",
            reply.action,
            reply.code,
        )
    except NotRecipient as err:
        log.warning("SMS from %s refused, not a recipient of alert %s: %r", phone, reply.code, text)
        outcome = Outcome(inbound_id, "not_recipient", str(err), reply.action, reply.code)
    else:
        outcome = Outcome(inbound_id, "accepted", note, reply.action, reply.code)
    return _record(engine, outcome, known.role)


def _record(engine: Engine, outcome: Outcome, role: Role | None) -> Outcome:
    with engine.begin() as conn:
        conn.execute(
            update(db.sms_inbound)
            .where(db.sms_inbound.c.id == outcome.id)
            .values(
                role=role,
                action=outcome.action,
                code=outcome.code,
                result=outcome.result,
                detail=outcome.detail,
            )
        )
    return outcome
