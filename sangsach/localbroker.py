"""A private Mosquitto process for the demo and the tests, on the project's broker policy.

It runs the real ``mosquitto`` binary with ``sangsach/data/mosquitto/sangsach.conf`` included,
a loopback listener on a free port and its own data directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

POLICY_DIR = Path(__file__).with_name("data") / "mosquitto"


class BrokerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerError(f"process exited with code {process.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


class LocalBroker:
    """Start, stop, kill and restart one Mosquitto; its sessions persist in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int | None = None, extra_conf: str = "") -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.extra_conf = extra_conf
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def conf_path(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    def _write_conf(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Started as root, Mosquitto switches to the user "mosquitto", who cannot write our
        # private data directory: persistence would fail. Stay the user who started it.
        user = "user root\n" if os.geteuid() == 0 else ""
        self.conf_path.write_text(
            f"{user}listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            f"persistence_location {self.data_dir}/\n"
            f"log_dest file {self.data_dir / 'mosquitto.log'}\n"
            f"include_dir {POLICY_DIR}\n"
            f"{self.extra_conf}",
            encoding="utf-8",
        )

    def start(self) -> LocalBroker:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise BrokerError(
                "mosquitto is not installed (Debian/Ubuntu: apt-get install mosquitto)"
            )
        self._write_conf()
        self._process = subprocess.Popen(
            [binary, "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.host, self.port, 10, self._process)
        except BrokerError as err:
            raise BrokerError(f"mosquitto did not start: {err}; see {self.data_dir}") from err
        return self

    def stop(self) -> None:
        """Graceful stop: Mosquitto saves its persistence file."""
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)
        self._process = None

    def kill(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def pid(self) -> int:
        """The running broker's process id (benchmarks read its CPU from /proc)."""
        if self._process is None:
            raise BrokerError("the broker is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
