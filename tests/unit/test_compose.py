"""docker-compose.yml runs the very configuration the tests run, and only known settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sangsach.config import ALL_SETTINGS
from sangsach.localbroker import POLICY_DIR

ROOT = Path(__file__).parents[2]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_mosquitto_mounts_the_policy_the_tests_use() -> None:
    volumes = compose()["services"]["mosquitto"]["volumes"]
    mounts = {
        v.split(":")[1]: (ROOT / v.split(":")[0]).resolve() for v in volumes if v.startswith("./")
    }
    assert mounts["/mosquitto/config/conf.d"] == POLICY_DIR.resolve()
    listener = mounts["/mosquitto/config/mosquitto.conf"].read_text(encoding="utf-8")
    assert "include_dir /mosquitto/config/conf.d" in listener
    assert "max_queued_messages 2000000" in (POLICY_DIR / "sangsach.conf").read_text(
        encoding="utf-8"
    )


def test_every_service_has_a_healthcheck_and_known_settings() -> None:
    services = compose()["services"]
    known = {f"SANGSACH_{name.upper()}" for cls in ALL_SETTINGS for name in cls.model_fields}
    for name in ("mosquitto", "influxdb", "backend", "gateway"):
        assert "healthcheck" in services[name], name
    for name, service in services.items():
        for variable in service.get("environment", {}):
            if variable.startswith("SANGSACH_"):
                assert variable in known, f"{name}: {variable} is not a setting"
    assert services["simulators"]["profiles"] == ["simulators"]
    assert "gateway-data:/data" in services["gateway"]["volumes"]
