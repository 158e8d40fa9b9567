"""Real servers for the tests: influxd 1.x and PostgreSQL on free loopback ports with temporary
directories.

Mosquitto comes from ``sangsach.localbroker``, which the demo uses too.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

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


class PostgreSQL:
    """One PostgreSQL server (Debian's ``postgresql`` package, 15 on bookworm) on a free
    loopback port, its cluster made by ``initdb`` in a temporary folder, removed after use.

    The server refuses to run as root, and the tests run as root in CI: then ``initdb`` and
    ``postgres`` run as ``nobody`` (every Debian has it), in a folder of their own under the
    system's temporary folder (pytest's folders are root's, 0700). Tuned for tests, not for
    data that must survive a power cut: no fsync, unless ``durable`` (PostgreSQL's defaults, for
    a benchmark). Only TCP on 127.0.0.1, trust authentication.
    """

    USER = "sangsach"
    AS = ("nobody", "nogroup")  # when run as root

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sangsach-postgres-", dir=self._parent()))
        self.data = self.root / "data"
        self._process: subprocess.Popen[bytes] | None = None
        self._databases = 0
        self._free: list[str] = []  # given back, emptied, at the newest revision
        self._shape: list[tuple[Any, ...]] | None = None  # their columns

    @staticmethod
    def _parent() -> str:
        """The system's temporary folder, or /tmp when run as root with a TMPDIR that others
        cannot enter (``nobody`` must reach its cluster)."""
        folder = tempfile.gettempdir()
        if os.geteuid() == 0 and not os.stat(folder).st_mode & 0o001:
            return "/tmp"
        return folder

    @staticmethod
    def binaries(debian: Path = Path("/usr/lib/postgresql")) -> Path:
        """The folder of ``initdb`` and ``postgres``: Debian keeps them off the PATH, in
        /usr/lib/postgresql/<major>/bin; the newest major installed is taken."""
        found = shutil.which("postgres")
        if found:
            return Path(found).resolve().parent
        versions = sorted(
            debian.glob("*/bin/postgres"),
            key=lambda path: (
                int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0
            ),
        )
        if not versions:
            raise RuntimeError(
                "the PostgreSQL server is not installed (Debian: apt-get install postgresql; "
                "scripts/setup.sh --test installs it): the SQL store's tests run on it"
            )
        return versions[-1].parent

    def _as_owner(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        user, group = self.AS
        os.chown(self.root, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
        return {"user": user, "group": group, "extra_groups": []}

    def start(self) -> PostgreSQL:
        bin_dir = self.binaries()
        owner = self._as_owner()
        log = self.root / "postgres.log"
        made = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                self.USER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.root,
            **owner,
        )
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stdout}{made.stderr}")
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": "200",
        }
        if not self.durable:
            settings |= {
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "shared_buffers": "32MB",
            }
        options = [f"--{name}={value}" for name, value in settings.items()]
        self._process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(self.data), *options],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            cwd=self.root,
            **owner,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres exited early: {log.read_text(errors='replace')}")
            try:
                with psycopg.connect(self.admin_dsn, connect_timeout=1):
                    return self
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"postgres did not accept connections within 60 s; see {log}")

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.USER} dbname=postgres"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of a database on this server, through psycopg 3."""
        return f"postgresql+psycopg://{self.USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its name."""
        self._databases += 1
        name = f"test_{self._databases}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return name

    def take_database(self) -> str:
        """A database for one test: one an earlier test gave back (``give_back``: at the newest
        revision, every row gone), or a new empty one. Migrating a new database costs a third
        of a second, making it as much again: most tests need neither."""
        return self._free.pop() if self._free else self.create_database()

    def give_back(self, name: str, head: str) -> None:
        """Empty a test's database for the next one: kept if it is at revision ``head`` with
        the same columns as the others, its rows deleted and its ids counting from 1 again;
        dropped otherwise (a test that never migrated it, or changed its tables)."""
        try:
            with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    [name],
                )
            dsn = f"host=127.0.0.1 port={self.port} user={self.USER} dbname={name}"
            with psycopg.connect(dsn, autocommit=True) as conn:
                at = conn.execute("SELECT version_num FROM alembic_version").fetchall()
                shape = conn.execute(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = 'public' ORDER BY 1, 2"
                ).fetchall()
                if at != [(head,)] or (self._shape is not None and shape != self._shape):
                    raise ValueError(f"not at {head} with the tables of the others")
                tables = sorted({table for table, _, _ in shape} - {"alembic_version"})
                names = ", ".join(f'"{table}"' for table in tables)
                conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            self._shape = shape
            self._free.append(name)
        except (psycopg.Error, ValueError):
            self.drop_database(name)

    def server_pids(self) -> list[int]:
        """The postmaster and every process it started (a backend per connection)."""
        if self._process is None:
            return []
        found = [self._process.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == self._process.pid:
                found.append(int(stat.parent.name))
        return found

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._process = None
        shutil.rmtree(self.root, ignore_errors=True)
