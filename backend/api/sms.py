"""SMS: the outbox (what was or will be sent), and the webhook for replies from the carrier."""

from __future__ import annotations

import hmac
import json
import time
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert, select

from .. import db
from ..alerts.sms import answer_policy
from ..auth.failures import FailureLimiter
from ..auth.gate import client_address
from ..citizens.service import CitizenReports
from ..notify import outbox, webhook
from ..notify.answers import answer
from ..notify.inbound import (
    AlertActions,
    Refused,
    Result,
    find_sender,
    normalize_phone,
    parse_reply,
    receive,
)
from ..services import Services
from .deps import ConnDep, ServicesDep, operator

router = APIRouter(prefix="/api/v1/sms", tags=["sms"])


class SmsPublic(BaseModel):
    id: str = Field(description="idempotency key, also sent to the carrier")
    to: str
    body: str
    encoding: str
    kind: str
    alert_id: str | None
    status: outbox.Status
    attempts: int
    next_attempt_at: float
    created_at: float
    sent_at: float | None
    last_error: str | None
    provider_ref: str | None


class InboundSms(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sender: str = Field(alias="from", min_length=1, max_length=24, description="the phone")
    text: str = Field(max_length=2000)
    id: str | None = Field(
        default=None,
        max_length=64,
        description="the carrier's id of the message, when it gives one: a message delivered "
        "twice is answered once (without it: the same text from the same phone, once a day)",
    )


class InboundResult(BaseModel):
    accepted: bool
    reason: str = Field(
        description="why it was not accepted, or what was done (a citizen's report, action "
        "'report': 'ticket #12')"
    )
    action: str | None = None
    code: str | None = None


class InboundPublic(BaseModel):
    id: int
    received_at: float
    sender: str
    role: str | None
    text: str
    action: str | None
    code: str | None
    result: Result = Field(
        description="accepted; or why not: unknown_sender, unparseable, unknown_alert, "
        "not_recipient (a registered phone answering another's alert); received: undecided; "
        "report: a citizen's report (RAC, DEN, free text; the detail says its ticket or why none)"
    )
    detail: str


async def require_webhook_secret(
    request: Request,
    services: ServicesDep,
    x_sangsach_timestamp: Annotated[
        str | None, Header(description="unix seconds of the call, signed with the body")
    ] = None,
    x_sangsach_signature: Annotated[
        str | None,
        Header(
            description="sha256=<hex HMAC-SHA256, with the secret, of the timestamp, '.' and "
            "the body>"
        ),
    ] = None,
    x_sangsach_webhook_secret: Annotated[
        str | None, Header(description="the plain secret: development only")
    ] = None,
) -> None:
    """The carrier signs each call: an HMAC of its timestamp and body, recent and never seen
    before (backend/notify/webhook.py). The plain secret is taken in development only, for the
    tests and a hand-made call; an empty secret refuses every call. 401 names the reason."""
    settings = services.settings
    secret = settings.sms_webhook_secret.get_secret_value()
    try:
        if x_sangsach_timestamp is None and x_sangsach_signature is None:
            _check_plain_secret(secret, x_sangsach_webhook_secret, settings.env)
            return
        try:
            webhook.verify(
                secret,
                x_sangsach_timestamp,
                x_sangsach_signature,
                await request.body(),
                now=services.clock(),
                max_skew_s=settings.sms_webhook_max_skew_s,
                replays=services.webhook_replays,
            )
        except webhook.WebhookRefused as err:
            raise _refused(str(err)) from err
    except HTTPException as refused:
        if refused.status_code == status.HTTP_401_UNAUTHORIZED:  # counted against the address
            failures: FailureLimiter = request.app.state.auth_failures
            failures.failed(client_address(request.scope), "webhook")
        raise
    except webhook.ReplayCacheFull as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(err), headers={"Retry-After": "60"}
        ) from err


def _check_plain_secret(secret: str, given: str | None, env: str) -> None:
    if given is None:
        raise _refused(
            f"missing {webhook.TIMESTAMP_HEADER} and {webhook.SIGNATURE_HEADER}: "
            "sign every call (docs/api.md, the SMS webhook)"
        )
    if env == "production":
        raise _refused(
            f"{webhook.SECRET_HEADER} (the plain secret) is refused when SANGSACH_ENV=production: "
            f"sign every call with {webhook.TIMESTAMP_HEADER} and {webhook.SIGNATURE_HEADER}"
        )
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        raise _refused(f"wrong {webhook.SECRET_HEADER}")


def _refused(reason: str) -> HTTPException:
    """Every refusal of the webhook goes out here: 401 with the header and the reason."""
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=reason)


async def inbound_body(request: Request) -> InboundSms:
    """The carrier posts JSON or an HTML form (application/x-www-form-urlencoded)."""
    raw = await request.body()
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        if kind == "application/json":
            data: Any = json.loads(raw)
        elif kind == "application/x-www-form-urlencoded":
            form = parse_qs(raw.decode(), keep_blank_values=True)
            data = {name: values[0] for name, values in form.items()}
        else:
            raise HTTPException(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                detail="send JSON or application/x-www-form-urlencoded with 'from' and 'text'",
            )
        return InboundSms.model_validate(data)
    except (ValueError, ValidationError) as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(err)) from err


