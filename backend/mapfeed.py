"""Device positions and states written to the time-series store for Grafana's geomap.

The readings carry no coordinates, and InfluxQL cannot join, so the backend writes measurement
``device`` (tags ``device``, ``kind``, ``village``; fields ``lat``, ``lon`` from the registry and
``state``, ``domain.rules.device_state``: ``lit``, ``off``, ``fault``, ``bin_ok``, ``bin_full``,
``bin_overflow``, ``bin_unmeasured``, ``offline``, ``never``). Cheap: a point only when a device's state changes,
and every device once a day so that any time range of a day or more shows every device.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

from sqlalchemy import Engine, select

from sangsach.province_file import Province
from sangsach.registry_file import Commune

from . import db
from .domain.readings import DevicePoint
from .domain.rules import device_state, thresholds_of
from .timeseries.port import TimeSeriesStore

FULL_EVERY_S = 24 * 3600
PAGE = 5_000  # devices read and written at a time


class MapFeed:
    def __init__(
        self,
        engine: Engine,
        store: TimeSeriesStore,
        commune: Commune | Province,
        clock: Callable[[], float],
    ) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.thresholds = thresholds_of(commune)
        self._written: dict[str, str] = {}  # device -> state last written
        self._full_at: float | None = None

    def points(self) -> list[DevicePoint]:
        """Every registered device with its position and its state now."""
        return [p for page in self._pages() for p in page]

    def _pages(self) -> Iterator[list[DevicePoint]]:
        """The points by device id, a page at a time, each page read on its own connection (so
        that 100,000 devices are never all in memory and no read stays open while writing)."""
        d, s = db.devices, db.device_state
        query = select(
            d.c.id, d.c.kind, d.c.village_id, d.c.lat, d.c.lon, s.c.online, s.c["values"]
        ).outerjoin(s, s.c.device_id == d.c.id)
        now = int(self.clock())
        after: str | None = None
        while True:
            page = query if after is None else query.where(d.c.id > after)
            with self.engine.connect() as conn:
                rows = conn.execute(page.order_by(d.c.id).limit(PAGE)).all()
            if not rows:
                return
            yield [
                DevicePoint(r.id, r.kind, r.village_id, r.lat, r.lon,
                            device_state(r.kind, r.online, r.values,
                                         self.thresholds[r.village_id]), now)
                for r in rows
            ]  # fmt: skip
            after = rows[-1].id

    def tick(self) -> int:
        """Write the points whose state changed (all of them once a day); returns how many."""
        now = self.clock()
        full = self._full_at is None or now - self._full_at >= FULL_EVERY_S
        count = 0
        for page in self._pages():
            changed = [p for p in page if full or self._written.get(p.device_id) != p.state]
            if changed:
                self.store.write_device_points(changed)
            self._written.update((sys.intern(p.device_id), p.state) for p in changed)
            count += len(changed)
        if full:
            self._full_at = now
        return count
