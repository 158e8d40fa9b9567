"""docker-compose.yml as Compose itself reads it (Debian's `docker-compose config`, no engine).

Services, volumes and healthchecks are checked on the resolved file, and the configuration it
mounts is the very configuration the tests run: the Mosquitto files (tests/deploybroker.py
starts a real broker on them), the Grafana provisioning of tests/integration/test_dashboards.py
and the InfluxDB retention policies, applied here to a real influxd.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import yaml

from sangsach.backend.domain.readings import DailyScore, StoredReading
from sangsach.backend.timeseries.influx import ROLLUP_RP, InfluxStore
from sangsach.broker.accounts import BrokerAccounts
from sangsach.localbroker import POLICY_DIR, free_port
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.deploybroker import DEPLOY_CONF, MAKE_CERTS, DeployBroker
from tests.services import InfluxD
from tests.unit.test_dockerfile import PINNED_IMAGE

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
PROVISIONING = ROOT / "dashboards" / "provisioning"
RETENTION = ROOT / "deploy" / "influxdb" / "retention.iql"


def required_variables() -> list[str]:
    return sorted(set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text(encoding="utf-8"))))


def compose_config(tmp_path: Path, values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed (Debian: apt-get install docker-compose)")
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return subprocess.run(
        [binary, "-f", str(COMPOSE), "--env-file", str(env_file), "config"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def filled_env_example() -> dict[str, str]:
    """.env.example with every empty value filled in, as the installer is told to."""
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value or f"secret-{name.lower()}"
    return values


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = compose_config(tmp_path_factory.mktemp("compose"), filled_env_example())
    assert run.returncode == 0, run.stderr
    config: dict[str, Any] = yaml.safe_load(run.stdout)
    return config


def binds(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path (bind mounts) or volume name."""
    found = {}
    for volume in service["volumes"]:
        source, target = (volume.split(":")[:2]) if isinstance(volume, str) else (
            volume["source"], volume["target"])  # fmt: skip
        found[target] = source
    return found


def test_env_example_names_every_required_secret_and_an_empty_one_stops_compose(
    tmp_path: Path,
) -> None:
    values = filled_env_example()
    required = required_variables()
    assert len(required) >= 7
    assert set(required) <= set(values), "missing from .env.example"
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.split("=")[0] in required:
            assert line.endswith("="), f"{line}: .env.example must not ship a secret"
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text(encoding="utf-8")))
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert not [name for name in used if f"{name}=" not in example], "not in .env.example"
    for name in ("GRAFANA_ADMIN_PASSWORD", "SANGSACH_INFLUX_PASSWORD"):
        run = compose_config(tmp_path, {**values, name: ""})
        assert run.returncode != 0
        assert name in run.stderr


