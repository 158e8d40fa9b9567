"""Debian's nginx in front of several backends, on the shipped deploy/nginx/sangsach.conf.

The shipped file is moved as the brokers' are (tests/deploybroker.py): only the backends'
addresses, the listening port and the certificate's paths change. nginx runs in the
foreground (``daemon off``) with a main configuration of the test's own around it: its pid
file, logs and temporary files in a temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from sangsach.localbroker import free_port, wait_for_port
from tests.deploybroker import ROOT, moved

NGINX_CONF = ROOT / "deploy" / "nginx" / "sangsach.conf"
SHIPPED_BACKENDS = ("10.0.0.11:8000", "10.0.0.12:8000")


class Nginx:
    """nginx serving HTTPS on ``port`` with the certificate in ``certs`` (server.crt, .key),
    spreading requests over ``backends`` (loopback ports)."""

    def __init__(self, root: Path, backends: list[int], certs: Path) -> None:
        if len(backends) != len(SHIPPED_BACKENDS):
            raise ValueError(f"the shipped file lists {len(SHIPPED_BACKENDS)} backends")
        self.root = root
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.backends = backends
        self.certs = certs
        self._process: subprocess.Popen[bytes] | None = None

    def site_conf(self) -> str:
        moves = {
            "listen 443 ssl;": f"listen 127.0.0.1:{self.port} ssl;",
            "/etc/nginx/certs/": f"{self.certs}/",
        }
        for shipped, port in zip(SHIPPED_BACKENDS, self.backends, strict=True):
            moves[f"server {shipped} "] = f"server 127.0.0.1:{port} "
        return moved(NGINX_CONF, moves)

    def main_conf(self) -> str:
        temp = "\n".join(
            f"    {name}_temp_path {self.root / name};"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # Its workers must reach the temporary folder, root's when the tests run as root.
        user = "user root;\n" if os.geteuid() == 0 else ""
        return (
            f"{user}worker_processes 1;\n"
            f"pid {self.root / 'nginx.pid'};\n"
            f"error_log {self.root / 'error.log'} notice;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            "    log_format upstreams '$request $status $upstream_addr $upstream_status';\n"
            f"    access_log {self.root / 'access.log'} upstreams;\n"
            f"{temp}\n"
            f"    include {self.root / 'sangsach.conf'};\n"
            "}\n"
        )

    def start(self) -> Nginx:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError("nginx is not installed (Debian: apt-get install nginx)")
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "sangsach.conf").write_text(self.site_conf(), encoding="utf-8")
        conf = self.root / "nginx.conf"
        conf.write_text(self.main_conf(), encoding="utf-8")
        log = (self.root / "nginx.out").open("ab")
        command = [
            binary,
            "-p",
            f"{self.root}/",
            "-e",
            str(self.root / "error.log"),
            "-c",
            str(conf),
        ]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t refused the configuration: {checked.stderr}")
        self._process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=log, stderr=log)
        wait_for_port("127.0.0.1", self.port, 10, self._process)
        return self

    def upstreams(self) -> list[tuple[str, str, str]]:
        """Each request of the access log: (request line, upstream addresses, their statuses);
        a request tried on two backends shows both, comma-separated."""
        found = []
        for line in self.access_log().splitlines():
            match = re.match(r"(.+ HTTP/[0-9.]+) \d+ (.+?) (\S+(?:, \S+)*)$", line)
            if match:
                found.append((match[1], match[2], match[3]))
        return found

    def access_log(self) -> str:
        path = self.root / "access.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._process = None
