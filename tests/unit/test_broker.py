"""Broker accounts without a broker: the password format, the ACL, the snippet, the settings."""

from __future__ import annotations

import importlib.util
import json
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from sangsach.broker import acl, passwords
from sangsach.broker.accounts import AccountError, BrokerAccounts
from sangsach.broker.snippet import firmware_settings
from sangsach.config import BackendSettings, GatewaySettings, SettingsError, load
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry

ROOT = Path(__file__).parents[2]
LAMP = "lamp-dong-ha-001"


def test_hash_is_mosquitto_passwd_format_and_verifies_its_output(tmp_path: Path) -> None:
    encoded = passwords.hash_password("mật-khẩu", salt=b"0123456789ab")
    assert encoded.startswith("$7$101$MDEyMzQ1Njc4OWFi$") and len(encoded.split("$")[4]) == 88
    assert passwords.verify_password("mật-khẩu", encoded)
    assert not passwords.verify_password("mat-khau", encoded)
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.fail("mosquitto_passwd is missing (Debian: apt-get install mosquitto)")
    path = tmp_path / "passwd"
    subprocess.run([tool, "-H", "sha512-pbkdf2", "-c", "-b", path, "gw", "s3cret"], check=True)
    [theirs] = passwords.parse(path.read_text(encoding="utf-8")).values()
    assert passwords.verify_password("s3cret", theirs)
    assert not passwords.verify_password("s3cre", theirs)


def test_a_damaged_password_file_names_its_line() -> None:
    with pytest.raises(passwords.PasswordFileError, match=r"passwd:2: expected `user:\$7\$"):
        passwords.parse("a:$7$1$x$y\nno-colon-here\n", "passwd")
    with pytest.raises(passwords.PasswordFileError, match="passwd:2: user 'a' appears twice"):
        passwords.parse("a:$7$1$x$y\na:$7$1$x$y\n", "passwd")


def test_acl_gives_each_device_its_own_topics_only() -> None:
    text = acl.render(["gateway"], ["lamp-b", "lamp-a"])
    blocks = [block.splitlines() for block in text.split("\n\n")[1:]]
    assert blocks == [
        ["user gateway", "topic read sangsach/v1/+/telemetry", "topic read sangsach/v1/+/status"],
        ["user lamp-a", "topic write sangsach/v1/lamp-a/telemetry",
         "topic write sangsach/v1/lamp-a/status", "topic read sangsach/v1/lamp-a/config",
         "topic read sangsach/v1/lamp-a/cmd", "topic read sangsach/v1/lamp-a/update"],
        ["user lamp-b", "topic write sangsach/v1/lamp-b/telemetry",
         "topic write sangsach/v1/lamp-b/status", "topic read sangsach/v1/lamp-b/config",
         "topic read sangsach/v1/lamp-b/cmd", "topic read sangsach/v1/lamp-b/update"],
    ]  # fmt: skip


def test_accounts_follow_the_registry(tmp_path: Path) -> None:
    accounts = BrokerAccounts(tmp_path / "auth", load_registry(SAMPLE_REGISTRY))
    issued = accounts.add(LAMP)
    assert issued.device is not None and issued.device.kind == "lamp"
    with pytest.raises(AccountError, match=f"{LAMP} đã có tài khoản"):
        accounts.add(LAMP)
    with pytest.raises(AccountError, match=r"lamp-x-1 chưa có tài khoản \(has no account\)"):
        accounts.rotate("lamp-x-1")
    rotated = accounts.rotate(LAMP)
    assert rotated.password != issued.password
    assert passwords.verify_password(rotated.password, accounts.users()[LAMP])
    # A device dropped from the registry keeps its password line but loses its topics.
    small = BrokerAccounts(accounts.folder, load_registry(SAMPLE_REGISTRY).model_copy(
        update={"villages": load_registry(SAMPLE_REGISTRY).villages[1:]}))  # fmt: skip
    assert small.sync() == [LAMP]
    assert LAMP not in small.acl_path.read_text(encoding="utf-8")
    assert LAMP in small.users()
    assert not list(accounts.folder.glob(".*")), "a temporary file was left behind"


