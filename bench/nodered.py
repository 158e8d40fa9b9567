"""Node-RED as the drain benchmark's reference: what users who do not pick us wire up.

The flow is ours (``bench/nodered/flow.json``): mqtt in (QoS 1, persistent session, parsed
JSON) -> a function making each reading one point (the kind its measurement, the device id its
tag, the minimal consumer's line) -> join (5,000 messages or 1 s) -> influxdb batch. Node-RED
acknowledges each message on receipt, before the write: no validation, de-duplication, spool,
device state or alerts.

Node-RED and node-red-contrib-influxdb are installed with npm, at the versions pinned in
``bench/nodered/package.json``, into a scratch folder under the benchmark's work directory
(``var/``, never committed). Without ``node`` or ``npm``, or when the install fails, the
benchmark says why and leaves the Node-RED rows out.

    python -m bench.nodered install [--dir var/bench/nodered]   # install (or check) only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

from sangsach.localbroker import free_port

HERE = Path(__file__).with_name("nodered")
FLOW = HERE / "flow.json"
PACKAGE = HERE / "package.json"
DEFAULT_DIR = Path("var/bench/nodered")
MIN_NODE_MAJOR = 18  # Node-RED 4's floor
CONNECTED = re.compile(r"Connected to broker: (\S+)@mqtt://")


def pinned() -> dict[str, str]:
    """The packages and exact versions the benchmark installs."""
    return dict(json.loads(PACKAGE.read_text(encoding="utf-8"))["dependencies"])


def installed(directory: Path) -> bool:
    for name, version in pinned().items():
        manifest = directory / "node_modules" / name / "package.json"
        try:
            if json.loads(manifest.read_text(encoding="utf-8")).get("version") != version:
                return False
        except (OSError, ValueError):
            return False
    return True


def prepare(directory: Path = DEFAULT_DIR, timeout: float = 600) -> str | None:
    """Make the pinned Node-RED ready in ``directory``: None when it is, else why it is not."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "Node.js (node and npm) is not installed"
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        return f"node --version failed: {error}"
    found = re.match(r"v?(\d+)", version)
    major = int(found.group(1)) if found else 0
    if major < MIN_NODE_MAJOR:
        return f"Node.js {version} is too old for Node-RED 4 (needs {MIN_NODE_MAJOR} or later)"
    if installed(directory):
        return None
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PACKAGE, directory / "package.json")
    try:
        done = subprocess.run(
            # A machine that cannot reach the registry fails in about a minute, not fifteen.
            [npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error",
             "--prefer-offline", "--fetch-retries=1", "--fetch-timeout=30000"],
            cwd=directory, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        return f"npm install failed: {error}"
    if done.returncode != 0:
        head = "; ".join((done.stderr or done.stdout).strip().splitlines()[:2])
        return f"npm install failed (exit {done.returncode}): {head}"
    if not installed(directory):
        return f"npm install did not leave {', '.join(f'{k} {v}' for k, v in pinned().items())}"
    return None


def describe() -> str:
    return ", ".join(f"{name} {version}" for name, version in pinned().items())


class NodeRed:
    """One Node-RED process running the flow against one broker port and one database."""

    def __init__(
        self, directory: Path, user_dir: Path, mqtt_port: int, influx_url: str, db: str,
        client_id: str,
    ) -> None:  # fmt: skip
        self.directory = directory.resolve()
        self.user_dir = user_dir
        user_dir.mkdir(parents=True, exist_ok=True)
        influx_port = influx_url.rsplit(":", 1)[1].strip("/")
        self.env = {
            **os.environ,
            "SANGSACH_BENCH_MQTT_PORT": str(mqtt_port),
            "SANGSACH_BENCH_CLIENT_ID": client_id,
            "SANGSACH_BENCH_INFLUX_PORT": influx_port,
            "SANGSACH_BENCH_INFLUX_DB": db,
            "NODE_ENV": "production",
        }
        self.settings = user_dir / "settings.js"
        self.settings.write_text(settings_js(FLOW.resolve(), free_port()), encoding="utf-8")
        self.log = user_dir / "node-red.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.connected = threading.Event()
        self.connected_at = 0.0
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("Node-RED is not running")
        return self.process.pid

    def start(self) -> float:
        """Start Node-RED; the monotonic time of the start."""
        red = self.directory / "node_modules" / "node-red" / "red.js"
        command = [shutil.which("node") or "node", str(red), "--userDir", str(self.user_dir),
                   "--settings", str(self.settings)]  # fmt: skip
        self.connected.clear()
        started = time.monotonic()
        self.process = subprocess.Popen(
            command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()
        return started

    def _read(self, stream: IO[bytes]) -> None:
        with self.log.open("ab") as log:
            for raw in stream:
                log.write(raw)
                log.flush()
                if not self.connected.is_set() and CONNECTED.search(raw.decode(errors="replace")):
                    self.connected_at = time.monotonic()
                    self.connected.set()

    def wait_connected(self, timeout: float = 120) -> float:
        """Wait for the flow's connection to the broker; the monotonic time of its log line."""
        deadline = time.monotonic() + timeout
        while not self.connected.wait(0.1):
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Node-RED exited ({self.process.returncode}): see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Node-RED did not connect within {timeout:.0f} s: {self.log}")
        return self.connected_at

    def register(self) -> None:
        """Start once so that the broker keeps the flow's session and subscription, then stop.

        The flow's broker node keeps its subscription when it closes (autoUnsubscribe off)."""
        self.start()
        self.wait_connected()
        time.sleep(2.0)  # the subscription follows the connection; its SUBACK is not logged
        self.stop()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(5)
        self.process = None


def settings_js(flow: Path, ui_port: int) -> str:
    """Node-RED's settings: the flow file, no editor, no HTTP endpoints, nothing to the network."""
    settings = {
        "flowFile": str(flow),
        "flowFilePretty": True,
        "uiHost": "127.0.0.1",
        "uiPort": ui_port,
        "httpAdminRoot": False,
        "httpNodeRoot": False,
        "disableEditor": True,
        "credentialSecret": False,
        "mqttReconnectTime": 1000,
        "logging": {"console": {"level": "info", "metrics": False, "audit": False}},
        "externalModules": {"autoInstall": False, "palette": {"allowInstall": False}},
        "diagnostics": {"enabled": False, "ui": False},
        "runtimeState": {"enabled": False, "ui": False},
        "telemetry": {"enabled": False},
        "editorTheme": {"projects": {"enabled": False}},
    }
    return f"module.exports = {json.dumps(settings, indent=1)};\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["install"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    why = prepare(args.dir)
    print(f"Node-RED not ready, its rows will be skipped: {why}" if why else
          f"{describe()} ready in {args.dir}")  # fmt: skip


if __name__ == "__main__":
    main()
