"""SMS providers: where a message leaves the system.

A provider sends one message and returns the carrier's reference, or raises
ProviderUnavailable (try again later: nothing was refused) or ProviderRejected (the carrier
refused this message for good; it stays ``failed`` in the outbox with the reason).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Protocol

import httpx

from sangsach.config import BackendSettings

from .outbox import Sms

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{(to|body|id)\}")


class ProviderUnavailable(Exception):
    """The carrier could not be reached or asked us to come back later."""


class ProviderRejected(Exception):
    """The carrier refused the message; sending it again would not help."""


class Provider(Protocol):
    def send(self, message: Sms) -> str: ...


class OutboxLogProvider:
    """Development default: logs the message; the outbox API shows what would have gone out."""

    def send(self, message: Sms) -> str:
        log.info("SMS to %s (%s): %s", message.to, message.encoding, message.body)
        return f"log:{message.id}"


class HttpProvider:
    """A generic HTTP SMS gateway: one request per message, its body from a JSON template.

    ``body_template`` is JSON with ``{to}``, ``{body}`` and ``{id}`` inside string values;
    each is replaced by the JSON-escaped value. The ``Idempotency-Key`` header carries the
    message id, so a carrier can drop a repeat sent after a crash between its answer and our
    record of it. 2xx is sent; 429, 5xx and network errors are unavailable; any other status
    is a rejection.
    """

    def __init__(
        self,
        url: str,
        *,
        body_template: str,
        method: str = "POST",
        auth_header: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.method = method
        self.body_template = body_template
        self.headers = {"Content-Type": "application/json"}
        if auth_header:
            name, colon, value = auth_header.partition(":")
            if not colon or not name.strip():
                raise ValueError("the SMS auth header must read 'Name: value'")
            self.headers[name.strip()] = value.strip()
        try:
            json.loads(self.body(Sms("id", "+84900000000", "text", "gsm7", "test")))
        except json.JSONDecodeError as err:
            raise ValueError(f"the SMS body template is not JSON once filled in: {err}") from err
        self.client = httpx.Client(timeout=timeout)

    def body(self, message: Sms) -> str:
        values = {"to": message.to, "body": message.body, "id": message.id}
        # One pass, so that a "{id}" inside the text of a message is left alone.
        return _PLACEHOLDER.sub(
            lambda match: json.dumps(values[match[1]], ensure_ascii=False)[1:-1],
            self.body_template,
        )

    def send(self, message: Sms) -> str:
        headers = {**self.headers, "Idempotency-Key": message.id}
        try:
            response = self.client.request(
                self.method, self.url, content=self.body(message).encode(), headers=headers
            )
        except httpx.TransportError as err:
            raise ProviderUnavailable(f"{type(err).__name__}: {err}") from err
        answer = f"HTTP {response.status_code}: {response.text[:200]}".rstrip(": ")
        if response.is_success:
            return answer[:128]
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderUnavailable(answer)
        raise ProviderRejected(answer)

    def close(self) -> None:
        self.client.close()


def make_provider(settings: BackendSettings) -> Provider:
    """The provider the settings choose; raises ValueError on an unusable HTTP set-up."""
    if settings.sms_provider == "outbox":
        return OutboxLogProvider()
    if settings.sms_http_url is None:
        raise ValueError("SANGSACH_SMS_HTTP_URL must be set when SANGSACH_SMS_PROVIDER=http")
    auth = settings.sms_http_auth_header
    return HttpProvider(
        str(settings.sms_http_url),
        method=settings.sms_http_method,
        auth_header=auth.get_secret_value() if auth else None,
        body_template=settings.sms_http_body_template,
        timeout=settings.sms_http_timeout_s,
    )
