"""Settings: errors name the variable, production refuses dev secrets, the docs table is current."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner

from sangsach.cli import main
from sangsach.config import BackendSettings, DevicesSettings, GatewaySettings, SettingsError, load
from sangsach.configdoc import BEGIN, END, settings_table

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_docs_table_matches_the_settings_classes() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert table == settings_table(), "run `sangsach settings` and paste it into the docs"


def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGSACH_MQTT_PORT", "99999")
    monkeypatch.setenv("SANGSACH_BATCH_MAX", "many")
    with pytest.raises(SettingsError) as err:
        load(GatewaySettings)
    message = str(err.value)
    assert (
        "invalid setting SANGSACH_MQTT_PORT: Input should be less than or equal to 65535" in message
    )
    assert "invalid setting SANGSACH_BATCH_MAX: Input should be a valid integer" in message


def test_production_refuses_the_development_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGSACH_ENV", "production")
    with pytest.raises(SettingsError, match="SANGSACH_INGEST_TOKEN must be set"):
        load(BackendSettings)
    monkeypatch.setenv("SANGSACH_INGEST_TOKEN", "a-long-secret-of-our-own")
    with pytest.raises(SettingsError, match=r"SANGSACH_INGEST_TOKEN is too weak.*24 characters"):
        load(BackendSettings)
    ingest = secrets.token_hex(32)
    monkeypatch.setenv("SANGSACH_INGEST_TOKEN", ingest)
    with pytest.raises(SettingsError, match="SANGSACH_ADMIN_TOKEN must be set"):
        load(BackendSettings)
    monkeypatch.setenv("SANGSACH_ADMIN_TOKEN", secrets.token_urlsafe(32))
    with pytest.raises(SettingsError, match="SANGSACH_SMS_WEBHOOK_SECRET must be set"):
        load(BackendSettings)
    monkeypatch.setenv("SANGSACH_SMS_WEBHOOK_SECRET", "y")
    with pytest.raises(SettingsError, match="SANGSACH_SMS_WEBHOOK_SECRET is too weak"):
        load(BackendSettings)
    monkeypatch.setenv("SANGSACH_SMS_WEBHOOK_SECRET", secrets.token_urlsafe(32))
    with pytest.raises(SettingsError, match="SANGSACH_FIRMWARE_KEY must be set"):
        load(BackendSettings)
    monkeypatch.setenv("SANGSACH_FIRMWARE_KEY", "x" * 40)
    with pytest.raises(SettingsError, match="SANGSACH_FIRMWARE_KEY is too weak"):
        load(BackendSettings)
    monkeypatch.setenv("SANGSACH_FIRMWARE_KEY", secrets.token_hex(32))
    assert load(BackendSettings).ingest_token.get_secret_value() == ingest
    with pytest.raises(SettingsError, match="SANGSACH_FIRMWARE_KEY must be set"):
        monkeypatch.delenv("SANGSACH_FIRMWARE_KEY")
        load(DevicesSettings)


@pytest.mark.parametrize(
    ("variable", "weak"),
    [("SANGSACH_INGEST_TOKEN", "x"), ("SANGSACH_SMS_WEBHOOK_SECRET", "y"),
     ("SANGSACH_ADMIN_TOKEN", "a" * 16)],
)  # fmt: skip
def test_the_backend_command_refuses_to_start_on_a_weak_secret_in_production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, weak: str
) -> None:
    """The secrets found in use from outside (issue 18): the backend does not start on them."""
    monkeypatch.setenv("SANGSACH_ENV", "production")
    monkeypatch.setenv("SANGSACH_DATA_DIR", str(tmp_path))
    for name in ("SANGSACH_INGEST_TOKEN", "SANGSACH_ADMIN_TOKEN", "SANGSACH_SMS_WEBHOOK_SECRET",
                 "SANGSACH_FIRMWARE_KEY"):  # fmt: skip
        monkeypatch.setenv(name, secrets.token_hex(32))
    monkeypatch.setenv(variable, weak)

    def serve(*args: object, **kwargs: object) -> None:
        raise AssertionError("the backend started")  # fail at once rather than serve

    monkeypatch.setattr(uvicorn, "run", serve)
    refused = CliRunner().invoke(main, ["backend"])
    assert refused.exit_code == 2, refused.output
    assert f"invalid settings: {variable} is too weak for SANGSACH_ENV=production: it has " in (
        refused.output
    )
    assert "at least 32 random ones are needed" in refused.output
    assert list(tmp_path.iterdir()) == []  # refused before anything was opened


def test_unknown_choice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGSACH_TIMESERIES", "mongodb")
    with pytest.raises(
        SettingsError, match="SANGSACH_TIMESERIES: Input should be 'sqlite' or 'influxdb'"
    ):
        load(BackendSettings)
