"""Releases and rollouts through the API and the command line, on the real broker: what is
refused and how it says why; what an offer holds and that only its own node's key verifies it;
the files served to the nodes and nothing else."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from sangsach.backend.app import create_app
from sangsach.backend.firmware import store
from sangsach.backend.firmware.signing import device_key, sign
from sangsach.config import DEV_ADMIN_TOKEN, DEV_FIRMWARE_KEY, BackendSettings
from sangsach.firmware_build import build
from sangsach.localbroker import LocalBroker
from tests.harness import ADMIN

ROOT = Path(__file__).parents[2]
LAMP, OTHER = "lamp-dong-ha-001", "lamp-dong-ha-002"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "firmware"
    build(ROOT / "firmware", out)
    return out


@pytest.fixture
def api(
    tmp_path: Path, broker: LocalBroker, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("SANGSACH_MQTT_PORT", str(broker.port))
    settings = BackendSettings(data_dir=tmp_path, firmware_url="http://192.168.1.10:8000")
    with TestClient(create_app(settings), headers=ADMIN) as client:
        yield client


def cli(tmp_path: Path, *args: str, port: int = 1) -> subprocess.CompletedProcess[str]:
    env = {"SANGSACH_DATA_DIR": str(tmp_path), "SANGSACH_MQTT_PORT": str(port),
           "SANGSACH_ADMIN_TOKEN": DEV_ADMIN_TOKEN, "PATH": "/usr/bin:/bin"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "sangsach", "firmware", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def retained(port: int, topic: str) -> dict[str, Any]:
    got: list[bytes] = []
    done = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)

    def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        got.append(bytes(msg.payload))
        done.set()

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(10), f"no retained message on {topic}"
    finally:
        client.loop_stop()
        client.disconnect()
    return json.loads(got[0])  # type: ignore[no-any-return]


def test_a_release_is_offered_signed_for_each_node_and_its_files_served(
    api: TestClient, broker: LocalBroker, bundle: Path, tmp_path: Path
) -> None:
    made = cli(tmp_path, "release", "--bundle", str(bundle), "--version", "1.1.0")
    assert made.returncode == 0, made.stderr
    assert "(release 1)" in made.stdout
    again = cli(tmp_path, "release", "--bundle", str(bundle), "--version", "1.1.0")
    assert again.returncode != 0 and "version 1.1.0 is already a release" in again.stderr
    bad = cli(tmp_path, "release", "--bundle", str(bundle), "--version", "../1")
    assert bad.returncode != 0 and "version '../1'" in bad.stderr

    releases = api.get("/api/v1/firmware/releases").json()
    assert [r["number"] for r in releases] == [1] and releases[0]["mpy"] == 6
    answer = api.post("/api/v1/firmware/rollouts", json={"number": 1, "devices": [LAMP, OTHER]})
    assert answer.status_code == 202, answer.text

    offer = retained(broker.port, f"sangsach/v1/{LAMP}/update")
    text = offer["release"]
    release = json.loads(text)
    assert release["url"] == "http://192.168.1.10:8000/ota/1/"
    assert offer["sig"] == sign(device_key(DEV_FIRMWARE_KEY, LAMP), text)
    assert offer["sig"] != sign(device_key(DEV_FIRMWARE_KEY, OTHER), text)  # its own key only
    other = retained(broker.port, f"sangsach/v1/{OTHER}/update")
    assert other["release"] == text and other["sig"] != offer["sig"]

    name, size, digest = release["files"][0]
    served = api.get(f"/ota/1/{name}", headers={"Authorization": ""})
    assert served.status_code == 200 and len(served.content) == size
    assert hashlib.sha256(served.content).hexdigest() == digest
    for path in (f"/ota/2/{name}", "/ota/1/nothing.mpy", "/ota/1/..%2Fsangsach.sqlite",
                 "/ota/1/settings.json", f"/ota/99999999999/{name}"):  # fmt: skip
        assert api.get(path).status_code in (404, 422), path

    rows = api.get("/api/v1/firmware/rollouts", params={"number": 1}).json()
    assert [(r["device_id"], r["state"], r["version"]) for r in rows] == [
        (LAMP, "offered", "1.1.0"), (OTHER, "offered", "1.1.0"),
    ]  # fmt: skip
    status = cli(tmp_path, "status", "1")
    assert status.returncode == 0 and "offered: 2" in status.stdout

    # The command line's rollout: every bin of a village, each with an offer under its own key.
    by_cli = cli(tmp_path, "rollout", "1", "--village", "dong-ha", "--kind", "bin",
                 port=broker.port)  # fmt: skip
    assert by_cli.returncode == 0, by_cli.stderr
    bins = [r["device_id"] for r in api.get("/api/v1/firmware/rollouts").json()
            if r["device_id"].startswith("bin-")]  # fmt: skip
    assert bins and all(b.startswith("bin-dong-ha-") for b in bins)
    assert f"(offered to {len(bins)})" in by_cli.stdout
    offer = retained(broker.port, f"sangsach/v1/{bins[0]}/update")
    assert offer["sig"] == sign(device_key(DEV_FIRMWARE_KEY, bins[0]), offer["release"])


def test_rollouts_that_cannot_be_are_refused_with_the_reason(
    api: TestClient, bundle: Path, tmp_path: Path
) -> None:
    assert cli(tmp_path, "release", "--bundle", str(bundle), "--version", "2.0").returncode == 0
    cases = [
        ({"number": 7, "devices": [LAMP]}, 404, "no release 7"),
        ({"number": 1, "devices": ["lamp-nowhere-1"]}, 422, "lamp-nowhere-1"),
        ({"number": 1}, 422, "choose the devices"),
        ({"number": 1, "village": "nowhere"}, 422, "no device of the registry"),
        ({"number": 1, "kind": "car", "all": True}, 422, "kind"),
        ({"number": 2**40, "all": True}, 422, "number"),
        ({"number": 1, "devices": "lamp-dong-ha-001"}, 422, "devices"),
    ]
    for body, code, says in cases:
        answer = api.post("/api/v1/firmware/rollouts", json=body)
        assert answer.status_code == code and says in answer.text, (body, answer.text)
    viewer = api.post("/api/v1/firmware/rollouts", json={"number": 1, "all": True},
                      headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert viewer.status_code == 401


def test_a_broker_that_is_down_is_a_503_and_no_rollout_is_recorded(
    api: TestClient, broker: LocalBroker, bundle: Path, tmp_path: Path
) -> None:
    assert cli(tmp_path, "release", "--bundle", str(bundle), "--version", "3.0").returncode == 0
    broker.stop()
    answer = api.post("/api/v1/firmware/rollouts", json={"number": 1, "devices": [LAMP]})
    assert answer.status_code == 503 and "broker" in answer.json()["detail"]
    assert api.get("/api/v1/firmware/rollouts").json() == []
    down = cli(tmp_path, "rollout", "1", "--device", LAMP, port=broker.port)
    assert down.returncode != 0 and "broker" in down.stderr


def test_a_bundle_that_does_not_match_its_manifest_is_refused(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tampered"
    shutil.copytree(bundle, copy)
    app = copy / "lib" / "app.mpy"
    app.write_bytes(app.read_bytes() + b"\x00")
    with pytest.raises(store.FirmwareError, match="does not match the bundle's manifest"):
        store.read_bundle(copy)
    with pytest.raises(store.FirmwareError, match="not a firmware bundle"):
        store.read_bundle(tmp_path)
