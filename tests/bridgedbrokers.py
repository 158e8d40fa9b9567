"""A province's brokers for the tests: a central Mosquitto and commune Mosquittos bridged to it.

Both run the shipped files (deploy/mosquitto/mosquitto.conf with the broker policy, plus
``central-bridges.conf`` at the centre and ``bridge-commune.conf`` at a commune), moved to
temporary paths and ports as ``DeployBroker`` does. The certificates come from
deploy/make-certs.sh and deploy/make-bridge-cert.sh, the central's bridges ACL from
`sangsach bridges acl`. Each commune's link runs through a ``LinkProxy``, which a test cuts and
restores without stopping either broker.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
from pathlib import Path

from click.testing import CliRunner

from sangsach.cli import main
from sangsach.localbroker import free_port
from tests.deploybroker import MAKE_CERTS, ROOT, DeployBroker, moved

CENTRAL_BRIDGES_CONF = ROOT / "deploy" / "mosquitto" / "central-bridges.conf"
BRIDGE_COMMUNE_CONF = ROOT / "deploy" / "mosquitto" / "bridge-commune.conf"
MAKE_BRIDGE_CERT = ROOT / "deploy" / "make-bridge-cert.sh"


def central_certs(folder: Path) -> Path:
    """The central broker's CA and certificate, as docs/deploy.md makes them."""
    subprocess.run([MAKE_CERTS, folder, "localhost", "127.0.0.1"], check=True, capture_output=True)
    return folder


def commune_certs(folder: Path, central: Path, commune: str) -> Path:
    """A commune broker's certificates: its own (its TLS listeners) and its bridge's to the centre.

    As in docs/deploy.md, the bridge's three files (bridge.crt, bridge.key, central-ca.crt) go
    into the commune broker's certificate folder beside its own.
    """
    subprocess.run([MAKE_CERTS, folder, "localhost", "127.0.0.1"], check=True, capture_output=True)
    subprocess.run([MAKE_BRIDGE_CERT, central, commune], check=True, capture_output=True)
    carried = central / f"bridge-{commune}"
    for name in ("bridge.crt", "bridge.key", "central-ca.crt"):
        shutil.copy2(carried / name, folder / name)
    return folder


def write_bridges_acl(auth_dir: Path, communes: dict[str, Path]) -> None:
    """`sangsach bridges acl COMMUNE=REGISTRY...` into the central broker's accounts folder."""
    specs = [f"{commune}={registry}" for commune, registry in communes.items()]
    env = {"SANGSACH_BROKER_AUTH_DIR": str(auth_dir)}
    result = CliRunner().invoke(main, ["bridges", "acl", *specs], env=env)
    assert result.exit_code == 0, result.output
    assert f"đã ghi (written) {auth_dir / 'acl-bridges'}" in result.output


class CentralBroker(DeployBroker):
    """The deployed broker plus the communes' bridges listener (``bridge_port``)."""

    def __init__(self, data_dir: Path, auth_dir: Path, certs_dir: Path) -> None:
        super().__init__(data_dir, auth_dir, certs_dir)
        self.bridge_port = free_port()

    def conf_d_files(self) -> dict[str, str]:
        moves = {
            "listener 8885": f"listener {self.bridge_port} {self.host}",
            "/mosquitto/certs/": f"{self.certs_dir}/",
            "/mosquitto/auth/": f"{self.auth_dir}/",
        }
        return {CENTRAL_BRIDGES_CONF.name: moved(CENTRAL_BRIDGES_CONF, moves)}

    def listener_ports(self) -> list[int]:
        return [*super().listener_ports(), self.bridge_port]

    def bridged(self, commune: str, times: int = 1) -> bool:
        """The commune's bridge has connected ``times`` times, by its certificate (the log)."""
        return self.log().count(f" as bridge-{commune} (") >= times

    def __enter__(self) -> CentralBroker:
        self.start()
        return self


class CommuneBroker(DeployBroker):
    """A commune's deployed broker, bridged to the central one at ``central`` (host, port)."""

    def __init__(
        self, data_dir: Path, auth_dir: Path, certs_dir: Path, central: tuple[str, int]
    ) -> None:
        super().__init__(data_dir, auth_dir, certs_dir)
        self.central = central

    def conf_d_files(self) -> dict[str, str]:
        host, port = self.central
        moves = {
            "address mqtt.province.example:8885": f"address {host}:{port}",
            "/mosquitto/certs/": f"{self.certs_dir}/",
        }
        return {BRIDGE_COMMUNE_CONF.name: moved(BRIDGE_COMMUNE_CONF, moves)}

    def __enter__(self) -> CommuneBroker:
        self.start()
        return self


class LinkProxy:
    """A TCP relay between a commune's bridge and the central broker that a test can cut.

    ``cut()`` closes every relayed connection and turns new ones away (accepted, then closed at
    once) until ``restore()``: a broken WAN link, both brokers still running.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.host = "127.0.0.1"
        self._server = socket.create_server((self.host, 0))
        self.port = int(self._server.getsockname()[1])
        self._open = True
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.connections = 0  # relayed connections accepted so far (reconnections show here)
        threading.Thread(target=self._accept, daemon=True, name="link-proxy").start()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            with self._lock:
                if not self._open:
                    client.close()
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                self._live |= {client, upstream}
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        for sock in (source, sink):
            self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._live.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self) -> None:
        with self._lock:
            self._open = False
            live = list(self._live)
        for sock in live:
            self._drop(sock)

    def restore(self) -> None:
        with self._lock:
            self._open = True

    def close(self) -> None:
        self.cut()
        self._server.close()
