"""The embedded default: SQLite, so one command runs the product with no server installed.

One table per kind with a column per field; ``UNIQUE(device_id, boot, seq)`` with
``INSERT OR IGNORE`` makes a rewrite harmless.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

from sangsach.private_files import private_sqlite_file

from ..domain.readings import (
    FIELDS,
    AlertEvent,
    DailyScore,
    DevicePoint,
    StatusEvent,
    StoredReading,
)
from .port import (
    FIELD_TYPES,
    KINDS,
    DailySums,
    Kind,
    TimeSeriesError,
    TimeSeriesStore,
    TimeSeriesUnavailable,
    Window,
    as_stored,
    check_names,
    check_windows,
    clip_windows,
    kinds,
    stored_values,
)

KEY_COLUMNS = ("device_id", "village_id", "place_id", "boot", "seq", "ts", "synced")
# The windows of one ``series(within=...)`` call, per connection; the lock keeps them its own.
WINDOWS_SCHEMA = (
    "CREATE TEMP TABLE IF NOT EXISTS series_windows (a INTEGER PRIMARY KEY, b INTEGER NOT NULL)"
)


def _table(kind: Kind) -> str:
    return f"{kind}_readings"


def _columns(kind: Kind) -> str:
    # Quoted: the lamp's field "on" is an SQL keyword.
    return ", ".join(f'"{name}"' for name in (*KEY_COLUMNS, *FIELDS[kind]))


def _sql_type(name: str) -> str:
    typed = FIELD_TYPES[name]
    return "REAL" if typed is float else "TEXT" if typed is str else "INTEGER"


def _schema(kind: Kind) -> str:
    table = _table(kind)
    fields = ", ".join(f'"{name}" {_sql_type(name)}' for name in FIELDS[kind])
    return f"""
        CREATE TABLE IF NOT EXISTS {table} (
            device_id TEXT NOT NULL, village_id TEXT NOT NULL, place_id TEXT NOT NULL,
            boot INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
            synced INTEGER NOT NULL, {fields},
            UNIQUE (device_id, boot, seq)
        );
        CREATE INDEX IF NOT EXISTS {table}_device_ts ON {table} (device_id, ts);
        CREATE INDEX IF NOT EXISTS {table}_village_ts ON {table} (village_id, ts);
    """


STATUS_SCHEMA = """
    CREATE TABLE IF NOT EXISTS status_events (
        device_id TEXT NOT NULL, ts INTEGER NOT NULL, online INTEGER NOT NULL,
        PRIMARY KEY (device_id, ts)
    );
    CREATE TABLE IF NOT EXISTS alert_events (
        alert_id INTEGER NOT NULL, what TEXT NOT NULL, device_id TEXT NOT NULL,
        village_id TEXT NOT NULL, type TEXT NOT NULL, ts INTEGER NOT NULL,
        PRIMARY KEY (alert_id, what)
    );
    CREATE TABLE IF NOT EXISTS daily_scores (
        village_id TEXT NOT NULL, day INTEGER NOT NULL, "values" TEXT NOT NULL,
        PRIMARY KEY (village_id, day)
    );
    CREATE INDEX IF NOT EXISTS daily_scores_day ON daily_scores (day);
    CREATE TABLE IF NOT EXISTS device_points (
        device_id TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL,
        village_id TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, state TEXT NOT NULL,
        PRIMARY KEY (device_id, ts)
    );
