"""A durable first-in first-out spool on disk (SQLite in WAL mode, fsync on every commit).

The intake appends, the forwarder reads from the front and deletes what the backend has
stored. A message is acknowledged to the broker only after its append has committed, so a
crash at any moment loses nothing; at worst a message is delivered twice and dropped as a
duplicate.

One append is one row (a *chunk*): its entries' kinds in one string, their JSON texts joined by
newlines (compact JSON has none of its own), and their origins in one MessagePack blob. An entry
is named by its chunk and its place in it (``chunk << 20 | index``), so entry ids grow in the
order of the queue as they always did. A row an entry cost SQLite about 3 µs of the gateway's
CPU to insert and as much to read and delete, every reading of a drain
(docs/performance.md, issue 22); a row per append costs that once per a few hundred readings.
What the forwarder has deleted of a chunk it stored only in part is kept in ``head``: the last
entry removed.
"""

from __future__ import annotations

import errno
import json
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

import msgspec
import orjson

from sangsach.private_files import private_sqlite_file

Kind = Literal["reading", "status", "rejection"]
_CODE: Final[dict[str, str]] = {"reading": "r", "status": "s", "rejection": "j"}
_KIND: Final[dict[str, Kind]] = {"r": "reading", "s": "status", "j": "rejection"}
SHIFT: Final = 20  # an entry's id: its chunk's id << SHIFT | its index in the chunk
_INDEX: Final = (1 << SHIFT) - 1
MAX_CHUNK: Final = 1 << SHIFT  # entries a chunk holds at most; a larger append takes several


class Origin(NamedTuple):
    """The device message a reading or status came from, kept beside it in the spool but not
    forwarded: should the backend refuse the item, the gateway makes its dead letter from it."""

    raw_id: str | None  # the message's dead-letter id; None: made from ``raw`` when needed
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
    surrogate, which only a dead letter could carry: json writes that one as an escape. Neither
    writes a newline, which separates the texts of a chunk."""
    try:
        return orjson.dumps(body).decode()
    except orjson.JSONEncodeError:
        return json.dumps(body, separators=(",", ":"))


_ORIGINS_ENCODER: Final = msgspec.msgpack.Encoder()
_ORIGINS_DECODER: Final = msgspec.msgpack.Decoder(list[tuple[str | None, bytes | None] | None])


def _origins_blob(origins: Sequence[Origin | None]) -> bytes | None:
    if not any(origins):
        return None
    return _ORIGINS_ENCODER.encode([None if o is None else (o.raw_id, o.raw) for o in origins])


def _origins_of(blob: bytes | None, count: int) -> list[Origin | None]:
    if blob is None:
        return [None] * count
    return [None if o is None else Origin(*o) for o in _ORIGINS_DECODER.decode(blob)]


def _chunk_row(
    kinds: Sequence[Kind], texts: Sequence[str], origins: Sequence[Origin | None]
) -> tuple[int, str, str, bytes | None]:
    """The row of a chunk: its entries' count, kinds, texts and origins."""
    code = "".join([_CODE[kind] for kind in kinds])
    return len(kinds), code, "\n".join(texts), _origins_blob(origins)


def _items_row(items: Sequence[Item]) -> tuple[int, str, str, bytes | None]:
    return _chunk_row(
        [item[0] for item in items],
        [_text(item[1]) for item in items],
        [item[2] if len(item) == 3 else None for item in items],
    )