def test_services_volumes_and_healthchecks(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {
        "mosquitto", "influxdb", "grafana", "backend", "gateway", "simulators"}  # fmt: skip
    for name in ("mosquitto", "influxdb", "grafana", "backend", "gateway"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped", name
    assert services["simulators"]["profiles"] == ["simulators"]
    assert set(resolved["volumes"]) == {
        "mosquitto-data", "influxdb-data", "grafana-data", "backend-data", "gateway-data",
        "broker-auth"}  # fmt: skip
    for name in ("backend", "gateway", "simulators"):
        assert services[name]["environment"]["SANGSACH_ENV"] == "production", name
        assert binds(services[name])["/config/commune.yaml"] == str(SAMPLE_REGISTRY)
    assert binds(services["gateway"])["/data"] == "gateway-data"
    assert binds(services["backend"])["/data"] == "backend-data"
    assert binds(services["influxdb"])["/var/lib/influxdb"] == "influxdb-data"
    assert binds(services["grafana"])["/var/lib/grafana"] == "grafana-data"
    influx = services["influxdb"]["environment"]
    assert influx["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
    assert services["backend"]["environment"]["SANGSACH_INFLUX_PASSWORD"] == (
        influx["INFLUXDB_USER_PASSWORD"])  # fmt: skip
    assert services["backend"]["environment"]["SANGSACH_INFLUX_USERNAME"] == influx["INFLUXDB_USER"]


def test_every_pulled_image_is_an_exact_release_pinned_by_digest(
    resolved: dict[str, Any],
) -> None:
    """The Dockerfile's base is checked in tests/unit/test_dockerfile.py."""
    services = resolved["services"]
    pulled = {name: s["image"] for name, s in services.items() if "build" not in s}
    assert set(pulled) == {"mosquitto", "influxdb", "grafana"}
    for name, image in pulled.items():
        assert PINNED_IMAGE.fullmatch(image), f"{name}: {image}"
    # Our own image is built here from the Dockerfile, never pulled.
    assert {s["image"] for s in services.values() if "build" in s} == {"sangsach:latest"}


def test_mosquitto_mounts_the_files_the_tests_run(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    mounts = binds(services["mosquitto"])
    assert Path(mounts["/mosquitto/config/mosquitto.conf"]) == DEPLOY_CONF
    assert Path(mounts["/mosquitto/config/conf.d"]) == POLICY_DIR
    assert Path(mounts["/mosquitto/certs"]) == ROOT / "deploy" / "certs"
    assert mounts["/mosquitto/data"] == "mosquitto-data"
    # The accounts `sangsach devices` writes in the backend are the ones the broker reads.
    backend = services["backend"]
    auth_dir = backend["environment"]["SANGSACH_BROKER_AUTH_DIR"]
    assert binds(backend)[auth_dir] == mounts["/mosquitto/auth"] == "broker-auth"
    ports = {(p["published"], p["target"]) for p in services["mosquitto"]["ports"]}
    assert ports == {(1883, 1883), (8883, 8883), (8884, 8884)}  # 1884: the Docker network's


def test_mosquitto_healthcheck_tells_a_running_broker_from_none(tmp_path: Path) -> None:
    run = compose_config(tmp_path, filled_env_example())
    check = yaml.safe_load(run.stdout)["services"]["mosquitto"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL"
    accounts = BrokerAccounts(tmp_path / "auth", load_registry(SAMPLE_REGISTRY))
    accounts.sync()
    certs = tmp_path / "certs"
    subprocess.run([MAKE_CERTS, certs, "localhost"], check=True, capture_output=True)
    with DeployBroker(tmp_path / "mosquitto", accounts.folder, certs) as broker:
        command = check[1].replace("-p 1883", f"-p {broker.port}")
        assert subprocess.run(["sh", "-c", command], timeout=30).returncode == 0
    command = check[1].replace("-p 1883", f"-p {free_port()}")
    assert subprocess.run(["sh", "-c", command], timeout=30).returncode != 0


def test_grafana_mounts_the_provisioning_the_dashboard_tests_check(
    resolved: dict[str, Any],
) -> None:
    grafana = resolved["services"]["grafana"]
    mounts = binds(grafana)
    assert Path(mounts["/etc/grafana/provisioning"]) == PROVISIONING
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "sangsach.yaml").read_text("utf-8"))
    assert Path(mounts[provider["providers"][0]["options"]["path"]]) == ROOT / "dashboards" / "json"
    env = grafana["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == "secret-grafana_admin_password"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"  # the office screen is opt-in
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "dashboards" / "json" / Path(home).name).exists()
    [source] = yaml.safe_load((PROVISIONING / "datasources" / "influxdb.yaml").read_text("utf-8"))[
        "datasources"
    ]
    influx = resolved["services"]["influxdb"]["environment"]
    assert source["user"] == influx["INFLUXDB_READ_USER"]
    variable = source["secureJsonData"]["password"].lstrip("$")
    assert env[variable] == influx["INFLUXDB_READ_USER_PASSWORD"]
    assert source["url"] == "http://influxdb:8086"


def test_influxdb_retention_policies_keep_rollups_and_expire_raw_data(
    resolved: dict[str, Any], influxd: InfluxD
) -> None:
    mounts = binds(resolved["services"]["influxdb"])
    assert Path(mounts["/docker-entrypoint-initdb.d/retention.iql"]) == RETENTION
    db = f"deploy_{uuid4().hex[:12]}"
    influxd.query(f'CREATE DATABASE "{db}"', db)
    # The image runs the file's statements once, on a new volume, after creating the database.
    text = RETENTION.read_text(encoding="utf-8").replace('"sangsach"', f'"{db}"')
    assert influxd.query(text, db)["results"]
    with InfluxStore(influxd.url, db) as store:
        store.ensure_ready()  # finds the policies there: creates nothing
        store.write([StoredReading("lamp-1", "lamp", "thon-1", "l-1", 1, 0, 1_780_000_000, True,
                                   {"on": True})])  # fmt: skip
        store.write_daily_scores([DailyScore("thon-1", 1_780_000_000, {"sang_pct": 97.0})])
        assert [s.values["sang_pct"] for s in store.daily_scores()] == [97.0]
        assert store.count() == 1
    policies = influxd.query(f'SHOW RETENTION POLICIES ON "{db}"', db)
    rows = {r[0]: r for r in policies["results"][0]["series"][0]["values"]}  # type: ignore[index]
    assert rows["raw"][1] == "9600h0m0s" and rows["raw"][4] is True  # 400 days, the default
    assert rows[ROLLUP_RP][1] == "0s"  # kept forever
    counted = influxd.query(
        f'SELECT count("sang_pct") FROM "{ROLLUP_RP}"."score_daily"; '  # noqa: S608
        'SELECT count("seq") FROM "raw"."lamp"; SELECT count("seq") FROM "autogen"."lamp"',
        db,
    )["results"]
    assert [r.get("series", [{}])[0].get("values", [[0, 0]])[0][1] for r in counted] == [1, 1, 0]  # type: ignore[attr-defined]
    influxd.query(f'DROP DATABASE "{db}"', db)
