"""Providers from the settings, and the HTTP provider's body: a template, JSON-escaped."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from pydantic import AnyHttpUrl, SecretStr

from sangsach.backend.notify.outbox import Sms
from sangsach.backend.notify.providers import HttpProvider, OutboxLogProvider, make_provider
from sangsach.config import BackendSettings, SettingsError, load

TEMPLATE = '{"to": "{to}", "text": "{body}", "ref": "{id}", "sender": "UBND"}'


def test_values_are_json_escaped_and_placeholders_in_the_text_left_alone() -> None:
    provider = HttpProvider("http://127.0.0.1:9/send", body_template=TEMPLATE)
    body = 'Den "so 1" \\ {id} (Ngo Chua)\nOK 12'
    message = Sms("alert:12:new", "+84912000181", body, "gsm7", "lamp_fault")
    sent = json.loads(provider.body(message))
    provider.close()
    assert sent == {"to": "+84912000181", "text": body, "ref": "alert:12:new", "sender": "UBND"}


def test_vietnamese_text_goes_out_as_utf8() -> None:
    provider = HttpProvider("http://127.0.0.1:9/send", body_template=TEMPLATE)
    message = Sms("k", "+84912000181", "Thùng rác đầy", "ucs2", "bin_full")
    assert "Thùng rác đầy" in provider.body(message)
    provider.close()


def test_a_body_template_that_is_not_json_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not JSON once filled in"):
        HttpProvider("http://127.0.0.1:9/send", body_template='{"to": {to}}')


def test_an_auth_header_without_a_name_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="must read 'Name: value'"):
        HttpProvider("http://127.0.0.1:9/send", body_template=TEMPLATE, auth_header="Bearer abc")


def test_the_settings_choose_the_provider(tmp_path: Path) -> None:
    assert isinstance(make_provider(BackendSettings(data_dir=tmp_path)), OutboxLogProvider)
    settings = BackendSettings(
        data_dir=tmp_path,
        sms_provider="http",
        sms_http_url=AnyHttpUrl("http://127.0.0.1:9/send"),
        sms_http_auth_header=SecretStr("X-Api-Key: k1"),
    )
    provider = make_provider(settings)
    assert isinstance(provider, HttpProvider)
    assert provider.headers["X-Api-Key"] == "k1"
    provider.close()


def test_the_http_provider_needs_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGSACH_SMS_PROVIDER", "http")
    with pytest.raises(SettingsError, match="SANGSACH_SMS_HTTP_URL must be set"):
        load(BackendSettings)


def test_production_refuses_the_development_webhook_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANGSACH_ENV", "production")
    monkeypatch.setenv("SANGSACH_INGEST_TOKEN", secrets.token_hex(32))
    monkeypatch.setenv("SANGSACH_ADMIN_TOKEN", secrets.token_urlsafe(32))
    monkeypatch.setenv("SANGSACH_FIRMWARE_KEY", secrets.token_hex(32))
    with pytest.raises(SettingsError, match="SANGSACH_SMS_WEBHOOK_SECRET must be set"):
        load(BackendSettings)
    webhook = secrets.token_urlsafe(32)
    monkeypatch.setenv("SANGSACH_SMS_WEBHOOK_SECRET", webhook)
    assert load(BackendSettings).sms_webhook_secret.get_secret_value() == webhook
