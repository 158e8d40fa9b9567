"""The answer to an SMS reply: every reply from a known phone gets one short message back.

"XONG 3" is answered "Da ghi nhan XONG 3. Cam on.", a text that cannot be read with how to
write it, an unknown code or another's alert with what is wrong. Answers are always GSM-7
without diacritics (one segment of 160, whatever ``SANGSACH_SMS_ENCODING`` says: a basic phone
shows them all, and they name no place that needs the diacritics). A phone outside the
registry gets nothing: the outbox never texts a number nobody registered.

An answer's outbox id comes from the reply itself (the carrier's message id when it sends one,
else the phone, the text and the local day), so a carrier delivering the same reply twice gets
one answer. Answers keep to the rules of every other SMS: held through quiet hours, and none
when the phone already had its hourly share; an answer about a critical alert (fire) is held
by neither, like the alert's own SMS.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Connection, Engine, and_, func, or_, select

from sangsach.sun import VIETNAM

from .. import db
from . import outbox
from .inbound import Outcome, normalize_phone
from .text import to_gsm7

log = logging.getLogger(__name__)

KIND: Final = "answer"

# What each outcome is answered, written with diacritics (the source) and sent as GSM-7.
ANSWERS: Final[dict[str, str]] = {
    "ack": "Đã ghi nhận OK {code}. Khi xong, gửi XONG {code}.",
    "done": "Đã ghi nhận XONG {code}. Cảm ơn.",
    "unknown_alert": "Không có cảnh báo mã {code}. Xem lại mã trong tin đã nhận.",
    "not_recipient": "Cảnh báo {code} không giao cho số máy này nên chưa được ghi nhận.",
    "unparseable": "Không hiểu tin nhắn. Gửi: OK <mã> khi nhận việc, XONG <mã> khi xong.",
    # A keyword and a code with more around them ("Xong 3 roi"): how to send it alone.
    "unparseable_ack": "Không hiểu tin nhắn. Nếu nhận việc, chỉ gửi: OK {code}",
    "unparseable_done": "Không hiểu tin nhắn. Nếu đã xong, chỉ gửi: XONG {code}",
    # "XONG P12": a gathering point of the day's work list (backend/worklists/)
    "point_done": "Đã ghi nhận XONG điểm {code}. Cảm ơn.",
    "unknown_point": "Điểm {code} không có trong danh sách thu gom hôm nay của tổ.",
}

_LOOSE: Final = re.compile(r"\s*(OK|XONG)\b\W*([0-9]{1,6})\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """When an answer may leave: ``held_until(t)`` is the end of quiet hours (``t`` outside
    them), ``max_per_hour`` the SMS one phone gets in an hour, ``urgent(code)`` whether the
    alert of that code is critical (answered at once, like its own SMS)."""

    max_per_hour: int = 4
    held_until: Callable[[float], float] = lambda t: t
    urgent: Callable[[str], bool] = lambda code: False


def answer_text(outcome: Outcome, text: str) -> str | None:
    """The GSM-7 answer to a reply with this outcome; None for an unknown sender."""
    if outcome.result == "unknown_sender" or outcome.result == "received":
        return None
    point = outcome.code is not None and not outcome.code.isdigit()
    if point and outcome.result in ("accepted", "unknown_alert", "not_recipient"):
        source = ANSWERS["point_done" if outcome.result == "accepted" else "unknown_point"]
    elif outcome.result == "accepted":
        assert outcome.action is not None
        source = ANSWERS[outcome.action]
    elif outcome.result == "unparseable":
        loose = _LOOSE.match(text)
        if loose:
            action = "ack" if loose[1].upper() == "OK" else "done"
            return to_gsm7(ANSWERS[f"unparseable_{action}"].format(code=loose[2]))
        source = ANSWERS["unparseable"]
    else:
        source = ANSWERS[outcome.result]
    return to_gsm7(source.format(code=outcome.code))


def answer_id(phone: str, text: str, received_at: float, carrier_id: str | None) -> str:
    """The outbox id of the answer to one reply: the same reply delivered again, the same id.

    Without the carrier's message id, the phone, the text and the local day stand for it: the
    same text from the same phone is answered once a day."""
    if carrier_id:
        basis = f"carrier\n{carrier_id}"
    else:
        day = datetime.fromtimestamp(received_at, VIETNAM).date().isoformat()
        basis = f"{day}\n{text.strip()}"
    return f"{KIND}:{phone}:{hashlib.sha256(basis.encode()).hexdigest()[:20]}"


def queue_answer(
    conn: Connection,
    outcome: Outcome,
    phone: str,
    text: str,
    *,
    now: float,
    carrier_id: str | None,
    policy: AnswerPolicy,
) -> str | None:
    """Put the answer to a reply in the outbox, in the caller's transaction. Returns why no
    answer was queued (None when it was, or was already)."""
    body = answer_text(outcome, text)
    if body is None:
        return "no answer to a number outside the registry"
    key = answer_id(phone, text, now, carrier_id)
    if conn.execute(select(db.sms_outbox.c.id).where(db.sms_outbox.c.id == key)).first():
        return None  # a repeated delivery: answered already
    # the alert it names, when that exists: the alerts page shows the answer on it
    named = outcome.result in ("accepted", "not_recipient") and (outcome.code or "").isdigit()
    alert_id = str(int(outcome.code)) if named and outcome.code else None
    urgent = alert_id is not None and policy.urgent(alert_id)
    send_at = now if urgent else policy.held_until(now)
    if not urgent and _sms_in_hour(conn, phone, send_at) >= policy.max_per_hour:
        return f"no answer: {phone} has had {policy.max_per_hour} SMS in the hour"
    message = outbox.Sms(key, phone, body, "gsm7", KIND, alert_id)
    outbox.enqueue(conn, message, now, send_at=send_at)
    return None


def _sms_in_hour(conn: Connection, phone: str, send_at: float) -> int:
    """SMS to ``phone`` in the hour before ``send_at``: created in it, or held to leave in it."""
    table = db.sms_outbox
    since = send_at - 3600
    held = and_(table.c.status == "pending", table.c.next_attempt_at >= since)
    query = select(func.count()).where(table.c.to == phone, or_(table.c.created_at >= since, held))
    return int(conn.execute(query).scalar_one())


def answer(
    engine: Engine,
    outcome: Outcome,
    sender: str,
    text: str,
    *,
    now: float,
    carrier_id: str | None = None,
    policy: AnswerPolicy = AnswerPolicy(),
) -> str | None:
    """Answer a reply ``receive`` has kept, in a transaction of its own. ``now`` is the reply's
    ``received_at``: the alerts page pairs the two by it. Returns why it was not answered."""
    phone = normalize_phone(sender)
    with engine.begin() as conn:
        reason = queue_answer(
            conn, outcome, phone, text, now=now, carrier_id=carrier_id, policy=policy
        )
    if reason is not None:
        log.info("SMS %d from %s: %s", outcome.id, phone, reason)
    return reason


def answers_table() -> str:
    """The Markdown table of docs/sms.md: each answer, and its GSM-7 form with a 6-digit code."""
    lines = [
        "| answer | Vietnamese (source) | GSM-7 form sent | septets, 6-digit code |",
        "| --- | --- | --- | --- |",
    ]
    for name, source in ANSWERS.items():
        longest = to_gsm7(source.format(code="999999"))
        sent = longest.replace("999999", "{code}")
        lines.append(f"| `{name}` | `{source}` | `{sent}` | {len(longest)} |")
    return "\n".join(lines)
