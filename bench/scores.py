"""Score time: one village's year, and a year of daily scores for a village and the commune.

A year of readings of the sample commune goes into the embedded SQLite store first (untimed):
a lamp every ``LAMP_EVERY_S`` (lit from 18:00 to 06:00 local time) and a bin every hour
(filling over three days, then emptied). The timed parts are the ones the backend runs, through
its ``Scores`` service: one village's parts over the year from the raw readings
(``Scores.compute``), ``roll_up`` of 365 daily parts for that village and then for the whole
commune, and the commune's year (indicators and ranking) from those stored days
(``Scores.period``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sangsach.backend.domain.readings import StoredReading, Value
from sangsach.backend.scores.days import local_midnight
from sangsach.backend.scores.service import Scores
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.registry_file import SAMPLE_REGISTRY, Commune, load_registry

LAMP_EVERY_S = 1800
BIN_EVERY_S = 3600
FIRST = date(2025, 1, 1)


def _year(commune: Commune, start: int, end: int) -> Iterator[list[StoredReading]]:
    """The readings, one device at a time."""
    for village in commune.villages:
        for lane in village.lanes:
            for lamp in lane.lamps:
                out = []
                for i, ts in enumerate(range(start, end, LAMP_EVERY_S)):
                    hour = (ts // 3600 + 7) % 24
                    on = hour >= 18 or hour < 6
                    values: dict[str, Value] = {"on": on, "current_a": 0.14 if on else 0.0}
                    out.append(StoredReading(lamp.id, "lamp", village.id, lane.id, 1, i + 1, ts,
                                             True, values))  # fmt: skip
                yield out
        for point in village.points:
            for bin_ in point.bins:
                out = []
                for i, ts in enumerate(range(start, end, BIN_EVERY_S)):
                    fill: dict[str, Value] = {"fill_pct": (i % 72) * 100 / 72}
                    out.append(StoredReading(bin_.id, "bin", village.id, point.id, 1, i + 1, ts,
                                             True, fill))  # fmt: skip
                yield out


def run(root: Path, quick: bool) -> dict[str, Any]:
    commune = load_registry(SAMPLE_REGISTRY)
    days = 31 if quick else 365
    last = FIRST + timedelta(days=days - 1)
    start, end = local_midnight(FIRST), local_midnight(last + timedelta(days=1))
    root.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(root / "scores.sqlite")
    store.ensure_ready()
    loaded = time.monotonic()
    written = 0
    for device in _year(commune, start - 86_400, end):
        store.write(device)
        written += len(device)
    loaded = time.monotonic() - loaded
    village = commune.villages[0]
    one = commune.model_copy(update={"villages": [village]})
    period = "year" if not quick else f"{days} days"
    seconds = {}
    t = time.monotonic()
    parts = Scores(store, None, one).compute(start, end)
    seconds[f"one village ({village.id}), scores over the {period}"] = time.monotonic() - t
    assert parts[village.id].measured, "the village's year has no data"
    t = time.monotonic()
    rows = Scores(store, None, one).roll_up(FIRST, last, recompute=True)
    seconds[f"one village, {days} daily scores"] = time.monotonic() - t
    assert rows == days, rows
    t = time.monotonic()
    rows = Scores(store, None, commune).roll_up(FIRST, last, recompute=True)
    seconds[f"commune ({len(commune.villages)} villages), {days} daily scores each"] = (
        time.monotonic() - t
    )
    assert rows == days * len(commune.villages), rows
    t = time.monotonic()
    result = Scores(store, None, commune).period(start, end)
    seconds[f"commune, the {period} from its stored daily scores"] = time.monotonic() - t
    assert not result.in_progress and result.has_data
    store.close()
    return {
        "data": f"{written:,} readings of {sum(1 for _ in commune.devices())} devices, a lamp "
        f"every {LAMP_EVERY_S // 60} min and a bin every hour, SQLite store, loaded in "
        f"{loaded:.0f} s",
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }
