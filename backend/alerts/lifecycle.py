"""An alert's life: opened, reminded, escalated, acknowledged, cleared. Pure: data and a clock.

One active alert per device and type. An alert opens when its condition holds and clears when
it stops holding (never while the device's data is unknown). While nobody acknowledges it, the
people responsible are reminded, and after a while the village head and then the commune office
are told. Outside a critical alert, nothing is sent in quiet hours: it waits for the morning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from .model import CRITICAL, AlertType, Policy
from .rules import Conditions


class State(StrEnum):
    OPEN = "active_unacknowledged"
    ACKED = "active_acknowledged"
    CLEARED = "cleared"


class Level(IntEnum):
    TEAM = 0
    HEAD = 1  # trưởng thôn
    OFFICE = 2  # văn phòng UBND xã


# A waste point overflowing or left full past the SLA is the village head's business at once.
STARTS_AT_HEAD = frozenset({AlertType.BIN_OVERFLOW, AlertType.BIN_OVERDUE, AlertType.FIRE})


@dataclass(slots=True)
class Alert:
    device_id: str
    type: AlertType
    village_id: str
    opened_at: float  # data time: when the condition was first seen to hold
    state: State = State.OPEN
    raised_at: float = 0.0  # clock time when it was opened; reminders and escalation count from it
    id: int | None = None
    level: Level = Level.TEAM
    acked_at: float | None = None
    acked_by: str | None = None
    done_at: float | None = None
    done_by: str | None = None
    cleared_at: float | None = None
    collected_at: float | None = None
    notified_at: float | None = None
    notified_level: Level | None = None
    next_notice_at: float | None = None
    reminders: int = 0
    assigned_to: str | None = None

    @property
    def active(self) -> bool:
        return self.state is not State.CLEARED

    @property
    def critical(self) -> bool:
        return self.type in CRITICAL


class NoticeKind(StrEnum):
    NEW = "new"
    REMINDER = "reminder"
    ESCALATION = "escalation"


@dataclass(frozen=True, slots=True)
class Notice:
    """Somebody must be told about an alert: who (a level) and why."""

    alert: Alert
    kind: NoticeKind
    levels: tuple[Level, ...]


@dataclass(slots=True)
class Changes:
    opened: list[Alert] = field(default_factory=list)
    cleared: list[Alert] = field(default_factory=list)


def apply_conditions(
    active: dict[AlertType, Alert],
    device_id: str,
    village_id: str,
    found: Conditions,
    now: float,
    clock: float | None = None,
) -> Changes:
    """Open alerts for conditions that hold, clear those whose condition is known to be gone.

    ``now`` is the time of the data judged; ``clock`` (default: ``now``) the time of judging.
    They differ when a node's buffer is replayed after an outage. An alert clears at the data's
    time, an offline alert at the time of judging, and never before it was opened.
    """
    changes = Changes()
    raised = now if clock is None else clock
    for type_ in found.holding - set(active):
        alert = Alert(
            device_id, type_, village_id, opened_at=now, raised_at=raised, next_notice_at=raised
        )
        alert.level = Level.HEAD if type_ in STARTS_AT_HEAD else Level.TEAM
        active[type_] = alert
        changes.opened.append(alert)
    for type_, alert in list(active.items()):
        if type_ not in found.holding and type_ not in found.unknown:
            # A node that is heard again is back at the time of judging, as the tick opened its
            # offline alert then: the first reading of a replayed buffer is older than the
            # alert. And no alert ends before it began (a late reading judged out of order).
            ended = raised if type_ is AlertType.DEVICE_OFFLINE else now
            clear(alert, max(ended, alert.opened_at))
            del active[type_]
            changes.cleared.append(alert)
    return changes


def clear(alert: Alert, now: float) -> None:
    alert.state = State.CLEARED
    alert.cleared_at = now
    alert.next_notice_at = None


def acknowledge(alert: Alert, by: str, now: float) -> None:
    """Somebody took it on: no more reminders or escalation; it clears when fixed."""
    if alert.state is State.OPEN:
        alert.state = State.ACKED
        alert.acked_at = now
        alert.acked_by = by
        alert.next_notice_at = None


def mark_done(alert: Alert, by: str, now: float) -> None:
    """The team says it is fixed; the alert still clears only when the device agrees."""
    acknowledge(alert, by, now)
    alert.done_at = alert.done_at or now
    alert.done_by = alert.done_by or by


def due_notices(alert: Alert, now: float, policy: Policy) -> list[Notice]:
    """What must be sent about an active alert at ``now``; updates its schedule."""
    if alert.state is not State.OPEN or alert.next_notice_at is None:
        return []
    escalated = _escalate(alert, now, policy)
    if now < alert.next_notice_at and not escalated:
        return []
    if not alert.critical and policy.is_quiet(now):
        alert.next_notice_at = policy.quiet_ends(now)  # held, and sent in the morning
        return []
    if alert.notified_at is None:
        notice = Notice(alert, NoticeKind.NEW, tuple(Level(n) for n in range(alert.level + 1)))
    elif alert.notified_level is not None and alert.level > alert.notified_level:
        notice = Notice(alert, NoticeKind.ESCALATION, (alert.level,))
    else:
        alert.reminders += 1
        notice = Notice(alert, NoticeKind.REMINDER, (alert.level,))
    alert.notified_at = now
    alert.notified_level = alert.level
    alert.next_notice_at = now + policy.reminder_s
    return [notice]


def _escalate(alert: Alert, now: float, policy: Policy) -> bool:
    age = now - alert.raised_at
    target = alert.level
    if age >= policy.escalate_to_office_s:
        target = Level.OFFICE
    elif age >= policy.escalate_to_head_s:
        target = max(alert.level, Level.HEAD)
    if target > alert.level:
        alert.level = Level(target)
        return True
    return False
