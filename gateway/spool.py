"""A durable first-in first-out spool on disk (SQLite in WAL mode, fsync on every commit).

The intake appends, the forwarder reads from the front and deletes what the backend has
stored. A message is acknowledged to the broker only after its append has committed, so a
crash at any moment loses nothing; at worst a message is delivered twice and dropped as a
duplicate.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Kind = Literal["reading", "status", "rejection"]


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    kind: Kind
    body: dict[str, Any]


class SpoolFull(Exception):
    """The spool holds its maximum: intake waits until the forwarder drains it."""


class Spool:
    def __init__(self, path: Path, max_rows: int = 5_000_000) -> None:
        self.path = path
        self.max_rows = max_rows
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS spool ("
                " id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL)"
            )
        self._rows = self._count()

    def _db(self) -> sqlite3.Connection:
        """One connection per thread: the intake writes while the forwarder reads."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    def _count(self) -> int:
        return int(self._db().execute("SELECT count(*) FROM spool").fetchone()[0])

    def append(self, items: Sequence[tuple[Kind, dict[str, Any]]]) -> None:
        """Append atomically and durably; raises SpoolFull instead of growing past max_rows.

        An empty spool takes any append, however large, so intake can never deadlock.
        """
        if not items:
            return
        if self._rows + len(items) > self.max_rows:
            self._rows = self._count()  # the forwarder may have drained meanwhile
            if self._rows and self._rows + len(items) > self.max_rows:
                raise SpoolFull(f"spool {self.path} holds {self._rows} of {self.max_rows} rows")
        rows = [(kind, json.dumps(body, separators=(",", ":"))) for kind, body in items]
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT INTO spool (kind, body) VALUES (?, ?)", rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._rows += len(rows)

    def peek(self, limit: int) -> list[Entry]:
        cursor = self._db().execute(
            "SELECT id, kind, body FROM spool ORDER BY id LIMIT ?", (limit,)
        )
        return [Entry(row[0], row[1], json.loads(row[2])) for row in cursor]

    def remove_through(self, last_id: int) -> None:
        """Forget every entry up to and including ``last_id`` (the backend has them)."""
        self._db().execute("DELETE FROM spool WHERE id <= ?", (last_id,))

    def __len__(self) -> int:
        return self._count()

    def close(self) -> None:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
