"""A real Mosquitto on the docker-compose broker configuration, moved to temporary paths.

``deploy/mosquitto/mosquitto.conf`` is read as it is; only the container paths it names and the
two ports are replaced. A container path left unreplaced fails the start, so a new mount in the
file cannot go untested. Files added to the broker's conf.d (a province's bridges:
tests/bridgedbrokers.py) are moved the same way, beside the broker policy.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from sangsach.localbroker import POLICY_DIR, LocalBroker, free_port, wait_for_port

ROOT = Path(__file__).parents[1]
DEPLOY_CONF = ROOT / "deploy" / "mosquitto" / "mosquitto.conf"
MAKE_CERTS = ROOT / "deploy" / "make-certs.sh"


def moved(path: Path, moves: dict[str, str]) -> str:
    """The text of a shipped configuration file with its container paths and ports replaced."""
    text = path.read_text(encoding="utf-8")
    for old, new in moves.items():
        assert old in text, f"{path} no longer has {old!r}"
        text = text.replace(old, new)
    left = [line for line in text.splitlines() if " /mosquitto/" in line and line[0] != "#"]
    assert not left, f"container paths the tests do not map in {path.name}: {left}"
    return text


class DeployBroker(LocalBroker):
    """Mosquitto with the deployed listeners, accounts (``auth_dir``) and TLS (``certs_dir``).

    ``port`` and ``tls_port`` are the devices' listeners; ``service_port`` and
    ``service_tls_port`` the services' (gateways, backend, simulators).
    """

    def __init__(self, data_dir: Path, auth_dir: Path, certs_dir: Path) -> None:
        super().__init__(data_dir)
        self.auth_dir = auth_dir
        self.certs_dir = certs_dir
        self.tls_port = free_port()
        self.service_port = free_port()
        self.service_tls_port = free_port()

    def conf_d_files(self) -> dict[str, str]:
        """Files of the broker's conf.d besides the policy: name -> moved text."""
        return {}

    def _conf_d(self) -> Path:
        extra = self.conf_d_files()
        if not extra:
            return POLICY_DIR
        folder = self.data_dir / "conf.d"
        folder.mkdir(exist_ok=True)
        for policy in POLICY_DIR.glob("*.conf"):
            shutil.copyfile(policy, folder / policy.name)
        for name, text in extra.items():
            (folder / name).write_text(text, encoding="utf-8")
        return folder

    def _write_conf(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        moves = {
            "listener 1883": f"listener {self.port} {self.host}",
            "listener 8883": f"listener {self.tls_port} {self.host}",
            "listener 1884": f"listener {self.service_port} {self.host}",
            "listener 8884": f"listener {self.service_tls_port} {self.host}",
            "/mosquitto/auth/": f"{self.auth_dir}/",
            "/mosquitto/certs/": f"{self.certs_dir}/",
            "/mosquitto/data/": f"{self.data_dir}/",
            "/mosquitto/config/conf.d": str(self._conf_d()),
            "log_dest stdout": f"log_dest file {self.data_dir / 'mosquitto.log'}",
        }
        text = moved(DEPLOY_CONF, moves)
        user = "user root\n" if os.geteuid() == 0 else ""
        self.conf_path.write_text(user + text, encoding="utf-8")

    def listener_ports(self) -> list[int]:
        return [self.port, self.tls_port, self.service_port, self.service_tls_port]

    def start(self) -> DeployBroker:
        """Started when every listener listens: Mosquitto opens them one after the other, and
        loading each one's TLS certificate takes a while on a loaded machine."""
        super().start()
        assert self._process is not None
        for port in self.listener_ports():
            wait_for_port(self.host, port, 10, self._process)
        return self

    def __enter__(self) -> DeployBroker:
        self.start()
        return self

    def reload(self) -> None:
        """SIGHUP: Mosquitto reads the password file and the ACL again."""
        assert self._process is not None
        self._process.send_signal(signal.SIGHUP)

    def log(self) -> str:
        return (self.data_dir / "mosquitto.log").read_text(encoding="utf-8", errors="replace")
