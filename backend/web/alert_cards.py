"""What the alert pages show of an alert: its place, who was texted, who took it on and who
reported it done (names from the registry, the phone as detail), the replies by SMS with their
answers, and whether the device still reports the fault after "done". A few queries for a whole
list of alerts."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, func, select

from .. import db
from ..alerts.lifecycle import Alert, State
from ..notify.answers import KIND as ANSWER
from ..notify.templates import PROBLEMS
from .render import local_time

STATES: Final = {
    State.OPEN.value: "Chưa có người nhận",
    State.ACKED.value: "Đã có người nhận",
    State.CLEARED.value: "Đã hết",
}
SMS_KINDS: Final = {"reminder": "nhắc lại", "escalation": "báo lên", "digest": "tin gộp"}
SMS_STATUS: Final = {"pending": "chờ gửi", "sent": "đã gửi", "failed": "không gửi được"}
REPLY_RESULTS: Final = {
    "ack": "nhận việc",
    "done": "báo xong",
    "not_recipient": "không ghi nhận: số này không được giao cảnh báo này",
    "unknown_alert": "không ghi nhận: không có cảnh báo mã này",
    "unparseable": "không hiểu tin nhắn",
    "received": "đang xử lý",
}
_DIGEST_CODES: Final = re.compile(r":\s*([0-9][0-9 ]*)")  # "3 canh bao moi, ma: 4 5 6 +2."


@dataclass(frozen=True, slots=True)
class Who:
    """A person as the page shows them: the name from the registry, the role and phone after."""

    name: str
    detail: str


@dataclass(slots=True)
class Texted:
    who: Who
    messages: int
    last: str
    status: str
    kinds: str


@dataclass(slots=True)
class ReplyShown:
    who: Who
    text: str
    at: str
    result: str
    answer: str = ""
    answer_status: str = ""
    repeat: bool = False  # the same text again: answered once, before


@dataclass(slots=True)
class AlertShown:
    id: int
    type: str
    problem: str
    state: str
    state_text: str
    device_id: str
    village_id: str
    village: str
    place: str
    opened: str
    acked: Who | None = None
    acked_at: str = ""
    done: Who | None = None
    done_at: str = ""
    cleared_at: str = ""
    still_faulty_at: str = ""  # the device's reading after "done" that still holds the fault
    texted: list[Texted] = field(default_factory=list)
    replies: list[ReplyShown] = field(default_factory=list)


def cards(conn: Connection, services: Any, found: Sequence[Alert]) -> list[AlertShown]:
    """The alerts with their places, people, SMS and replies: a few queries for all of them."""
    if not found:
        return []
    people = directory(services)
    places = _places(services)
    villages = {v.id: v.name for v in services.commune.villages}
    ids = [a.id for a in found if a.id is not None]
    sent = _sms_of(conn, ids, min(a.raised_at for a in found))
    replies = _replies_of(conn, ids)
    latest = _latest_readings(conn, {a.device_id for a in found})
    shown = []
    for alert in found:
        assert alert.id is not None
        mine = sent.get(alert.id, [])
        item = AlertShown(
            id=alert.id, type=alert.type.value, problem=PROBLEMS[alert.type.value].capitalize(),
            state=alert.state.value, state_text=STATES[alert.state.value],
            device_id=alert.device_id, village_id=alert.village_id,
            village=villages.get(alert.village_id, alert.village_id),
            place=places.get(alert.device_id, ""), opened=local_time(alert.opened_at),
            texted=_texted(people, [m for m in mine if m.kind != ANSWER]),
            replies=_replies(people, replies.get(alert.id, []),
                             [m for m in mine if m.kind == ANSWER]),
        )  # fmt: skip
        if alert.acked_by:
            item.acked, item.acked_at = who(people, alert.acked_by), local_time(alert.acked_at)
        if alert.done_by:
            item.done, item.done_at = who(people, alert.done_by), local_time(alert.done_at)
            reading = latest.get(alert.device_id)
            after = alert.done_at is not None and reading is not None and reading > alert.done_at
            if alert.active and after:
                item.still_faulty_at = local_time(reading)
        if alert.cleared_at is not None:
            item.cleared_at = local_time(alert.cleared_at)
        shown.append(item)
    return shown


def directory(services: Any) -> dict[str, Who]:
    """Every phone of the registry with its person: team members, village heads, the office."""
    found = {phone: Who("Văn phòng UBND xã", _phone(phone))
             for phone in services.settings.sms_office_phones}  # fmt: skip
    for village in services.commune.villages:
        name = village.name
        role = f"Trưởng t{name[1:]}" if name.startswith("Thôn ") else f"Trưởng thôn {name}"
        found[village.head.phone] = Who(village.head.name, f"{role} · {_phone(village.head.phone)}")
    for team in services.commune.teams:
        for member in team.members:
            found[member.phone] = Who(member.name, f"{team.name} · {_phone(member.phone)}")
    return found


def who(people: dict[str, Who], by: str) -> Who:
    """A phone as its person; a name signed in on the pages as itself."""
    if by in people:
        return people[by]
    if by.startswith("+"):
        return Who(_phone(by), "không có trong sổ đăng ký")
    return Who(by, "trên trang web")


def _phone(e164: str) -> str:
    """A Vietnamese number as people write it: +84912000181 is 0912000181."""
    return "0" + e164[3:] if e164.startswith("+84") else e164


def _places(services: Any) -> dict[str, str]:
    found = {}
    for village in services.commune.villages:
        for lane in village.lanes:
            found.update(dict.fromkeys((lamp.id for lamp in lane.lamps), lane.name))
        for point in village.points:
            found.update(dict.fromkeys((bin_.id for bin_ in point.bins), point.name))
    return found


@dataclass(frozen=True, slots=True)
class _Sms:
    to: str
    kind: str
    body: str
    status: str
    created_at: float
    sent_at: float | None


def _sms_of(conn: Connection, ids: Iterable[int], since: float) -> dict[int, list[_Sms]]:
    """The SMS about each alert: its own (by ``alert_id``), and the digests that list its code
    (a digest is about several alerts, so it has none)."""
    wanted = {str(i): i for i in ids}
    table = db.sms_outbox
    columns = (table.c.alert_id, table.c.to, table.c.kind, table.c.body, table.c.status,
               table.c.created_at, table.c.sent_at)  # fmt: skip
    own = select(*columns).where(table.c.alert_id.in_(wanted))
    digests = select(*columns).where(table.c.kind == "digest", table.c.created_at >= since)
    found: dict[int, list[_Sms]] = defaultdict(list)
    for row in [*conn.execute(own), *conn.execute(digests)]:
        sms = _Sms(row.to, row.kind, row.body, row.status, row.created_at, row.sent_at)
        if row.alert_id is not None:
            found[wanted[row.alert_id]].append(sms)
            continue
        codes = _DIGEST_CODES.search(row.body)
        for code in codes[1].split() if codes else ():
            if code in wanted:
                found[wanted[code]].append(sms)
    return found


def _replies_of(conn: Connection, ids: Iterable[int]) -> dict[int, list[Any]]:
    """The SMS replies naming each alert's code (``0003`` names alert 3), oldest first."""
    wanted = {str(i): i for i in ids}
    table = db.sms_inbound
    code = func.ltrim(table.c.code, "0")
    query = select(table).where(code.in_(wanted)).order_by(table.c.received_at, table.c.id)
    found: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(query):
        found[wanted[row.code.lstrip("0")]].append(row)
    return found


