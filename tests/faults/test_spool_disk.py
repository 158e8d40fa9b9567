"""The spool's disk nearly full: a real 2 MB tmpfs under the spool. The gateway refuses new work
(no acknowledgement, so the broker keeps it), says why in its health file and log, and never
corrupts what is spooled; when the backend drains the spool, intake resumes and nothing is lost.
The gateway's heartbeat tells the backend, which sends the commune office one SMS per episode.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sangsach.localbroker import LocalBroker
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.harness import Stack, publish_all, reading, wait_until

LAMPS = [d.id for d in load_registry(SAMPLE_REGISTRY).devices() if d.kind == "lamp"][:40]
PER_LAMP = 200  # 8000 readings: about 2 MB spooled, more than the disk takes beside its reserve


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (the tests run as root in CI); skipped where mounting is not allowed."""
    mount = tmp_path / "spool-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_nearly_full_spool_disk_pauses_intake_and_loses_nothing(
    tmp_path: Path, broker: LocalBroker, small_disk: Path
) -> None:
    env = {"SANGSACH_SPOOL_DIR": str(small_disk), "SANGSACH_SPOOL_MIN_FREE_MB": "1"}
    stack = Stack(tmp_path / "stack", broker.port, env).start()
    try:
        stack.backend.stop()
        now = int(time.time())
        messages = [
            (f"sangsach/v1/{lamp}/telemetry", reading(lamp, "lamp", seq, now - (PER_LAMP - seq) * 30))
            for seq in range(PER_LAMP)
            for lamp in LAMPS
        ]  # fmt: skip
        sent = publish_all(broker.port, messages)
        wait_until(lambda: bool(stack.gateway_health()["spool_full"]), 60, "intake to pause")
        health = stack.gateway_health()
        assert "nearly full" in health["spool_full"]
        assert "KiB kept in reserve" in health["spool_full"]
        assert health["intake"]["received"] < sent, "the broker should hold the rest"
        assert "intake paused, the broker keeps new messages" in stack.gateway.log()
        spool = small_disk / "spool-gw-1.sqlite"
        assert _integrity(spool) == "ok"

        paused_at = health["intake"]["received"]
        back = time.monotonic()
        stack.start_backend()
        wait_until(lambda: stack.stored() == sent, 180, f"{sent} readings", every=0.2)
        recovery_s = time.monotonic() - back
        wait_until(lambda: not stack.gateway_health()["spool_full"], 30, "intake to resume")
        time.sleep(2)  # a duplicate would show now
        assert stack.stored() == sent
        assert stack.dead_letters() == []
        stack.gateway.stop()
        assert _integrity(spool) == "ok"
        print(
            f"\nspool disk: {sent} sent, intake paused after {paused_at}, {sent} stored, "
            f"recovered in {recovery_s:.1f} s after the backend came back"
        )
    finally:
        stack.close()


OFFICE = "+84912000990"


def test_a_full_spool_disk_reaches_the_office_by_one_sms(
    tmp_path: Path, broker: LocalBroker, small_disk: Path
) -> None:
    """The backend is up, but something else fills the disk: intake pauses, the heartbeat tells
    the backend, the office gets one SMS naming the gateway, and one more when it clears."""
    env = {
        "SANGSACH_SPOOL_DIR": str(small_disk),
        "SANGSACH_SPOOL_MIN_FREE_MB": "1",
        "SANGSACH_SMS_OFFICE_PHONES": f'["{OFFICE}"]',
    }
    stack = Stack(tmp_path / "stack", broker.port, env).start()
    try:
        ballast = small_disk / "ballast"
        ballast.write_bytes(b"\0" * (shutil.disk_usage(small_disk).free - 512 * 1024))
        now = int(time.time())
        messages = [
            (f"sangsach/v1/{lamp}/telemetry", reading(lamp, "lamp", 0, now - 60))
            for lamp in LAMPS
        ]  # fmt: skip
        sent = publish_all(broker.port, messages)
        wait_until(lambda: bool(stack.gateway_health()["spool_full"]), 60, "intake to pause")
        wait_until(lambda: bool(_office_sms(stack)), 60, "the office SMS")
        time.sleep(5)  # a second SMS from a repeated report would show now
        [sms] = _office_sms(stack)
        assert sms["kind"] == "spool_full" and sms["to"] == OFFICE
        assert "Tram thu gw-1: o dia hang doi sap day" in sms["body"], sms["body"]
        [state] = stack.http.get("/api/v1/gateways").raise_for_status().json()
        assert state["gateway_id"] == "gw-1" and "nearly full" in state["spool_full"]

        ballast.unlink()
        wait_until(lambda: stack.stored() == sent, 120, f"{sent} readings", every=0.2)
        wait_until(lambda: len(_office_sms(stack)) == 2, 60, "the resolved SMS")
        kinds = sorted(row["kind"] for row in _office_sms(stack))
        assert kinds == ["spool_full", "spool_ok"]
        [state] = stack.http.get("/api/v1/gateways").raise_for_status().json()
        assert state["spool_full"] == "" and state["full_since"] is None
    finally:
        stack.close()


def _office_sms(stack: Stack) -> list[dict[str, Any]]:
    response = stack.http.get("/api/v1/sms/outbox", params={"to": OFFICE})
    return [row for row in response.raise_for_status().json() if row["id"].startswith("gateway:")]


def _integrity(path: Path) -> str:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()