def test_snippet_is_accepted_by_the_firmware_settings_check() -> None:
    spec = importlib.util.spec_from_file_location("fw_settings", ROOT / "firmware/lib/settings.py")
    assert spec is not None and spec.loader is not None
    firmware = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(firmware)
    device = next(load_registry(SAMPLE_REGISTRY).devices())
    snippet = json.loads(firmware_settings(device, "pw", host="192.168.1.10", port=1883))
    assert set(snippet) <= set(firmware.DEFAULTS)
    with pytest.raises(firmware.SettingsError, match="wifi_ssid is empty"):
        firmware.check({**firmware.DEFAULTS, **snippet})
    firmware.check({**firmware.DEFAULTS, **snippet, "wifi_ssid": "xa"})


def test_production_refuses_missing_broker_and_influx_accounts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SANGSACH_ENV", "production")
    for name in ("INGEST_TOKEN", "SMS_WEBHOOK_SECRET", "ADMIN_TOKEN", "FIRMWARE_KEY"):
        monkeypatch.setenv(f"SANGSACH_{name}", secrets.token_hex(32))
    with pytest.raises(SettingsError, match="SANGSACH_MQTT_USERNAME and SANGSACH_MQTT_PASSWORD"):
        load(GatewaySettings)
    monkeypatch.setenv("SANGSACH_MQTT_USERNAME", "gateway")
    monkeypatch.setenv("SANGSACH_MQTT_PASSWORD", "")
    with pytest.raises(SettingsError, match="SANGSACH_MQTT_PASSWORD must be set"):
        load(GatewaySettings)
    monkeypatch.setenv("SANGSACH_MQTT_PASSWORD", "pw")
    monkeypatch.setenv("SANGSACH_MQTT_TLS_CA", str(tmp_path / "missing.crt"))
    with pytest.raises(SettingsError, match="SANGSACH_MQTT_TLS_CA: no file at"):
        load(GatewaySettings)
    monkeypatch.delenv("SANGSACH_MQTT_TLS_CA")
    assert load(GatewaySettings).mqtt_username == "gateway"

    monkeypatch.setenv("SANGSACH_TIMESERIES", "influxdb")
    with pytest.raises(SettingsError, match="SANGSACH_INFLUX_PASSWORD must be set"):
        load(BackendSettings)
    monkeypatch.setenv("SANGSACH_INFLUX_PASSWORD", "pw")
    assert load(BackendSettings).timeseries == "influxdb"


def test_services_and_devices_are_kept_in_two_password_files(tmp_path: Path) -> None:
    """The broker's devices' listeners read one, its services' listeners the other."""
    accounts = BrokerAccounts(tmp_path / "auth", load_registry(SAMPLE_REGISTRY))
    accounts.add(LAMP)
    accounts.add("gateway-gw-2")
    accounts.add("backend")
    devices = passwords.parse(accounts.password_path.read_text(encoding="utf-8"))
    services = passwords.parse(accounts.services_password_path.read_text(encoding="utf-8"))
    assert (list(devices), sorted(services)) == ([LAMP], ["backend", "gateway-gw-2"])
    assert "user gateway-gw-2\ntopic read sangsach/v1/+/telemetry\n" in (
        accounts.acl_path.read_text(encoding="utf-8")
    )
    with pytest.raises(AccountError, match=r"gateway-<id>, backend, gateway, simulators"):
        accounts.add("gateway-")
    # A folder from before, with one password file: sync moves the services to their own.
    accounts.services_password_path.unlink()
    old = {LAMP: devices[LAMP], "gateway": services["backend"]}
    accounts.password_path.write_text(passwords.render(old), encoding="utf-8")
    assert accounts.sync() == []
    assert list(passwords.parse(accounts.password_path.read_text(encoding="utf-8"))) == [LAMP]
    assert list(passwords.parse(accounts.services_password_path.read_text(encoding="utf-8"))) == [
        "gateway"
    ]