def _latest_readings(conn: Connection, devices: set[str]) -> dict[str, float]:
    """When each device last sent a reading (its own clock: a reading taken after the crew
    said "done" still holds the fault when the alert is still open)."""
    state = db.device_state
    query = select(state.c.device_id, state.c.ts).where(state.c.device_id.in_(devices))
    return {row.device_id: float(row.ts) for row in conn.execute(query) if row.ts is not None}


def _texted(people: dict[str, Who], messages: list[_Sms]) -> list[Texted]:
    """One line per person texted: how many SMS, the latest and how it went."""
    per_phone: dict[str, list[_Sms]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: m.created_at):
        per_phone[message.to].append(message)
    lines = []
    for phone, mine in per_phone.items():
        last = mine[-1]
        kinds = sorted({SMS_KINDS.get(m.kind, "tin báo") for m in mine})
        lines.append(Texted(who(people, phone), len(mine),
                            local_time(last.sent_at or last.created_at),
                            SMS_STATUS.get(last.status, last.status), ", ".join(kinds)))  # fmt: skip
    return lines


def _replies(people: dict[str, Who], rows: list[Any], answers: list[_Sms]) -> list[ReplyShown]:
    """Each reply with the answer sent back: the answer to that phone made when it came. The
    same text again from the same phone (a carrier's repeat) was answered once, above."""
    answered = {(a.to, a.created_at): a for a in answers}
    seen: set[tuple[str, str]] = set()
    shown = []
    for row in rows:
        key = row.action if row.result == "accepted" else row.result
        item = ReplyShown(who(people, row.sender), row.text, local_time(row.received_at),
                          REPLY_RESULTS.get(key, row.result))  # fmt: skip
        answer = answered.get((row.sender, row.received_at))
        if answer is not None:
            item.answer, item.answer_status = answer.body, SMS_STATUS.get(answer.status, "")
            seen.add((row.sender, row.text))
        elif (row.sender, row.text) in seen:
            item.repeat = True
        shown.append(item)
    return shown
