"""InfluxDB through its v1 HTTP API: line protocol to ``/write``, InfluxQL on ``/query``.

InfluxDB 1.x serves that API natively and 2.x/3.x through their v1 compatibility endpoints, so
this one adapter covers all three. The line protocol is ``influxdb_client.Point``'s: written
here when nothing needs escaping, by ``Point`` otherwise (tests/unit/test_influx_lines.py); the
HTTP calls are plain httpx, because the client library speaks only the v2 API.

Schema: measurements ``lamp``, ``bin`` and ``status``; tags ``device``, ``village``, ``place``;
fields are the kind's measured values (None is left out), ``boot``, ``seq`` and, for a reading
the gateway stamped because the node's clock was not yet synced, ``synced=false``. The flag is
left out when true, as nearly every reading is: one value fewer per point, which InfluxDB would
parse and store for nothing (writing the benchmark's lamp lines without it costs influxd 15 to
20 % less CPU: docs/performance.md, round 4). ``WHERE "synced" = false`` still finds the
gateway-stamped readings. A point without the flag reads back as synced, as do points written
before this change (with ``synced=true``). A lamp's ``fault`` is written only when true, for
the same reason (``port.STORED_WHEN_TRUE``), and reads back false when left out.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

import httpx

from ..domain.readings import (
    FIELDS,
    AlertEvent,
    DailyScore,
    DevicePoint,
    StatusEvent,
    StoredReading,
    Value,
)
from .port import (
    FIELD_TYPES,
    KINDS,
    STORED_WHEN_TRUE,
    DailySums,
    FieldType,
    Kind,
    TimeSeriesError,
    TimeSeriesStore,
    TimeSeriesUnavailable,
    Window,
    as_stored,
    check_names,
    check_windows,
    clip_windows,
    coerce,
    keep_within,
    kinds,
    stored_values,
)

SECOND_NS = 1_000_000_000
CHUNK_LINES = 5_000
# Daily scores live in their own retention policy, kept forever, so that the database's default
# policy (the raw readings) can expire after a set time (docs/deploy.md). Dashboards read
# "rollups"."score_daily".
ROLLUP_RP = "rollups"
# A year per shard: a village-day is one small point, and InfluxDB's default of a week per
# shard for a policy kept forever made a year's sums open 52 shards per series and field
# (docs/performance.md, the province's ranking).
ROLLUP_SHARD, ROLLUP_SHARD_SHOWN = "52w", "8736h0m0s"
IDS_PER_QUERY = 200  # devices per InfluxQL query of ``series``: the query stays a few kB
Row = dict[str, Any]
# A query InfluxDB 1.x could not run for now answers 200 with one of these as its error: the
# server stopping ("query engine shutdown", seen when influxd stops mid-query), a query killed
# or timed out, too many at once. The same query may run later, as after a refused connection.
TRANSIENT_QUERY_ERRORS = (
    "query engine shutdown",
    "query interrupted",
    "query aborted",
    "query-timeout limit exceeded",
    "max-concurrent-queries limit exceeded",
)


def timestamp_ns(reading: StoredReading) -> int:
    """The reading's time in ns, made unique per reading and the same at every rewrite.

    InfluxDB keeps one point per series and timestamp, and a later write to the same timestamp
    replaces the earlier one. At ``ts * 1e9`` two readings of one device in the same second would
    overwrite each other; a random or arrival-time offset would store a rewritten batch twice.
    The sub-second part is derived from the identity instead: ``(boot % 1000) * 1e6 + seq % 1e6``
    ns, always below one second, so ``ts`` is unchanged and readings sort by (ts, boot, seq)
    while boot < 1000 and seq < 1e6. Two readings collide only when they share a second and both
    boot modulo 1000 and seq modulo 1e6, which one device cannot do.
    """
    return reading.ts * SECOND_NS + (reading.boot % 1000) * 1_000_000 + reading.seq % 1_000_000


def reading_line(reading: StoredReading) -> str:
    """The same line as ``Point`` writes (tests/unit/test_influx_lines.py), about 10x faster.

    Readings are the hot path of ingest: registry ids need no escaping, and the fields (plain
    names, in the order ``Point`` sorts them) are formatted here, each typed as
    ``stored_values`` types it; a value of another type goes through ``coerce`` as there.
    A value already of its field's type (nearly all) is formatted inline, as ``_field`` would:
    a call per field was a third of the line's cost (docs/performance.md, issue 22).
    """
    values = reading.values
    if reading.kind == "lamp":
        line = _common_lamp_line(reading, values)
        if line is not None:
            return line
    order = _FIELD_ORDER[reading.kind]
    if not values.keys() <= order.keys():
        stored_values(reading)  # raises: the reading has fields its kind does not have
    parts: list[str] = []
    append = parts.append
    for name, typed in order.items():
        if typed is None:  # boot, seq and synced: the reading's own
            if name == "synced":
                if not reading.synced:  # left out when true (module docstring)
                    append("synced=false")
            else:
                append(f"{name}={reading.boot if name == 'boot' else reading.seq}i")
            continue
        value = values.get(name)
        if value is None:
            continue
        if type(value) is not typed:
            value = coerce(name, value)
        if value is False and name in STORED_WHEN_TRUE:
            continue
        if type(value) is float:
            if value - value == 0.0:  # finite: inf - inf and nan - nan are nan
                text = repr(value)
                append(f"{name}={text[:-2] if text.endswith('.0') else text}")
            continue
        if type(value) is bool:
            append(f"{name}={'true' if value else 'false'}")
            continue
        if type(value) is int:
            append(f"{name}={value}i")
            continue
        text = _field(name, value)
        if text:
            append(text)
    head = _reading_head(reading.kind, reading.device_id, reading.village_id, reading.place_id)
    return f"{head}{','.join(parts)} {timestamp_ns(reading)}"


def _common_lamp_line(reading: StoredReading, values: dict[str, Value]) -> str | None:
    """The common lamp reading's line in one step: synced, every value present (but perhaps the
    signal strength) and of its stored type, its floats finite, no sensor failed. None for any
    other lamp reading, which ``reading_line`` then writes field by field (the same bytes:
    tests/unit/test_influx_lines.py). The fields in Point's order: boot, current_a, fault (when
    true), lux, on, rssi (when known), seq, voltage_v."""
    on, fault, rssi = values.get("on"), values.get("fault"), values.get("rssi")
    current, voltage, lux = values.get("current_a"), values.get("voltage_v"), values.get("lux")
    if (
        not reading.synced
        or type(on) is not bool
        or type(fault) is not bool
        or (rssi is not None and type(rssi) is not int)
        or type(current) is not float
        or type(voltage) is not float
        or type(lux) is not float
        or current - current != 0.0  # inf - inf and nan - nan are nan
        or voltage - voltage != 0.0
        or lux - lux != 0.0
        or values.get("sensor_errors") is not None
        or not values.keys() <= _LAMP_KEYS
    ):
        return None
    head = _reading_head("lamp", reading.device_id, reading.village_id, reading.place_id)
    current_text, voltage_text, lux_text = repr(current), repr(voltage), repr(lux)
    return (
        f"{head}boot={reading.boot}i,"
        f"current_a={current_text[:-2] if current_text.endswith('.0') else current_text},"
        f"{'fault=true,' if fault else ''}"  # stored only when true (STORED_WHEN_TRUE)
        f"lux={lux_text[:-2] if lux_text.endswith('.0') else lux_text},"
        f"on={'true' if on else 'false'},{'' if rssi is None else f'rssi={rssi}i,'}"
        f"seq={reading.seq}i,"
        f"voltage_v={voltage_text[:-2] if voltage_text.endswith('.0') else voltage_text} "
        f"{timestamp_ns(reading)}"
    )


_LAMP_KEYS = frozenset(FIELDS["lamp"])


# Per kind, its fields in Point's (sorted) order with their stored type; None: a reading's own.
_FIELD_ORDER: dict[str, dict[str, FieldType | None]] = {
    kind: dict(sorted({**{name: FIELD_TYPES[name] for name in names},
                       "boot": None, "seq": None, "synced": None}.items()))
    for kind, names in FIELDS.items()
}  # fmt: skip


# Characters that line protocol never escapes: registry ids and kinds are made of them.
_PLAIN = re.compile(r"[A-Za-z0-9_.:-]+")


def _reading_head(kind: str, device_id: str, village_id: str, place_id: str) -> str:
    """``kind,device=...,place=...,village=... ``: registry ids as they are, anything else
    escaped by ``Point`` itself. (A cache per device cost about 40 MB at 100,000 devices.)"""
    if (
        kind
        and device_id
        and village_id
        and place_id
        and _PLAIN.fullmatch(f"{kind}{device_id}{village_id}{place_id}")
    ):
        return f"{kind},device={device_id},place={place_id},village={village_id} "
    return _escaped_head(kind, device_id, village_id, place_id)


@functools.lru_cache(maxsize=1024)
def _escaped_head(kind: str, device_id: str, village_id: str, place_id: str) -> str:
    """``kind,device=...,place=...,village=... `` escaped by ``Point`` itself."""
    tags = {"device": device_id, "village": village_id, "place": place_id}
    line = _line(kind, tags, {"_": 0}, 0)
    return line[: -len("_=0i 0")]


_ESCAPE_STRING = str.maketrans({'"': '\\"', "\\": "\\\\"})


def _field(name: str, value: Value) -> str:
    # Point's rules: None and non-finite floats are left out, a float loses a trailing ".0",
    # an int gets "i", a bool is true/false. Field names are plain (checked below).
    if value is None:
        return ""
    if value is True or value is False:
        return f"{name}={'true' if value else 'false'}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        text = str(value)
        return f"{name}={text[:-2] if text.endswith('.0') else text}"
    if isinstance(value, str):  # sensor_errors: sensor names, yet escaped as Point does
        return f'{name}="{value.translate(_ESCAPE_STRING)}"'
    return f"{name}={value}i"


assert all(
    re.fullmatch(r"[a-z_]+", name) for names in FIELDS.values() for name in (*names, "boot")
), "field names must need no escaping in line protocol"


def status_line(event: StatusEvent) -> str:
    return _line(
        "status", {"device": event.device_id}, {"online": event.online}, event.ts * SECOND_NS
    )


def score_line(score: DailyScore) -> str:
    return _line("score_daily", {"village": score.village_id}, score.values, score.day * SECOND_NS)


def device_line(point: DevicePoint) -> str:
    tags = {"device": point.device_id, "kind": point.kind, "village": point.village_id}
    fields: dict[str, Value | str] = {"lat": point.lat, "lon": point.lon, "state": point.state}
    return _line("device", tags, fields, point.ts * SECOND_NS)


def alert_line(event: AlertEvent) -> str:
    # One point per alert and event: the id and the event set the sub-second offset.
    offset = (event.alert_id % 1_000_000) * 1000 + (event.what == "cleared")
    return _line(
        "alert",
        {"device": event.device_id, "village": event.village_id, "type": event.type},
        {"alert_id": event.alert_id, "what": event.what},
        event.ts * SECOND_NS + offset,
    )


def _line(
    measurement: str, tags: dict[str, str], fields: Mapping[str, Value | str], time_ns: int
) -> str:
    plain = _plain_line(measurement, tags, fields, time_ns)
    if plain is not None:
        return plain
    # Imported only here: the influxdb_client package costs about 13 MB of memory, and only
    # names and values that need escaping come this far.
    from influxdb_client.client.write.point import Point

    # Point escapes names and tag values, marks integers with "i" and leaves out None fields;
    # an int time is written as is, in ns, Point's default precision.
    point = Point.from_dict(
        {"measurement": measurement, "tags": tags, "fields": fields, "time": time_ns}
    )
    line: str = point.to_line_protocol()
    return line


def _plain_line(
    measurement: str, tags: dict[str, str], fields: Mapping[str, Value | str], time_ns: int
) -> str | None:
    """``Point``'s line when no name, tag or text needs escaping (the usual case), else None."""
    if not _PLAIN.fullmatch(measurement):
        return None
    parts = []
    for key, tag in sorted(tags.items()):
        if not (_PLAIN.fullmatch(key) and _PLAIN.fullmatch(tag)):
            return None
        parts.append(f"{key}={tag}")
    values = []
    for name, value in sorted(fields.items()):
        if not _PLAIN.fullmatch(name):
            return None
        if isinstance(value, str):
            if not _PLAIN.fullmatch(value):
                return None
            values.append(f'{name}="{value}"')
        elif value is None or type(value) in (bool, int, float):
            text = _field(name, value)
            if text:
                values.append(text)
        else:
            return None
    if not values:
        return None
    return f"{','.join([measurement, *parts])} {','.join(values)} {time_ns}"


