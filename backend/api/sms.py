"""SMS: the outbox (what was or will be sent), and the webhook for replies from the carrier."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from .. import db
from ..notify import outbox
from ..notify.inbound import AlertActions, receive
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


class InboundResult(BaseModel):
    accepted: bool
    reason: str = Field(description="why it was not accepted, or what was done")
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
    result: str
    detail: str


async def require_webhook_secret(
    request: Request,
    services: ServicesDep,
    x_sangsach_webhook_secret: Annotated[str | None, Header()] = None,
    x_sangsach_signature: Annotated[
        str | None, Header(description="sha256=<hex HMAC-SHA256 of the body with the secret>")
    ] = None,
) -> None:
    """The carrier proves itself by the shared secret, or by an HMAC of the body made with it.
    Both are compared in constant time; an empty secret (development only) refuses every call."""
    expected = services.settings.sms_webhook_secret.get_secret_value().encode()
    if x_sangsach_signature is not None:
        mac = hmac.new(expected, await request.body(), hashlib.sha256).hexdigest()
        given = x_sangsach_signature.removeprefix("sha256=").strip().lower().encode()
        if expected and hmac.compare_digest(given, mac.encode()):
            return
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong X-Sangsach-Signature")
    given = (x_sangsach_webhook_secret or "").encode()
    if not expected or not hmac.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong X-Sangsach-Webhook-Secret (or X-Sangsach-Signature)",
        )


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
    """A reply from a phone: ``OK <code>`` acknowledges, ``XONG <code>`` marks done."""
    outcome = receive(
        services.engine,
        actions,
        sms.sender,
        sms.text,
        now=time.time(),
        office_phones=services.settings.sms_office_phones,
    )
    if outcome.result == "unknown_sender":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=outcome.detail)
    return InboundResult(
        accepted=outcome.accepted,
        reason=outcome.detail,
        action=outcome.action,
        code=outcome.code,
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
