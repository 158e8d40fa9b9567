"""Several backends on one PostgreSQL: one owner per singleton job, one judge per device at a time.

**Jobs.** The alert tick, the SMS dispatcher, the daily rollups, the device map feed, the work
lists' texting and the dead letters' retention run in one backend only. Each is a PostgreSQL
session-level advisory lock (``pg_try_advisory_lock(NAMESPACE, job)``) held on a connection of
its own (``Leases``), which is checked every ``CHECK_S`` seconds: a backend that dies (SIGKILL,
power cut) loses its connection, PostgreSQL releases its locks, and another backend takes the
jobs at its next check. No table and no migration: the lease is the connection. A network that
hangs instead of closing is noticed by TCP keepalives on both sides (``KEEPALIVE``).

The lease decides who does the work, not whether it is right: for the few seconds in which two
backends may both believe they own a job (a partitioned owner not yet timed out), every job is
safe twice over. The tick judges under the devices' locks (below), the dispatcher claims each
SMS in its own transaction before sending it, the rollups replace a day's rows, and the SMS
outbox keeps one row per key.

**Devices.** A batch, the tick and people's actions on an alert take a transaction-level
advisory lock per device (``lock_devices``), in one order, before reading the device's alert
state; the alert engine then reads that state from SQL, never from a copy in memory that
another backend may have made stale (``AlertEngine``). Two batches of one device on two
backends are so judged one after the other, each on the state the other left.

On SQLite (one PC) there is one backend: it owns every job, and ``lock_devices`` does nothing
(the engine's in-process lock and SQLite's one writer order everything).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# The first key of the jobs' two-key advisory locks; PostgreSQL keeps the two-key and the
# one-key (bigint) lock spaces apart, so no device's lock can be a job's.
NAMESPACE = 0x5A_5A_10B5
JOBS: dict[str, int] = {
    "alert-tick": 1,
    "sms-dispatcher": 2,
    "daily-rollups": 3,
    "device-map": 4,
    "work-lists": 5,
    "dead-letters": 6,
}
CHECK_S = 2.0  # how often a backend pings its lease connection and asks for the jobs it lacks
# The lease connection's TCP keepalives: the client's (libpq) and the server's (SET), so that a
# peer gone silent is dropped in about 5 + 3 x 2 = 11 s, not after the system's two hours.
KEEPALIVE = {"idle": 5, "interval": 2, "count": 3}

_HELD = text(
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid::bigint = :namespace AND objsubid = 2"
)
_TRY = text("SELECT pg_try_advisory_lock(CAST(:namespace AS integer), CAST(:job AS integer))")
_LOCK_DEVICES = text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) k"
)


def shared(engine: Engine | Connection) -> bool:
    """Several backends may share this database: PostgreSQL."""
    return engine.dialect.name == "postgresql"


def device_key(device_id: str) -> int:
    """A device's advisory lock key: 64 bits of a hash of its id (two devices sharing one would
    only wait for each other)."""
    digest = hashlib.blake2b(device_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_devices(conn: Connection, device_ids: Iterable[str]) -> None:
    """On PostgreSQL, wait for and take each device's lock until the transaction ends, in the
    order of their keys (every caller takes them in that order: no deadlock among them). Taken
    before anything of the devices is read or written. On SQLite: nothing."""
    if not shared(conn):
        return
    keys = sorted({device_key(d) for d in device_ids})
    if keys:
        conn.execute(_LOCK_DEVICES, {"keys": keys})


def application_name() -> str:
    """What PostgreSQL shows for a backend's connections (``pg_stat_activity``): its host and
    process id, so that ``docs/deploy.md``'s query names the owner of each job."""
    return f"sangsach-backend {socket.gethostname()}:{os.getpid()}"[:63]


class Leases:
    """The singleton jobs this backend runs now. On SQLite: all of them, always."""

    def __init__(self, engine: Engine, check_s: float = CHECK_S) -> None:
        self.shared = shared(engine)
        self.check_s = check_s
        self._held: frozenset[str] = frozenset(JOBS) if not self.shared else frozenset()
        self._url = engine.url
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._guard = threading.Lock()  # one check at a time (the keeper's, close's)

    def owns(self, job: str) -> bool:
        return job in self._held

    @property
    def held(self) -> frozenset[str]:
        return self._held

    def check(self) -> frozenset[str]:
        """Ping the lease connection, taking the jobs nobody holds; the jobs held after it. A
        failure loses them all: the connection, and so the locks, may be gone."""
        if not self.shared:
            return self._held
        with self._guard:
            before = self._held
            try:
                conn = self._connection()
                numbers = {row[0] for row in conn.execute(_HELD, {"namespace": NAMESPACE})}
                for number in JOBS.values():
                    if (
                        number not in numbers
                        and conn.execute(_TRY, {"namespace": NAMESPACE, "job": number}).scalar()
                    ):
                        numbers.add(number)
                self._held = frozenset(job for job, n in JOBS.items() if n in numbers)
            except SQLAlchemyError as err:
                self._held = frozenset()
                self._drop()
                if before:
                    log.warning("lost the jobs %s: %s", ", ".join(sorted(before)), err)
                else:
                    log.debug("lease check failed: %s", err)
            if self._held - before:
                log.info("running the jobs %s", ", ".join(sorted(self._held - before)))
            if before - self._held and self._held:
                log.warning("lost the jobs %s", ", ".join(sorted(before - self._held)))
            return self._held

    def run(self, stop: threading.Event) -> None:
        """Check every ``check_s`` until ``stop``; meant for a thread of its own."""
        while not stop.wait(self.check_s):
            self.check()

    def close(self) -> None:
        """Give the jobs back at once (a stopped backend's successor need not wait)."""
        with self._guard:
            if self._conn is not None:
                # Released now, not when the server notices the closed connection.
                with contextlib.suppress(SQLAlchemyError):
                    self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
            self._drop()
            if self.shared:
                self._held = frozenset()
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def _connection(self) -> Connection:
        if self._conn is None:
            if self._engine is None:
                self._engine = create_engine(
                    self._url,
                    poolclass=NullPool,
                    isolation_level="AUTOCOMMIT",  # no transaction left open on it
                    connect_args={
                        "application_name": application_name(),
                        "connect_timeout": 5,
                        "keepalives": 1,
                        "keepalives_idle": KEEPALIVE["idle"],
                        "keepalives_interval": KEEPALIVE["interval"],
                        "keepalives_count": KEEPALIVE["count"],
                    },
                )
            conn = self._engine.connect()
            try:
                for name, value in KEEPALIVE.items():
                    conn.exec_driver_sql(f"SET tcp_keepalives_{name} = {int(value)}")
            except SQLAlchemyError:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.invalidate()  # not back to a pool: the session, and its locks, end
                self._conn.close()
            self._conn = None