class InfluxStore(TimeSeriesStore):
    def __init__(
        self,
        url: str,
        db: str,
        username: str | None = None,
        password: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.db = db
        auth = httpx.BasicAuth(username, password or "") if username else None
        self._http = httpx.Client(base_url=url, auth=auth, timeout=timeout)

    def ensure_ready(self) -> None:
        # SHOW first: a user without admin rights (or InfluxDB 2.x, whose databases are buckets
        # mapped by DBRP) may not CREATE, but can use a database that already exists.
        shown = self._query("SHOW DATABASES")
        if not any(row["name"] == self.db for row in _rows(shown)):
            self._query(f"CREATE DATABASE {_identifier(self.db)}")
        policies = self._query(f"SHOW RETENTION POLICIES ON {_identifier(self.db)}")
        rollups = [row for row in _rows(policies) if row["name"] == ROLLUP_RP]
        target = f"{_identifier(ROLLUP_RP)} ON {_identifier(self.db)}"
        if not rollups:
            self._query(
                f"CREATE RETENTION POLICY {target} DURATION INF REPLICATION 1 "
                f"SHARD DURATION {ROLLUP_SHARD}"
            )
        elif rollups[0].get("shardGroupDuration") != ROLLUP_SHARD_SHOWN:
            # Policies made before: their later shards get the long duration too.
            self._query(f"ALTER RETENTION POLICY {target} SHARD DURATION {ROLLUP_SHARD}")

    def write(self, readings: Sequence[StoredReading]) -> None:
        self._write_lines([reading_line(reading) for reading in readings])

    def write_statuses(self, events: Sequence[StatusEvent]) -> None:
        self._write_lines([status_line(event) for event in events])

    def write_daily_scores(self, scores: Sequence[DailyScore]) -> None:
        # Rewriting a day replaces the point's fields (same series and time), so recomputing
        # the same data is idempotent. A field that became None keeps its old value here:
        # InfluxDB cannot store "no value" (SQLite replaces the whole row).
        self._write_lines([score_line(score) for score in scores], rp=ROLLUP_RP)

    def daily_scores(self, *, start: int | None = None, end: int | None = None) -> list[DailyScore]:
        where = _where(start=start, end=end)
        source = f'{_identifier(ROLLUP_RP)}."score_daily"'
        series = self._query(f"SELECT * FROM {source}{where} ORDER BY time ASC")  # noqa: S608
        found = [
            DailyScore(
                row["village"],
                row["time"] // SECOND_NS,
                {k: v for k, v in row.items() if k not in ("time", "village")},
            )
            for row in _rows(series)
        ]
        return sorted(found, key=lambda s: (s.day, s.village_id))

    def daily_sums(
        self, summed: Sequence[str], last: Sequence[str], *, start: int, end: int
    ) -> dict[str, DailySums]:
        # count(*) counts each field; the first summed field's count is the rows (all have it).
        selected = ", ".join(
            [f"count({_identifier(summed[0])})"]
            + [f"sum({_identifier(name)})" for name in summed]
            + [f"last({_identifier(name)})" for name in last]
        )
        source = f'{_identifier(ROLLUP_RP)}."score_daily"'
        q = f'SELECT {selected} FROM {source}{_where(start=start, end=end)} GROUP BY "village"'  # noqa: S608
        found = {}
        for one in self._query(q):
            for row in one.get("values", [])[:1]:
                values = row[1:]  # after the time column
                found[one["tags"]["village"]] = DailySums(
                    int(values[0] or 0),
                    {name: values[1 + i] or 0 for i, name in enumerate(summed)},
                    {name: values[1 + len(summed) + i] for i, name in enumerate(last)},
                )
        return found

    def write_alert_events(self, events: Sequence[AlertEvent]) -> None:
        self._write_lines([alert_line(event) for event in events])

    def write_device_points(self, points: Sequence[DevicePoint]) -> None:
        self._write_lines([device_line(point) for point in points])

    def device_points(
        self, *, start: int | None = None, end: int | None = None
    ) -> list[DevicePoint]:
        where = _where(start=start, end=end)
        series = self._query(f'SELECT * FROM "device"{where} ORDER BY time ASC')  # noqa: S608
        found = [
            DevicePoint(
                row["device"], row["kind"], row["village"], float(row["lat"]),
                float(row["lon"]), row["state"], row["time"] // SECOND_NS,
            )
            for row in _rows(series)
        ]  # fmt: skip
        return sorted(found, key=lambda p: (p.ts, p.device_id))

    def alert_events(self, *, start: int | None = None, end: int | None = None) -> list[AlertEvent]:
        where = _where(start=start, end=end)
        series = self._query(f'SELECT * FROM "alert"{where} ORDER BY time ASC')  # noqa: S608
        return [
            AlertEvent(
                int(row["alert_id"]), row["device"], row.get("village") or "", row["type"],
                row["what"], row["time"] // SECOND_NS,
            )
            for row in _rows(series)
        ]  # fmt: skip

    def count(
        self,
        *,
        kind: str | None = None,
        device_id: str | None = None,
        village_id: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> int:
        where = _where(device=device_id, village=village_id, start=start, end=end)
        series = self._query(f"SELECT count(seq) FROM {_measurements(kinds(kind))}{where}")  # noqa: S608
        return sum(int(row["count"]) for row in _rows(series))

    def readings(
        self,
        device_id: str,
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int = 10_000,
    ) -> list[StoredReading]:
        where = _where(device=device_id, start=start, end=end)
        # LIMIT applies per measurement; a device has one kind, but merge in case it changed.
        q = f"SELECT * FROM {_measurements(KINDS)}{where} ORDER BY time ASC LIMIT {int(limit)}"  # noqa: S608
        series = self._query(q)
        found = [_reading(one["name"], row) for one in series for row in _rows([one])]
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
        ids = list(found)
        if within is not None:
            # A year of windows OR'd into InfluxQL would be a slow query: ask for their span,
            # keep what falls inside them here.
            check_windows(within)
            within = clip_windows(within, start, end)
            if not within:
                return found
            start, end = within[0][0], within[-1][1]
        # boot and seq are always there: a row whose selected fields are all null is left out.
        selected = ", ".join(_identifier(name) for name in ("boot", "seq", *names))
        flags = {3 + n: name for n, name in enumerate(names) if name in STORED_WHEN_TRUE}
        for chunk in self._device_chunks(ids):
            where = _where(start=start, end=end)
            where = f"{where} AND ({chunk})" if where else f" WHERE {chunk}"
            q = f'SELECT {selected} FROM {_identifier(kind)}{where} GROUP BY "device"'  # noqa: S608
            for one in self._query(q):
                columns = one["columns"]
                at = [columns.index(name) if name in columns else None for name in names]
                boot, seq = columns.index("boot"), columns.index("seq")
                rows = [
                    (
                        row[0] // SECOND_NS,
                        row[boot],
                        row[seq],
                        *(None if i is None else row[i] for i in at),
                    )
                    for row in one.get("values", [])
                ]
                if flags:  # left out when false (STORED_WHEN_TRUE): false, as readings gives
                    rows = [_flags_false(row, flags) for row in rows]
                rows.sort(key=itemgetter(0, 1, 2))  # time order is (ts, boot, seq) below boot 1000
                found[one["tags"]["device"]] = [(row[0], *row[3:]) for row in rows]
        if within is not None:
            found = {device_id: keep_within(rows, within) for device_id, rows in found.items()}
        return found

    def last_before(
        self, kind: Kind, device_ids: Sequence[str], names: Sequence[str], before: int
    ) -> dict[str, tuple[Any, ...] | None]:
        (kind,) = kinds(kind)
        check_names(kind, names)
        found: dict[str, tuple[Any, ...] | None] = dict.fromkeys(device_ids)
        selected = ", ".join(_identifier(name) for name in ("boot", "seq", *names))
        for chunk in self._device_chunks(list(found)):
            where = f"{_where(end=before)} AND ({chunk})"
            q = (
                f"SELECT {selected} FROM {_identifier(kind)}{where}"  # noqa: S608
                ' GROUP BY "device" ORDER BY time DESC LIMIT 1'
            )
            for one in self._query(q):
                columns = one["columns"]
                for row in one.get("values", [])[:1]:
                    values = dict(zip(columns, row, strict=True))
                    found[one["tags"]["device"]] = (
                        row[0] // SECOND_NS,
                        *(
                            as_stored(name, values.get(name))
                            if name in STORED_WHEN_TRUE
                            else values.get(name)
                            for name in names
                        ),
                    )
        return found

    def first_seen(self, kind: Kind, device_ids: Sequence[str]) -> dict[str, int | None]:
        (kind,) = kinds(kind)
        found: dict[str, int | None] = dict.fromkeys(device_ids)
        for chunk in self._device_chunks(list(found)):
            q = f'SELECT first("seq") FROM {_identifier(kind)} WHERE {chunk} GROUP BY "device"'  # noqa: S608
            for one in self._query(q):
                for row in one.get("values", [])[:1]:
                    found[one["tags"]["device"]] = row[0] // SECOND_NS
        return found

    def _device_chunks(self, ids: list[str]) -> Iterator[str]:
        """``"device" = ... OR ...`` for the ids, a few kB of InfluxQL at a time."""
        for first in range(0, len(ids), IDS_PER_QUERY):
            yield " OR ".join(
                f'"device" = {_literal(device_id)}'
                for device_id in ids[first : first + IDS_PER_QUERY]
            )

    def keys(
        self, device_id: str, *, start: int | None = None, end: int | None = None
    ) -> set[tuple[int, int]]:
        where = _where(device=device_id, start=start, end=end)
        series = self._query(f'SELECT "boot", "seq" FROM {_measurements(KINDS)}{where}')  # noqa: S608
        return {(int(row["boot"]), int(row["seq"])) for row in _rows(series)}

    def statuses(
        self, device_id: str, *, start: int | None = None, end: int | None = None
    ) -> list[StatusEvent]:
        where = _where(device=device_id, start=start, end=end)
        series = self._query(f'SELECT "online" FROM "status"{where} ORDER BY time ASC')  # noqa: S608
        return [
            StatusEvent(device_id, bool(row["online"]), row["time"] // SECOND_NS)
            for row in _rows(series)
        ]

    def close(self) -> None:
        self._http.close()

    def _write_lines(self, lines: list[str], rp: str | None = None) -> None:
        # Chunks keep each request small; a failure part-way is safe to retry whole, because
        # every point lands on its own deterministic timestamp.
        for first in range(0, len(lines), CHUNK_LINES):
            body = "\n".join(lines[first : first + CHUNK_LINES]).encode()
            params = {"db": self.db, "precision": "ns", **({"rp": rp} if rp else {})}
            self._post("/write", params=params, content=body)

    def _query(self, q: str) -> list[Row]:
        response = self._post("/query", params={"db": self.db, "epoch": "ns"}, data={"q": q})
        try:
            results = response.json().get("results") or [{}]
        except ValueError as err:
            raise TimeSeriesError(
                f"InfluxDB answered {q!r} with no JSON: {response.text[:200]}"
            ) from err
        # A statement InfluxDB refuses still answers 200, with the reason inside the result.
        if "error" in results[0]:
            reason = str(results[0]["error"])
            transient = reason.startswith(TRANSIENT_QUERY_ERRORS)
            error = TimeSeriesUnavailable if transient else TimeSeriesError
            raise error(f"InfluxDB refused {q!r}: {reason}")
        series: list[Row] = results[0].get("series", [])
        return series

    def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.post(path, **kwargs)
        except httpx.TransportError as err:
            raise TimeSeriesUnavailable(f"InfluxDB at {self._http.base_url}: {err!r}") from err
        try:
            response.raise_for_status()
        except httpx.HTTPStatusError as err:
            error = TimeSeriesUnavailable if _retryable(response.status_code) else TimeSeriesError
            raise error(
                f"InfluxDB answered {response.status_code} to {path}: {_reason(response)}"
            ) from err
        return response


def _retryable(status: int) -> bool:
    return status >= 500 or status == 429


def _reason(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500] or response.reason_phrase


def _flags_false(row: tuple[Any, ...], at: dict[int, str]) -> tuple[Any, ...]:
    """The row with each flag (position: name) as stored, true or false (``as_stored``)."""
    if all(row[i] is not None for i in at):
        return row
    out = list(row)
    for i, name in at.items():
        out[i] = as_stored(name, out[i])
    return tuple(out)


def _rows(series: list[Row]) -> Iterator[Row]:
    for one in series:
        for values in one.get("values", []):
            yield dict(zip(one["columns"], values, strict=True))


def _reading(kind: Kind, row: Row) -> StoredReading:
    return StoredReading(
        device_id=row["device"],
        kind=kind,
        # Point leaves out an empty tag, so an empty id comes back as a missing column.
        village_id=row.get("village") or "",
        place_id=row.get("place") or "",
        boot=int(row["boot"]),
        seq=int(row["seq"]),
        ts=row["time"] // SECOND_NS,
        synced=row.get("synced") is not False,  # left out when true
        values={name: as_stored(name, row.get(name)) for name in FIELDS[kind]},
    )


def _where(
    *,
    device: str | None = None,
    village: str | None = None,
    start: int | None = None,
    end: int | None = None,
) -> str:
    """A WHERE clause; values go through _literal or int(), hence the callers' noqa: S608."""
    conditions = [
        f"{_identifier(tag)} = {_literal(value)}"
        for tag, value in (("device", device), ("village", village))
        if value is not None
    ]
    # The sub-second offset of timestamp_ns stays below 1 s, so whole seconds bound exactly.
    if start is not None:
        conditions.append(f"time >= {int(start) * SECOND_NS}")
    if end is not None:
        conditions.append(f"time < {int(end) * SECOND_NS}")
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def _measurements(selected: tuple[Kind, ...]) -> str:
    return ", ".join(_identifier(kind) for kind in selected)


def _identifier(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
