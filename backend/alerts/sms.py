"""Between the alert engine and the SMS outbox: templates rendered, replies understood."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection

from ..notify import outbox
from ..notify.answers import AnswerPolicy
from ..notify.inbound import NotRecipient, UnknownAlert
from ..notify.templates import render
from ..notify.text import Encoding
from .engine import AlertEngine, Sms


class SmsOutbox:
    """The engine's ``Outbox``: each message rendered in Vietnamese and queued durably."""

    def __init__(self, encoding: Encoding, clock: Callable[[], float]) -> None:
        self.encoding = encoding
        self.clock = clock

    def put(self, conn: Connection, messages: Sequence[Sms]) -> None:
        now = self.clock()
        for message in messages:
            body = render(message.kind, self.encoding, **message.fields)  # type: ignore[arg-type]
            alert_id = str(message.alert_id) if message.alert_id is not None else None
            queued = outbox.Sms(
                message.key, message.to, body, self.encoding, message.kind, alert_id
            )
            outbox.enqueue(conn, queued, now)

    def sent_since(self, conn: Connection, to: str, since: float) -> int:
        return outbox.sent_since(conn, to, since)


class SmsReplies:
    """What a reply by SMS does: ``OK <code>`` acknowledges, ``XONG <code>`` marks done."""

    def __init__(self, alerts: AlertEngine) -> None:
        self.alerts = alerts

    def acknowledge(self, code: str, phone: str) -> str:
        alert = self.alerts.acknowledge(self._answerable(code, phone), phone)
        return f"alert {alert.id} acknowledged by {phone}"

    def mark_done(self, code: str, phone: str) -> str:
        alert = self.alerts.mark_done(self._answerable(code, phone), phone)
        return f"alert {alert.id} marked done by {phone}"

    def _answerable(self, code: str, phone: str) -> int:
        """The alert's id, when ``phone`` is one of its recipients (AlertEngine.recipients)."""
        alert_id = _alert_id(code)
        if phone not in self.alerts.recipients(self.alerts.get(alert_id)):
            raise NotRecipient(
                f"{phone} is not a recipient of alert {code}: only its team, the head of its "
                "village and the commune office may answer it"
            )
        return alert_id


def _alert_id(code: str) -> int:
    if not code.isdigit():
        raise UnknownAlert(f"no alert {code!r}")
    return int(code)


def answer_policy(alerts: AlertEngine) -> AnswerPolicy:
    """Answers to replies keep the alerts' own rules: quiet hours, the hourly share per phone,
    and neither for a critical alert."""

    def urgent(code: str) -> bool:
        try:
            return alerts.get(_alert_id(code)).critical
        except UnknownAlert:
            return False

    policy = alerts.policy
    return AnswerPolicy(policy.max_sms_per_hour, policy.quiet_ends, urgent)
