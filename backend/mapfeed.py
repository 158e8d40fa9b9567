"""Device positions and states written to the time-series store for Grafana's geomap.

The readings carry no coordinates, and InfluxQL cannot join, so the backend writes measurement
``device`` (tags ``device``, ``kind``, ``village``; fields ``lat``, ``lon`` from the registry and
``state``, the web map's state: ``lit``, ``off``, ``fault``, ``bin_ok``, ``bin_full``,
``bin_overflow``, ``offline``, ``never``). Cheap: a point only when a device's state changes,
and every device once a day so that any time range of a day or more shows every device.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, select

from . import db
from .domain.readings import DevicePoint
from .timeseries.port import TimeSeriesStore
from .web.devicemap import state_of

FULL_EVERY_S = 24 * 3600


class MapFeed:
    def __init__(self, engine: Engine, store: TimeSeriesStore, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self._written: dict[str, str] = {}  # device -> state last written
        self._full_at: float | None = None

    def points(self) -> list[DevicePoint]:
        """Every registered device with its position and its state now."""
        d, s = db.devices, db.device_state
        query = select(
            d.c.id, d.c.kind, d.c.village_id, d.c.lat, d.c.lon, s.c.online, s.c["values"]
        ).outerjoin(s, s.c.device_id == d.c.id)
        now = int(self.clock())
        with self.engine.connect() as conn:
            return [
                DevicePoint(r.id, r.kind, r.village_id, r.lat, r.lon,
                            state_of(r.kind, r.online, r.values), now)
                for r in conn.execute(query.order_by(d.c.id))
            ]  # fmt: skip

    def tick(self) -> int:
        """Write the points whose state changed (all of them once a day); returns how many."""
        now = self.clock()
        full = self._full_at is None or now - self._full_at >= FULL_EVERY_S
        changed = [p for p in self.points() if full or self._written.get(p.device_id) != p.state]
        if changed:
            self.store.write_device_points(changed)
        self._written.update((p.device_id, p.state) for p in changed)
        if full:
            self._full_at = now
        return len(changed)
