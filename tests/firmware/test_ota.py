"""Updates over the air, end to end: the real backend makes a release of a compiled bundle and
offers it (a signed, retained ``.../update``), a lamp node running an installed bundle under the
MicroPython Unix port downloads it from the backend, checks it, swaps it in at a restart and
confirms it; the backend records what the node reported. And what must not take: a download
that does not match its release, an offer with a wrong signature, a release that cannot start
(rolled back), and the power cut in the middle of it all.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sangsach.backend.firmware.signing import device_key, sign
from sangsach.config import DEV_FIRMWARE_KEY
from sangsach.firmware_build import build
from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import ROOT, Device, Watcher, node_settings
from tests.harness import Stack, wait_until

MARK = 'print("firmware: build B")\n'  # the update's one difference: it says it runs


def bundle_of(tmp_path: Path, name: str, edit: Callable[[Path], None] | None = None) -> Path:
    """Build the firmware (a copy, changed by ``edit``) into a bundle folder."""
    source = tmp_path / f"src-{name}"
    shutil.copytree(ROOT / "firmware", source)
    if edit is not None:
        edit(source / "lib")
    out = tmp_path / f"bundle-{name}"
    build(source, out)
    return out


def marked(lib: Path) -> None:
    app = lib / "app.py"
    app.write_text(app.read_text(encoding="utf-8") + MARK, encoding="utf-8")


def broken(lib: Path) -> None:
    app = lib / "app.py"
    app.write_text('raise RuntimeError("this release cannot start")\n' + app.read_text())


def install(device: Device, bundle: Path) -> None:
    """As mpremote copies a bundle onto a node's flash."""
    for path in bundle.rglob("*"):
        if path.is_file() and path.name != "manifest.json":
            target = device.flash / path.relative_to(bundle)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def release(stack: Stack, bundle: Path, version: str) -> int:
    answer = subprocess.run(
        [sys.executable, "-m", "sangsach", "firmware", "release", "--bundle", str(bundle),
         "--version", version],
        env=stack.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    return int(answer.stdout.split("(release ")[1].split(")")[0])


def rollout(stack: Stack, number: int, device_id: str) -> None:
    answer = stack.http.post(
        "/api/v1/firmware/rollouts", json={"number": number, "devices": [device_id]}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"number": number, "devices": [device_id]}


def rollout_state(stack: Stack, device_id: str) -> dict[str, Any]:
    rows = stack.http.get("/api/v1/firmware/rollouts").raise_for_status().json()
    return next(r for r in rows if r["device_id"] == device_id)


def wait_state(stack: Stack, node: Device, device_id: str, state: str, timeout: float = 60) -> None:
    wait_until(
        lambda: rollout_state(stack, device_id)["state"] == state, timeout,
        f"the rollout of {device_id} {state}; node output:\n{node.output(80)}",
    )  # fmt: skip


def wait_output(node: Device, text: str, what: str, timeout: float = 30) -> None:
    try:
        wait_until(lambda: text in "\n".join(node.lines), timeout, what)
    except AssertionError as err:
        raise AssertionError(f"{err}; node output:\n{node.output(80)}") from None


def ota_state(node: Device) -> dict[str, Any]:
    return json.loads((node.flash / "ota.json").read_text())  # type: ignore[no-any-return]


def lamp(devices: Callable[..., Device], device_id: str, port: int, bundle: Path) -> Device:
    key = device_key(DEV_FIRMWARE_KEY, device_id).hex()
    node = devices(node_settings(device_id, "lamp", port, tick_ms=200, ota_key=key), lux=3.0)
    install(node, bundle)
    return node


def power_cut(node: Device) -> None:
    """The node loses power: no goodbye, no flush, whatever it was writing stays as it was."""
    assert node._process is not None
    node._process.send_signal(signal.SIGKILL)
    node._process.wait(10)


@pytest.fixture
def bundles(tmp_path: Path) -> dict[str, Path]:
    return {
        "factory": bundle_of(tmp_path, "factory"),
        "b": bundle_of(tmp_path, "b", marked),
        "broken": bundle_of(tmp_path, "broken", broken),
    }


def test_an_update_survives_power_cuts_and_is_confirmed(
    broker: LocalBroker, stack: Stack, watcher: Watcher, devices: Callable[..., Device],
    bundles: dict[str, Path],
) -> None:  # fmt: skip
    device_id = "lamp-dong-ha-007"
    node = lamp(devices, device_id, broker.port, bundles["factory"])
    # What a power cut in an earlier swap would have left: half a state file beside the real
    # one (written aside, never renamed) and half a release folder.
    (node.flash / "ota.json.tmp").write_text('{"trial": {"number": 9, "ver')
    (node.flash / "releases" / "9").mkdir(parents=True)
    (node.flash / "releases" / "9" / "app.mpy").write_bytes(b"M\x06\x00")
    node.start(mode="flash")
    wait_until(lambda: bool(watcher.births(device_id)), 30, f"the birth; {node.output()}")
    assert watcher.births(device_id)[0]["fw"] == "1.0.0"

    number = release(stack, bundles["b"], "1.1.0")
    rollout(stack, number, device_id)
    wait_output(node, "ota: fetching release", "the download's start")
    power_cut(node)  # in the middle of the download
    assert "ota: release 1 staged" not in node.output(400)
    node.start(mode="flash")  # power back: the factory bundle, and the retained offer again

    wait_state(stack, node, device_id, "confirmed")
    out = "\n".join(node.lines)
    assert "firmware: build B" in out  # the new code runs
    assert out.count("ota: release 1 staged") == 1 and "loader: update 1 on trial" in out
    state = ota_state(node)
    assert state["active"] == {"number": 1, "version": "1.1.0", "dir": "releases/1"}
    assert state["trial"] is None and state["last"]["state"] == "confirmed"
    assert sorted(os.listdir(node.flash / "releases")) == ["1"]  # the half folder went with confirm
    wait_until(
        lambda: any(b.get("fw") == "1.1.0" and b.get("update", {}).get("state") == "confirmed"
                    for b in watcher.births(device_id)), 30, "the status after the update",
    )  # fmt: skip
    device = stack.http.get("/api/v1/firmware/rollouts").json()
    assert [(r["device_id"], r["version"], r["fw"]) for r in device] == [
        (device_id, "1.1.0", "1.1.0")
    ]

    page = stack.http.get(f"/thiet-bi/{device_id}")
    assert page.status_code == 200 and "Đã cập nhật lên bản 1.1.0" in page.text

    # The power cut right after the swap: the trial is already counted, so the node comes back
    # on the new release; a retained offer of the same release changes nothing.
    power_cut(node)
    node.start(mode="flash")
    wait_until(lambda: node.output().count("mqtt: connected") >= 1, 30, "the reconnect")
    assert ota_state(node)["active"]["number"] == 1
    node.stop()


def test_what_must_not_take_does_not(
    broker: LocalBroker, stack: Stack, watcher: Watcher, devices: Callable[..., Device],
    bundles: dict[str, Path], tmp_path: Path,
) -> None:  # fmt: skip
    device_id = "lamp-dong-ha-008"
    node = lamp(devices, device_id, broker.port, bundles["factory"])
    node.start(mode="flash")
    wait_until(lambda: bool(watcher.births(device_id)), 30, f"the birth; {node.output()}")

    # A download that does not match its release: a file changed on the server.
    number = release(stack, bundles["b"], "1.1.0")
    served = Path(stack.env["SANGSACH_DATA_DIR"]) / "firmware" / str(number) / "app.mpy"
    served.write_bytes(served.read_bytes()[:-1] + b"\x00")
    rollout(stack, number, device_id)
    wait_state(stack, node, device_id, "failed")
    assert "app.mpy" in rollout_state(stack, device_id)["reason"]
    assert not (node.flash / "releases" / str(number)).exists()

    # An offer signed with another key (another node's): refused, nothing fetched.
    body = {"number": 2, "version": "6.6.6", "mpy": 6, "url": stack.url + "/ota/1/",
            "files": [["app.mpy", 10, "0" * 64]]}  # fmt: skip
    text = json.dumps(body, separators=(",", ":"))
    other = device_key(DEV_FIRMWARE_KEY, "lamp-dong-ha-009")
    watcher.publish(
        f"sangsach/v1/{device_id}/update", {"release": text, "sig": sign(other, text)},
        retain=True,
    )  # fmt: skip
    wait_until(
        lambda: any(b.get("update", {}).get("state") == "refused"
                    for b in watcher.births(device_id)), 30, "the refusal in the status",
    )  # fmt: skip
    refused = [b["update"] for b in watcher.births(device_id) if "update" in b][-1]
    assert refused == {"number": 2, "version": "6.6.6", "state": "refused",
                       "reason": "signature does not match"}  # fmt: skip

    # A release that cannot start: tried, rolled back, and the factory bundle runs again.
    number = release(stack, bundles["broken"], "1.2.0")
    rollout(stack, number, device_id)
    wait_state(stack, node, device_id, "rolled_back", timeout=90)
    out = "\n".join(node.lines)
    assert out.count("this release cannot start") == 3  # MAX_TRIES starts, then the way back
    assert ota_state(node).get("active") is None  # the factory lib/ runs
    assert ota_state(node)["last"]["state"] == "rolled_back"
    births = watcher.births(device_id)
    assert births[-1]["fw"] == "1.0.0"
    readings = watcher.readings(device_id)
    assert readings and readings[-1]["boot"] > readings[0]["boot"]  # it went on reporting
    page = stack.http.get("/thiet-bi").text
    assert "Bản 1.2.0 không chạy được, đã quay về bản cũ" in page and "(cập nhật lỗi)" in page

    # A genuine offer whose server cannot be reached: not the release's fault, so not
    # remembered as failed; the node tries again later.
    body = {"number": 9, "version": "1.9.0", "mpy": 6, "url": "http://127.0.0.1:9/ota/9/",
            "files": [["app.mpy", 10, "0" * 64]]}  # fmt: skip
    text = json.dumps(body, separators=(",", ":"))
    own = device_key(DEV_FIRMWARE_KEY, device_id)
    watcher.publish(
        f"sangsach/v1/{device_id}/update", {"release": text, "sig": sign(own, text)}, retain=True
    )
    wait_output(node, "ota: trying again in 600 s", "the retry after a network failure")
    assert ota_state(node)["last"]["number"] == number  # the rollback is still the last word
    node.stop()


def test_a_sleeping_bin_finds_the_offer_at_its_next_send_and_updates(
    broker: LocalBroker, stack: Stack, watcher: Watcher, devices: Callable[..., Device],
    bundles: dict[str, Path],
) -> None:  # fmt: skip
    device_id = "bin-dong-ha-05"
    key = device_key(DEV_FIRMWARE_KEY, device_id).hex()
    node = devices(
        node_settings(device_id, "bin", broker.port, ota_key=key),
        speed=50000, start_ts=time.time() - 2 * 86400, distance_cm=70.0, temp_c=25.0,
        tilt_deg=1.0,
    )  # fmt: skip
    install(node, bundles["factory"])
    number = release(stack, bundles["b"], "1.1.0")
    rollout(stack, number, device_id)  # offered while the bin has never been seen
    node.start(mode="flash")
    wait_state(stack, node, device_id, "confirmed")
    out = "\n".join(node.lines)
    assert "firmware: build B" in out and out.count("ota: release 1 staged") == 1
    # The download ran in a send's wake, within its budget; the bin sleeps as before after it.
    sleeps = node.events("deepsleep")
    assert sleeps and max(s["awake_ms"] for s in sleeps) < 45_000
    wait_until(lambda: len(node.events("deepsleep")) >= len(sleeps) + 3, 30, "more wakes")
    assert ota_state(node)["active"]["number"] == 1
    node.stop()