@dataclass(slots=True)
class _Chunk:
    """A chunk as read back: its entries' kinds and texts, in order."""

    id: int
    kinds: str
    texts: list[str]


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
        self.max_rows = max_rows  # entries, however many chunks hold them
        self.min_free_bytes = min_free_bytes
        private_sqlite_file(path)
        self._local = threading.local()
        self._cache_lock = threading.Lock()
        self._cached: _Chunk | None = None  # the chunk read last: a batch ends inside one
        self._generation = 0  # counts replaces: a chunk read before one is not cached after
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS chunks (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                " count INTEGER NOT NULL, kinds TEXT NOT NULL, texts TEXT NOT NULL,"
                " origins BLOB)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS head (one INTEGER PRIMARY KEY CHECK (one = 1),"
                " removed INTEGER NOT NULL)"
            )
            _convert_rows_of_before(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
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

    def _removed(self) -> int:
        """The last entry id the forwarder removed (0: none yet)."""
        row = self._db().execute("SELECT removed FROM head").fetchone()
        return int(row[0]) if row else 0

    def _count(self) -> int:
        db = self._db()
        total = int(db.execute("SELECT coalesce(sum(count), 0) FROM chunks").fetchone()[0])
        removed = self._removed()
        # The first chunk may be stored in part: its entries up to ``removed`` are gone.
        if db.execute("SELECT 1 FROM chunks WHERE id = ?", (removed >> SHIFT,)).fetchone():
            total -= (removed & _INDEX) + 1
        return total

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
        chunks = [
            _items_row(items[first : first + MAX_CHUNK])
            for first in range(0, len(items), MAX_CHUNK)
        ]
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO chunks (count, kinds, texts, origins) VALUES (?, ?, ?, ?)", chunks
            )
            db.execute("COMMIT")
        except BaseException as err:
            if db.in_transaction:  # SQLite may have rolled back by itself (a full disk does)
                db.execute("ROLLBACK")
            if _disk_full(err):
                raise SpoolFull(
                    f"disk of spool {self.path} is full: {err}; {self._rows} entries kept"
                ) from err
            raise
        self._rows += len(items)

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
        db = self._db()
        with self._cache_lock:
            generation = self._generation
        after = max(after, self._removed())
        first = after >> SHIFT
        found: list[Entry] = []
        last: _Chunk | None = None
        # The chunks' ids first, read as needed: a chunk already cached is not read again.
        for (chunk_id,) in db.execute("SELECT id FROM chunks WHERE id >= ? ORDER BY id", (first,)):
            if len(found) >= limit:
                break
            chunk = self._cached_chunk(chunk_id) or self._read_chunk(db, chunk_id)
            if chunk is None:  # removed meanwhile, by the forwarder's thread
                continue
            last = chunk
            start = (after & _INDEX) + 1 if chunk_id == first else 0
            stop = min(len(chunk.texts), start + limit - len(found))
            base, kinds, texts = chunk_id << SHIFT, chunk.kinds, chunk.texts
            found += [Entry(base | i, _KIND[kinds[i]], texts[i]) for i in range(start, stop)]
        with self._cache_lock:
            if last is not None and generation == self._generation:  # no replace meanwhile
                self._cached = last
        return found

    def _cached_chunk(self, chunk_id: int) -> _Chunk | None:
        with self._cache_lock:
            cached = self._cached
        return cached if cached is not None and cached.id == chunk_id else None

    @staticmethod
    def _read_chunk(db: sqlite3.Connection, chunk_id: int) -> _Chunk | None:
        row = db.execute("SELECT kinds, texts FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        return None if row is None else _Chunk(chunk_id, row[0], row[1].split("\n"))

    def replace(self, entry_id: int, kind: Kind, body: dict[str, Any]) -> None:
        """Put another entry in the place of one (the forwarder sets aside one the backend
        refuses); it keeps its place in the queue."""
        self.replace_many([(entry_id, kind, body)])

    def replace_many(self, entries: Iterable[tuple[int, Kind, dict[str, Any]]]) -> None:
        """``replace`` for several entries, each chunk rewritten once, all in one transaction
        (a batch of readings of unregistered devices is refused whole)."""
        by_chunk: dict[int, list[tuple[int, Kind, dict[str, Any]]]] = {}
        for entry_id, kind, body in entries:
            by_chunk.setdefault(entry_id >> SHIFT, []).append((entry_id & _INDEX, kind, body))
        if not by_chunk:
            return
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            for chunk_id, changes in by_chunk.items():
                row = db.execute(
                    "SELECT count, kinds, texts, origins FROM chunks WHERE id = ?", (chunk_id,)
                ).fetchone()
                if row is None:
                    continue  # removed: stored meanwhile
                kinds, texts = list(row[1]), row[2].split("\n")
                origins = _origins_of(row[3], row[0])
                for index, kind, body in changes:
                    kinds[index], texts[index], origins[index] = _CODE[kind], _text(body), None
                db.execute(
                    "UPDATE chunks SET kinds = ?, texts = ?, origins = ? WHERE id = ?",
                    ("".join(kinds), "\n".join(texts), _origins_blob(origins), chunk_id),
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            with self._cache_lock:
                self._cached = None
                self._generation += 1

    def origins(self, entry_ids: Sequence[int]) -> dict[int, Origin]:
        """The origins of these entries, where they have one."""
        found: dict[int, Origin] = {}
        db = self._db()
        for chunk_id in sorted({entry_id >> SHIFT for entry_id in entry_ids}):
            row = db.execute(
                "SELECT count, origins FROM chunks WHERE id = ?", (chunk_id,)
            ).fetchone()
            if row is None or row[1] is None:
                continue
            origins = _origins_of(row[1], row[0])
            for entry_id in entry_ids:
                if entry_id >> SHIFT == chunk_id:
                    origin = origins[entry_id & _INDEX]
                    if origin is not None:
                        found[entry_id] = origin
        return found

    def remove_through(self, last_id: int) -> None:
        """Forget every entry up to and including ``last_id`` (the backend has them)."""
        try:
            self._remove_through(last_id)
        except sqlite3.OperationalError as err:
            if not _disk_full(err):
                raise
            # The write-ahead log grew into the reserve: fold it back into the file, then retry.
            self._db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._remove_through(last_id)

    def _remove_through(self, last_id: int) -> None:
        db = self._db()
        chunk_id, index = last_id >> SHIFT, last_id & _INDEX
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT count FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
            whole = row is None or index + 1 >= row[0]  # the chunk's last entry: all of it
            db.execute("DELETE FROM chunks WHERE id < ?", (chunk_id + 1 if whole else chunk_id,))
            db.execute(
                "INSERT INTO head (one, removed) VALUES (1, ?) ON CONFLICT (one) DO UPDATE"
                " SET removed = max(removed, excluded.removed)",
                (last_id,),
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def __len__(self) -> int:
        return self._count()

    def close(self) -> None:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _convert_rows_of_before(db: sqlite3.Connection) -> None:
    """A spool of an earlier gateway kept a row per entry (table ``spool``): its entries move
    into chunks, in their order, in the caller's transaction, and the old table goes."""
    if not db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'spool'"
    ).fetchone():
        return
    columns = {row[1] for row in db.execute("PRAGMA table_info(spool)")}
    origin = "raw_id, raw" if {"raw_id", "raw"} <= columns else "NULL, NULL"
    cursor = db.execute(f"SELECT kind, body, {origin} FROM spool ORDER BY id")  # noqa: S608 - fixed names
    while rows := cursor.fetchmany(10_000):
        db.execute(
            "INSERT INTO chunks (count, kinds, texts, origins) VALUES (?, ?, ?, ?)",
            _chunk_row(
                [kind for kind, _, _, _ in rows],
                [body for _, body, _, _ in rows],
                [None if raw_id is None else Origin(raw_id, raw) for _, _, raw_id, raw in rows],
            ),
        )
    db.execute("DROP TABLE spool")
