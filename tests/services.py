"""Real servers for the tests: influxd 1.x on free loopback ports with temporary directories.

Mosquitto comes from ``sangsach.localbroker``, which the demo uses too.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

from sangsach.localbroker import free_port


class InfluxD:
    """One ``influxd`` (Debian's ``influxdb`` package) with its own data, stopped after use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> InfluxD:
        binary = shutil.which("influxd") or "/usr/bin/influxd"
        if not Path(binary).exists():
            raise RuntimeError("influxd is not installed (Debian: apt-get install influxdb)")
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "influxdb.conf"
        conf.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{free_port()}"\n'
            f'[meta]\n  dir = "{self.root}/meta"\n'
            f'[data]\n  dir = "{self.root}/data"\n  wal-dir = "{self.root}/wal"\n'
            "  query-log-enabled = false\n  trace-logging-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n"
            "[continuous_queries]\n  enabled = false\n",
            encoding="utf-8",
        )
        log = (self.root / "influxd.log").open("ab")
        self._process = subprocess.Popen([binary, "-config", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"influxd exited early; see {self.root / 'influxd.log'}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("influxd did not answer /ping within 30 s")

    def query(self, q: str, db: str) -> dict[str, object]:
        response = httpx.post(f"{self.url}/query", params={"db": db, "q": q}, timeout=30)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(20)
        self._process = None
