"""A durable first-in first-out spool on disk (SQLite in WAL mode, fsync on every commit).

The intake appends, the forwarder reads from the front and deletes what the backend has
stored. A message is acknowledged to the broker only after its append has committed, so a
crash at any moment loses nothing; at worst a message is delivered twice and dropped as a
duplicate.
"""

from __future__ import annotations

import errno
import json
import shutil
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import orjson

from sangsach.private_files import private_sqlite_file

Kind = Literal["reading", "status", "rejection"]


class Origin(NamedTuple):
    """The device message a reading or status came from, kept beside it in the spool but not
    forwarded: should the backend refuse the item, the gateway makes its dead letter from it."""

    raw_id: str  # the message's dead-letter id
    raw: bytes | None  # the message's bytes, with its first item only (one copy a message)


Item = tuple[Kind, dict[str, Any]] | tuple[Kind, dict[str, Any], Origin | None]


@dataclass(slots=True)
class Entry:
    """One spooled entry as read back; never changed (not ``frozen``: a frozen dataclass's
    ``__init__`` costs twice as much, and the forwarder reads 2,000 a batch)."""

    id: int
    kind: Kind
    text: str  # the body as stored: compact JSON, forwarded as it is

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.text)
        return body


def _text(body: dict[str, Any]) -> str:
    """Compact JSON; orjson's is six times faster than json's. It refuses a string with a lone
    surrogate, which only a dead letter could carry: json writes that one as an escape."""
    try:
        return orjson.dumps(body).decode()
    except orjson.JSONEncodeError:
        return json.dumps(body, separators=(",", ":"))


def _row(item: Item) -> tuple[str, str, str | None, bytes | None]:
    origin = item[2] if len(item) == 3 else None
    if origin is None:
        return item[0], _text(item[1]), None, None
    return item[0], _text(item[1]), origin.raw_id, origin.raw


class SpoolFull(Exception):
    """The spool holds its maximum: intake waits until the forwarder drains it."""


def _disk_full(err: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or the file system's ENOSPC: refuse the append, keep the rest."""
    if isinstance(err, sqlite3.Error):
        return getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(err, OSError) and err.errno == errno.ENOSPC


class Spool:
    def __init__(
        self,
        path: Path,
        max_rows: int = 5_000_000,
        min_free_bytes: int = 0,
        busy_timeout_s: float = 30.0,
    ) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self.max_rows = max_rows
        self.min_free_bytes = min_free_bytes
        private_sqlite_file(path)
        self._local = threading.local()
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS spool ("
                " id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL,"
                " raw_id TEXT, raw BLOB)"
            )
            columns = {row[1] for row in db.execute("PRAGMA table_info(spool)")}
            for column, kind in (("raw_id", "TEXT"), ("raw", "BLOB")):
                if column not in columns:  # a spool from before: its entries have no origin
                    db.execute(f"ALTER TABLE spool ADD COLUMN {column} {kind}")
        self._rows = self._count()

    def _db(self) -> sqlite3.Connection:
        """One connection per thread: the intake writes while the forwarder reads."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    def _count(self) -> int:
        return int(self._db().execute("SELECT count(*) FROM spool").fetchone()[0])

    def append(self, items: Sequence[Item]) -> None:
        """Append atomically and durably; raises SpoolFull instead of growing past max_rows.

        An empty spool takes any append, however large, so intake can never deadlock.
        """
        if not items:
            return
        if self._rows + len(items) > self.max_rows:
            self._rows = self._count()  # the forwarder may have drained meanwhile
            if self._rows and self._rows + len(items) > self.max_rows:
                raise SpoolFull(f"spool {self.path} holds {self._rows} of {self.max_rows} rows")
        self._check_room()
        rows = [_row(item) for item in items]
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT INTO spool (kind, body, raw_id, raw) VALUES (?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        except BaseException as err:
            if db.in_transaction:  # SQLite may have rolled back by itself (a full disk does)
                db.execute("ROLLBACK")
            if _disk_full(err):
                raise SpoolFull(
                    f"disk of spool {self.path} is full: {err}; {self._rows} entries kept"
                ) from err
            raise
        self._rows += len(rows)

    def _check_room(self) -> None:
        """Refuse while the disk is nearly full, keeping a reserve for the forwarder's deletes
        and for checkpoints: on a disk full to the last byte SQLite can neither append nor
        delete, and the spool would be stuck. Pages freed by deletes count as room."""
        if not self.min_free_bytes:
            return
        if shutil.disk_usage(self.path.parent).free >= self.min_free_bytes:
            return
        db = self._db()
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the log's pages back into the file
        except sqlite3.OperationalError as err:
            # The checkpoint itself needs room: a disk full to the last byte refuses it. That is
            # no room for an append either, not a failure of intake (which would stop it).
            if not _disk_full(err):
                raise
            raise SpoolFull(
                f"disk of spool {self.path} is full: {err}; {self._rows} entries kept"
            ) from err
        page = int(db.execute("PRAGMA page_size").fetchone()[0])
        reusable = int(db.execute("PRAGMA freelist_count").fetchone()[0]) * page
        free = shutil.disk_usage(self.path.parent).free
        if free + reusable < self.min_free_bytes:
            raise SpoolFull(
                f"disk of spool {self.path} is nearly full: {(free + reusable) // 1024} KiB "
                f"free, {self.min_free_bytes // 1024} KiB kept in reserve; {self._rows} entries kept"
            )

    def peek(self, limit: int, *, after: int = 0) -> list[Entry]:
        """The oldest ``limit`` entries, or the oldest after entry ``after`` (the forwarder
        reads the next batch while one is in flight)."""
        cursor = self._db().execute(
            "SELECT id, kind, body FROM spool WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
        )
        return [Entry(row[0], row[1], row[2]) for row in cursor]

    def replace(self, entry_id: int, kind: Kind, body: dict[str, Any]) -> None:
        """Put another entry in the place of one (the forwarder sets aside one the backend
        refuses); it keeps its place in the queue."""
        self._db().execute(
            "UPDATE spool SET kind = ?, body = ?, raw_id = NULL, raw = NULL WHERE id = ?",
            (kind, _text(body), entry_id),
        )

    def origins(self, entry_ids: Sequence[int]) -> dict[int, Origin]:
        """The origins of these entries, where they have one."""
        marks = ",".join("?" * len(entry_ids))
        rows = self._db().execute(
            f"SELECT id, raw_id, raw FROM spool WHERE raw_id IS NOT NULL AND id IN ({marks})",  # noqa: S608 - placeholders only
            list(entry_ids),
        )
        return {row[0]: Origin(row[1], row[2]) for row in rows}

    def remove_through(self, last_id: int) -> None:
        """Forget every entry up to and including ``last_id`` (the backend has them)."""
        try:
            self._db().execute("DELETE FROM spool WHERE id <= ?", (last_id,))
        except sqlite3.OperationalError as err:
            if not _disk_full(err):
                raise
            # The write-ahead log grew into the reserve: fold it back into the file, then retry.
            self._db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db().execute("DELETE FROM spool WHERE id <= ?", (last_id,))

    def __len__(self) -> int:
        return self._count()

    def close(self) -> None:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
