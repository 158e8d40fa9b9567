"""Our own processes for integration and end-to-end tests: backend and gateway as real processes.

They are started with ``python -m sangsach ...`` exactly as deployed, so that tests can stop,
SIGKILL and restart them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from sangsach.config import DEV_ADMIN_TOKEN, DEV_INGEST_TOKEN, DEV_WEBHOOK_SECRET
from sangsach.localbroker import free_port

# Credentials of the development defaults (tests run the backend in development mode).
# API calls: `httpx.Client(..., headers=ADMIN)` or `TestClient(app, headers=ADMIN)`;
# ingest needs the gateway's token: `headers=GATEWAY`; `Stack.http` sends ADMIN already.
ADMIN = {"Authorization": f"Bearer {DEV_ADMIN_TOKEN}"}
GATEWAY = {"Authorization": f"Bearer {DEV_INGEST_TOKEN}"}
WEBHOOK = {"X-Sangsach-Webhook-Secret": DEV_WEBHOOK_SECRET}


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, every: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Process:
    """One ``sangsach`` sub-command as a child process, its output in a log file."""

    def __init__(self, command: str, env: dict[str, str], log_path: Path) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sangsach", self.command], env=self.env, stdout=log, stderr=log
        )

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            self._process.wait(30)

    def kill(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait(30)

    @property
    def pid(self) -> int:
        """The running child's process id (benchmarks read its CPU time and memory)."""
        if self._process is None:
            raise RuntimeError(f"{self.command} is not started")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The exit status once the process has ended; None while it runs."""
        return None if self._process is None else self._process.poll()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def backend_healthy(backend: Process, http: httpx.Client) -> bool:
    """The backend answers /healthz; raises with its log if the process has exited."""
    if not backend.running:
        raise AssertionError(f"backend exited:\n{backend.log()[-3000:]}")
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


class Stack:
    """Backend and gateway processes wired to a broker; storage chosen by ``extra_env``."""

    def __init__(self, root: Path, mqtt_port: int, extra_env: dict[str, str] | None = None) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "SANGSACH_DATA_DIR": str(root),
            "SANGSACH_MQTT_PORT": str(mqtt_port),
            "SANGSACH_HTTP_PORT": str(self.port),
            "SANGSACH_BACKEND_URL": self.url,
            "SANGSACH_ADMIN_TOKEN": DEV_ADMIN_TOKEN,  # what `self.http` sends
            # No crew's morning list by SMS: tests that count SMS must not depend on the hour
            # they run at (the work lists' own tests turn it on).
            "SANGSACH_WORKLIST_TIME": "",
            # The gateway's health file every 0.5 s instead of 2: a test waiting on it (its
            # start waits for the subscriptions there) sees a change 1.5 s sooner.
            "SANGSACH_HEALTH_EVERY_S": "0.5",
            # A backend that was down is retried within 2 s of its return, not up to 30.
            "SANGSACH_RETRY_MAX_S": "2",
            **(extra_env or {}),
        }
        self.backend = Process("backend", self.env, root / "backend.log")
        self.gateway = Process("gateway", self.env, root / "gateway.log")
        self.http = httpx.Client(base_url=self.url, timeout=30, headers=ADMIN)

    def start_backend(self) -> None:
        self.backend.start()
        wait_until(
            lambda: backend_healthy(self.backend, self.http),
            60,
            f"backend health; log:\n{self.backend.log()[-3000:]}",
        )

    def start(self) -> Stack:
        self.start_backend()
        self.start_gateway()
        return self

    def start_gateway(self) -> None:
        """Start the gateway and wait until its subscriptions stand (its health file says so)."""
        health = self.gateway_health_path
        health.unlink(missing_ok=True)
        self.gateway.start()

        def subscribed() -> bool:
            if not self.gateway.running:
                raise AssertionError(f"gateway exited:\n{self.gateway.log()[-3000:]}")
            return health.exists() and bool(json.loads(health.read_text())["subscribed"])

        wait_until(subscribed, 30, "the gateway's subscriptions")

    @property
    def gateway_health_path(self) -> Path:
        env = self.gateway.env
        name = env.get("SANGSACH_GATEWAY_ID", "gw-1")
        return Path(env["SANGSACH_DATA_DIR"]) / f"gateway-{name}.json"

    def gateway_health(self) -> dict[str, Any]:
        return json.loads(self.gateway_health_path.read_text())  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self.http.get("/api/v1/stats").raise_for_status().json()  # type: ignore[no-any-return]

    def stored(self) -> int:
        readings = self.stats()["readings"]
        return int(readings["lamp"] + readings["bin"])

    def dead_letters(self, limit: int = 10_000) -> list[dict[str, Any]]:
        response = self.http.get("/api/v1/dead-letters", params={"limit": limit})
        return response.raise_for_status().json()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.gateway.stop()
        self.backend.stop()
        self.http.close()


def publish_all(
    port: int,
    messages: Iterable[tuple[str, bytes]],
    client_id: str = "tester",
    auth: tuple[str, str] | None = None,
) -> int:
    """Publish QoS 1 and wait for every PUBACK; returns how many were sent. ``auth``: the
    account (user name, password) where the broker wants one."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if auth is not None:
        client.username_pw_set(*auth)
    client.max_inflight_messages_set(200)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    return len(infos)


def reading(device_id: str, kind: str, seq: int, ts: int, boot: int = 1, **fields: Any) -> bytes:
    body: dict[str, Any] = {"id": device_id, "kind": kind, "boot": boot, "seq": seq, "ts": ts}
    body.update(fields or ({"on": True} if kind == "lamp" else {"fill_pct": 10.0}))
    return json.dumps(body).encode()