"""


class SqliteStore(TimeSeriesStore):
    """One connection shared behind a lock: FastAPI calls it from its threadpool.

    The file is opened at first use, so building the store never fails; its errors surface,
    translated, from the first call.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def ensure_ready(self) -> None:
        with self._locked() as db:
            db.executescript("".join(_schema(kind) for kind in KINDS) + STATUS_SCHEMA)
            for kind in KINDS:  # a field added to the contract since the table was made
                have = {row[1] for row in db.execute(f"PRAGMA table_info({_table(kind)})")}
                for name in FIELDS[kind]:
                    if name not in have:
                        db.execute(
                            f'ALTER TABLE {_table(kind)} ADD COLUMN "{name}" {_sql_type(name)}'
                        )

    def write(self, readings: Sequence[StoredReading]) -> None:
        rows: dict[Kind, list[tuple[object, ...]]] = {kind: [] for kind in KINDS}
        for reading in readings:
            rows[reading.kind].append(_row(reading))
        with self._locked() as db, db:  # one transaction: the batch is stored whole or not at all
            for kind, kind_rows in rows.items():
                marks = ", ".join("?" * (len(KEY_COLUMNS) + len(FIELDS[kind])))
                db.executemany(
                    f"INSERT OR IGNORE INTO {_table(kind)} ({_columns(kind)}) VALUES ({marks})",  # noqa: S608
                    kind_rows,
                )

    def write_statuses(self, events: Sequence[StatusEvent]) -> None:
        with self._locked() as db, db:
            db.executemany(
                "INSERT INTO status_events (device_id, ts, online) VALUES (?, ?, ?)"
                " ON CONFLICT (device_id, ts) DO UPDATE SET online = excluded.online",
                [(event.device_id, event.ts, event.online) for event in events],
            )

    def write_daily_scores(self, scores: Sequence[DailyScore]) -> None:
        with self._locked() as db, db:
            db.executemany(
                'INSERT INTO daily_scores (village_id, day, "values") VALUES (?, ?, ?)'
                ' ON CONFLICT (village_id, day) DO UPDATE SET "values" = excluded."values"',
                [(s.village_id, s.day, json.dumps(s.values)) for s in scores],
            )

    def daily_scores(self, *, start: int | None = None, end: int | None = None) -> list[DailyScore]:
        conditions, params = [], []
        if start is not None:
            conditions.append("day >= ?")
            params.append(start)
        if end is not None:
            conditions.append("day < ?")
            params.append(end)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        with self._locked() as db:
            rows = db.execute(
                f'SELECT village_id, day, "values" FROM daily_scores{where} ORDER BY day, village_id',  # noqa: S608
                params,
            ).fetchall()
        return [DailyScore(r[0], int(r[1]), json.loads(r[2])) for r in rows]

    def daily_sums(
        self, summed: Sequence[str], last: Sequence[str], *, start: int, end: int
    ) -> dict[str, DailySums]:
        sums = "".join(
            f", TOTAL(json_extract(\"values\", '$.{_json_key(name)}'))" for name in summed
        )
        lasts = "".join(
            f", (SELECT json_extract(l.\"values\", '$.{_json_key(name)}') FROM daily_scores AS l"  # noqa: S608
            f" WHERE l.village_id = d.village_id AND l.day >= ? AND l.day < ?"
            f" AND json_extract(l.\"values\", '$.{_json_key(name)}') IS NOT NULL"
            " ORDER BY l.day DESC LIMIT 1)"
            for name in last
        )
        counted = f"COUNT(json_extract(d.\"values\", '$.{_json_key(summed[0])}'))"
        sql = (
            f"SELECT d.village_id, {counted}{sums}{lasts} FROM daily_scores AS d"  # noqa: S608
            " WHERE d.day >= ? AND d.day < ? GROUP BY d.village_id"
        )
        with self._locked() as db:
            rows = db.execute(sql, [*(v for _ in last for v in (start, end)), start, end])
            found = {}
            for village_id, days, *values in rows:
                if not days:
                    continue  # only rows without the fields (the first wave's): none to sum
                found[village_id] = DailySums(
                    int(days),
                    {name: _whole(v) for name, v in zip(summed, values, strict=False)},
                    dict(zip(last, values[len(summed) :], strict=True)),
                )
        return found

    def write_alert_events(self, events: Sequence[AlertEvent]) -> None:
        with self._locked() as db, db:
            db.executemany(
                "INSERT OR IGNORE INTO alert_events (alert_id, what, device_id, village_id, type, ts)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(e.alert_id, e.what, e.device_id, e.village_id, e.type, e.ts) for e in events],
            )

    def write_device_points(self, points: Sequence[DevicePoint]) -> None:
        with self._locked() as db, db:
            db.executemany(
                "INSERT OR REPLACE INTO device_points"
                " (device_id, ts, kind, village_id, lat, lon, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(p.device_id, p.ts, p.kind, p.village_id, p.lat, p.lon, p.state) for p in points],
            )

    def device_points(
        self, *, start: int | None = None, end: int | None = None
    ) -> list[DevicePoint]:
        where, params = _where(start=start, end=end)
        with self._locked() as db:
            rows = db.execute(
                "SELECT device_id, kind, village_id, lat, lon, state, ts FROM device_points"  # noqa: S608
                f"{where} ORDER BY ts, device_id",
                params,
            ).fetchall()
        return [DevicePoint(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6])) for r in rows]

    def alert_events(self, *, start: int | None = None, end: int | None = None) -> list[AlertEvent]:
        where, params = _where(start=start, end=end)
        with self._locked() as db:
            rows = db.execute(
                "SELECT alert_id, device_id, village_id, type, what, ts FROM alert_events"  # noqa: S608
                f"{where} ORDER BY ts, alert_id",
                params,
            ).fetchall()
        return [AlertEvent(int(r[0]), r[1], r[2], r[3], r[4], int(r[5])) for r in rows]

    def count(
        self,
        *,
        kind: str | None = None,
        device_id: str | None = None,
        village_id: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> int:
        where, params = _where(device_id=device_id, village_id=village_id, start=start, end=end)
        total = 0
        with self._locked() as db:
            for selected in kinds(kind):
                sql = f"SELECT count(*) FROM {_table(selected)}{where}"  # noqa: S608
                (found,) = db.execute(sql, params)
                total += int(found[0])
        return total

    def readings(
        self,
        device_id: str,
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int = 10_000,
    ) -> list[StoredReading]:
        where, params = _where(device_id=device_id, start=start, end=end)
        found: list[StoredReading] = []
        with self._locked() as db:
            for kind in KINDS:
                sql = f"SELECT {_columns(kind)} FROM {_table(kind)}{where} ORDER BY ts, boot, seq"  # noqa: S608
                cursor = db.execute(f"{sql} LIMIT ?", [*params, limit])
                found.extend(_reading(kind, row) for row in cursor)
        found.sort(key=lambda r: (r.ts, r.boot, r.seq))
        return found[:limit]

    def series(
        self,
        kind: Kind,
        device_ids: Sequence[str],
        names: Sequence[str],
        *,
        start: int | None = None,
        end: int | None = None,
        within: Sequence[Window] | None = None,
    ) -> dict[str, list[tuple[Any, ...]]]:
        (kind,) = kinds(kind)
        check_names(kind, names)
        found: dict[str, list[tuple[Any, ...]]] = {device_id: [] for device_id in device_ids}
        columns = "".join(f', r."{name}"' for name in names)
        windows = None
        if within is None:
            where, params = _where(device_id="", start=start, end=end)
            select = f"SELECT r.ts{columns} FROM {_table(kind)} AS r{where} ORDER BY r.ts"  # noqa: S608
            params = params[1:]  # the "" stood for each device id, bound first below
        else:
            check_windows(within)
            windows = clip_windows(within, start, end)
            if not windows:
                return found
            # CROSS JOIN keeps the windows the outer loop: one range scan of the (device_id, ts)
            # index per window, in window then ts order, with no sort.
            select = (
                f"SELECT r.ts{columns} FROM temp.series_windows AS w CROSS JOIN {_table(kind)} AS r"  # noqa: S608
                " ON r.device_id = ? AND r.ts >= w.a AND r.ts < w.b ORDER BY w.a, r.ts"
            )
            params = []
        with self._locked() as db:
            if windows is not None:
                with db:
                    db.execute(WINDOWS_SCHEMA)
                    db.execute("DELETE FROM temp.series_windows")
                    db.executemany("INSERT INTO temp.series_windows (a, b) VALUES (?, ?)", windows)
            for device_id in found:
                bound = [device_id, *params]
                rows = db.execute(select, bound).fetchall()
                # The index gives ts order; a second holding several readings (rare: a replay,
                # a fast burst) needs boot and seq too, which cost a sort, so only then.
                if len(set(map(itemgetter(0), rows))) < len(rows):
                    rows = db.execute(f"{select}, r.boot, r.seq", bound).fetchall()
                found[device_id] = rows
        return found

    def last_before(
        self, kind: Kind, device_ids: Sequence[str], names: Sequence[str], before: int
    ) -> dict[str, tuple[Any, ...] | None]:
        (kind,) = kinds(kind)
        check_names(kind, names)
        columns = "".join(f', "{name}"' for name in names)
        sql = (
            f"SELECT ts{columns} FROM {_table(kind)} WHERE device_id = ? AND ts < ?"  # noqa: S608
            " ORDER BY ts DESC, boot DESC, seq DESC LIMIT 1"
        )
        with self._locked() as db:
            return {
                device_id: db.execute(sql, (device_id, int(before))).fetchone()
                for device_id in device_ids
            }

    def first_seen(self, kind: Kind, device_ids: Sequence[str]) -> dict[str, int | None]:
        (kind,) = kinds(kind)
        sql = f"SELECT MIN(ts) FROM {_table(kind)} WHERE device_id = ?"  # noqa: S608
        with self._locked() as db:
            return {
                device_id: db.execute(sql, (device_id,)).fetchone()[0] for device_id in device_ids
            }

    def keys(
        self, device_id: str, *, start: int | None = None, end: int | None = None
    ) -> set[tuple[int, int]]:
        where, params = _where(device_id=device_id, start=start, end=end)
        found: set[tuple[int, int]] = set()
        with self._locked() as db:
            for kind in KINDS:
                sql = f"SELECT boot, seq FROM {_table(kind)}{where}"  # noqa: S608
                found.update((int(boot), int(seq)) for boot, seq in db.execute(sql, params))
        return found

    def statuses(
        self, device_id: str, *, start: int | None = None, end: int | None = None
    ) -> list[StatusEvent]:
        where, params = _where(device_id=device_id, start=start, end=end)
        with self._locked() as db:
            sql = f"SELECT device_id, online, ts FROM status_events{where} ORDER BY ts"  # noqa: S608
            cursor = db.execute(sql, params)
            return [StatusEvent(device, bool(online), ts) for device, online, ts in cursor]

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connect()
            # Locked, unopenable, disk full, I/O error: the same call may succeed later.
            except (sqlite3.OperationalError, OSError) as err:
                raise TimeSeriesUnavailable(f"SQLite {self.path}: {err}") from err
            except sqlite3.Error as err:
                raise TimeSeriesError(f"SQLite {self.path}: {err}") from err

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            private_sqlite_file(self.path)
            connection = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            # WAL lets readers run beside the writer. synchronous stays FULL: the gateway drops
            # a batch once ingest answers, so a committed batch must survive a power cut.
            connection.execute("PRAGMA journal_mode=WAL")
            self._connection = connection
        return self._connection


def _row(reading: StoredReading) -> tuple[object, ...]:
    return (
        reading.device_id,
        reading.village_id,
        reading.place_id,
        reading.boot,
        reading.seq,
        reading.ts,
        reading.synced,
        *stored_values(reading).values(),
    )


def _json_key(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a field name: {name!r}")
    return name


def _whole(value: float) -> int | float:
    """SQLite's TOTAL is a float: whole sums (seconds, counts) come back as ints."""
    return int(value) if float(value).is_integer() else value


def _reading(kind: Kind, row: tuple[Any, ...]) -> StoredReading:
    device_id, village_id, place_id, boot, seq, ts, synced, *values = row
    return StoredReading(
        device_id=str(device_id),
        kind=kind,
        village_id=str(village_id),
        place_id=str(place_id),
        boot=boot,
        seq=seq,
        ts=ts,
        synced=bool(synced),
        values={
            name: as_stored(name, value) for name, value in zip(FIELDS[kind], values, strict=True)
        },
    )


def _where(
    *,
    device_id: str | None = None,
    village_id: str | None = None,
    start: int | None = None,
    end: int | None = None,
) -> tuple[str, list[object]]:
    """A WHERE clause with bound values; table names are constants, hence the noqa: S608."""
    conditions: list[str] = []
    params: list[object] = []
    for condition, value in (
        ("device_id = ?", device_id),
        ("village_id = ?", village_id),
        ("ts >= ?", start),
        ("ts < ?", end),
    ):
        if value is not None:
            conditions.append(condition)
            params.append(value)
    return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), params