def get_alert_actions(services: ServicesDep) -> AlertActions:
    return services.alert_actions


_FORM_OR_JSON = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": InboundSms.model_json_schema(by_alias=True)}
            for media in ("application/json", "application/x-www-form-urlencoded")
        },
    }
}


@router.get("/outbox", dependencies=[Depends(operator)])
def list_outbox(
    conn: ConnDep,
    status: Annotated[outbox.Status | None, Query()] = None,
    to: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[SmsPublic]:
    """Newest first: pending messages with their attempts and last error, sent, failed."""
    entries = outbox.list_messages(conn, status=status, to=to, limit=limit)
    return [
        SmsPublic(
            id=e.sms.id,
            to=e.sms.to,
            body=e.sms.body,
            encoding=e.sms.encoding,
            kind=e.sms.kind,
            alert_id=e.sms.alert_id,
            status=e.status,
            attempts=e.attempts,
            next_attempt_at=e.next_attempt_at,
            created_at=e.created_at,
            sent_at=e.sent_at,
            last_error=e.last_error,
            provider_ref=e.provider_ref,
        )
        for e in entries
    ]


@router.post(
    "/inbound",
    dependencies=[Depends(require_webhook_secret)],
    openapi_extra=_FORM_OR_JSON,
    responses={403: {"description": "the sender is not in the registry"}},
)
def inbound(
    services: ServicesDep,
    sms: Annotated[InboundSms, Depends(inbound_body)],
    actions: Annotated[AlertActions, Depends(get_alert_actions)],
) -> InboundResult:
    """A reply from a phone: ``OK <code>`` acknowledges, ``XONG <code>`` marks done.

    Only the alert's recipients may answer it (its team, its village's head, the commune
    office); another registered phone gets ``accepted: false``, and the SMS is kept. Every
    reply from a known phone is answered by one SMS (backend/notify/answers.py); an unknown
    phone gets none.

    A citizen's report (``RAC <point>``, ``DEN <lamp>`` from any phone; any other text from a
    phone outside the registry) makes a ticket instead, acknowledged by SMS
    (backend/citizens/service.py)."""
    now = time.time()
    report = citizen_report(services, sms, now)
    if report is not None:
        return report
    outcome = receive(
        services.engine,
        actions,
        sms.sender,
        sms.text,
        now=now,
        office_phones=services.settings.sms_office_phones,
    )
    policy = answer_policy(services.alerts)
    unanswered = answer(
        services.engine, outcome, sms.sender, sms.text, now=now, carrier_id=sms.id, policy=policy
    )
    if unanswered is None:
        services.dispatcher.wake()  # the answer leaves now, not at the next poll
    if outcome.result == "unknown_sender":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=outcome.detail)
    return InboundResult(
        accepted=outcome.accepted,
        reason=outcome.detail,
        action=outcome.action,
        code=outcome.code,
    )


def citizens_for(services: Services, text: str) -> CitizenReports:
    """Whose report an SMS is: in a province, the first commune whose codes know the code it
    gives (codes should be unique across the province: docs/province.md); else the first."""
    views = services.views()
    for view in views if len(views) > 1 else ():
        assert view.citizens is not None
        read = view.citizens.reader.read(text)
        if read is not None and read.target is not None:
            return view.citizens
    assert services.citizens is not None  # bootstrap sets it
    return services.citizens


def citizen_report(services: ServicesDep, sms: InboundSms, now: float) -> InboundResult | None:
    """A citizen's report made into a ticket, kept in ``sms_inbound`` as ``report``; None for
    a crew's reply (a registered phone, or ``OK``/``XONG`` with a code from anyone)."""
    citizens = citizens_for(services, sms.text)
    phone = normalize_phone(sms.sender)
    if not citizens.wants(sms.text):
        known = find_sender(services.engine, phone, services.settings.sms_office_phones)
        if known is not None or not isinstance(parse_reply(sms.text), Refused):
            return None
    else:
        known = find_sender(services.engine, phone, services.settings.sms_office_phones)
    outcome = citizens.report_sms(sms.sender, sms.text, now=now)
    ticket = outcome.ticket
    detail = outcome.detail if ticket else f"{outcome.refused}: {outcome.detail}"
    with services.engine.begin() as conn:
        conn.execute(
            insert(db.sms_inbound).values(
                received_at=now, sender=phone, role=known.role if known else None,
                text=sms.text, action="report", code=ticket.code if ticket else None,
                result="report", detail=detail,
            )
        )  # fmt: skip
    return InboundResult(
        accepted=ticket is not None,
        reason=detail,
        action="report",
        code=ticket.code if ticket else None,
    )


@router.get("/inbound", dependencies=[Depends(operator)])
def list_inbound(
    conn: ConnDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[InboundPublic]:
    """Every SMS received, newest first, refused ones included."""
    table = db.sms_inbound
    rows = conn.execute(select(table).order_by(table.c.id.desc()).limit(limit))
    return [InboundPublic.model_validate(row._mapping) for row in rows]
