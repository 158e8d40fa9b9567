"""The real backend and gateway, started under a permissive umask, keep their data private."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import httpx
import pytest

from sangsach.config import DEV_ADMIN_TOKEN
from sangsach.localbroker import LocalBroker, free_port
from tests.harness import (
    ADMIN,
    Process,
    backend_healthy,
    publish_all,
    reading,
    wait_until,
)

pytestmark = pytest.mark.integration

LAMP = "lamp-dong-ha-001"


def modes(folder: Path) -> dict[str, int]:
    """Every file and folder under ``folder`` (itself included) and its permission bits."""
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.mark.usefixtures("permissive_umask")
def test_databases_spool_and_their_folders_are_the_owners_alone(
    tmp_path: Path, broker: LocalBroker
) -> None:
    data, spool = tmp_path / "data", tmp_path / "spool"  # neither exists yet
    port = free_port()
    env = {
        **os.environ,
        "SANGSACH_DATA_DIR": str(data),
        "SANGSACH_SPOOL_DIR": str(spool),
        "SANGSACH_MQTT_PORT": str(broker.port),
        "SANGSACH_HTTP_PORT": str(port),
        "SANGSACH_BACKEND_URL": f"http://127.0.0.1:{port}",
        "SANGSACH_ADMIN_TOKEN": DEV_ADMIN_TOKEN,
    }
    backend = Process("backend", env, tmp_path / "backend.log")  # logs outside the data
    gateway = Process("gateway", env, tmp_path / "gateway.log")
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=ADMIN)
    try:
        backend.start()
        wait_until(lambda: backend_healthy(backend, http), 60, "backend health")
        gateway.start()
        health = data / "gateway-gw-1.json"
        wait_until(
            lambda: health.exists() and json.loads(health.read_text())["subscribed"],
            30,
            "the gateway's subscriptions",
        )
        message = reading(LAMP, "lamp", 1, int(time.time()))
        publish_all(broker.port, [(f"sangsach/v1/{LAMP}/telemetry", message)])

        def stored() -> bool:
            counts = http.get("/api/v1/stats").raise_for_status().json()["readings"]
            return int(counts["lamp"]) == 1

        wait_until(stored, 30, "the reading stored")
        # each process's own umask, as the kernel has it: what they create later is private too
        for process in (backend, gateway):
            status = Path(f"/proc/{process.pid}/status").read_text(encoding="utf-8")
            assert "\nUmask:\t0077\n" in status, (process.command, status)
        # Checked while both run: their SQLite -wal and -shm files exist only then.
        found = {**modes(data), **{f"spool/{k}": v for k, v in modes(spool).items()}}
        for name in (
            "sangsach.sqlite", "timeseries.sqlite", "spool/spool-gw-1.sqlite"
        ):  # fmt: skip
            assert {name, f"{name}-wal", f"{name}-shm"} <= found.keys(), sorted(found)
        assert (found["."], found["spool/."]) == (0o700, 0o700)
        readable = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
        assert readable == {}, f"open to group or others: {readable}"
    finally:
        gateway.stop()
        backend.stop()
        http.close()
