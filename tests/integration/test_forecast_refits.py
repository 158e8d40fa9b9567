"""The bins' forecast models refitted in the background, a slice a minute (bin_forecasts.py):
a request then reads only the bins' latest state, not a month of every bin's readings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from sangsach.backend import db
from sangsach.backend.bin_forecasts import MODEL_MAX_AGE_S, BinForecasts
from sangsach.backend.domain.readings import StoredReading
from sangsach.backend.registry.load import load_commune
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry

COMMUNE = load_registry(SAMPLE_REGISTRY)
NOW = 1_796_000_000
BINS = [d for d in COMMUNE.devices() if d.kind == "bin"]  # 80


class CountingStore(SqliteStore):
    """The real store, counting the bins whose history was read."""

    read: list[str]

    def series(self, kind: Any, device_ids: Sequence[str], *args: Any, **kw: Any) -> Any:
        self.read.extend(device_ids)
        return super().series(kind, device_ids, *args, **kw)


def test_a_slice_a_minute_keeps_every_model_and_requests_read_no_history(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'sangsach.sqlite'}")
    load_commune(engine, COMMUNE)
    store = CountingStore(tmp_path / "timeseries.sqlite")
    store.read = []
    store.ensure_ready()
    # three days of a rise of 2 points an hour, every bin
    store.write([
        StoredReading(b.id, "bin", b.village_id, b.place_id, 1, n, NOW - 3600 * (72 - n), True,
                      {"fill_pct": 10.0 + (2.0 * n) % 60})
        for b in BINS for n in range(72)
    ])  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(db.device_state), [
            {"device_id": b.id, "ts": NOW - 60, "values": {"fill_pct": 50.0}} for b in BINS
        ])  # fmt: skip
    now = [float(NOW)]
    forecasts = BinForecasts(engine, store, COMMUNE, lambda: now[0])

    # a call a minute fits 2 bins (80 bins x 60 s / 3600 s), the missing first: every bin
    # within 40 minutes, each once
    for minute in range(40):
        now[0] = NOW + 60 * minute
        assert forecasts.refit_some(60) == 2
    order, store.read = store.read, []
    assert sorted(order) == sorted(b.id for b in BINS)

    # a request for every bin reads no history
    found = forecasts.forecasts()
    assert store.read == [] and len(found) == len(BINS)
    assert all(f.full_at is not None and f.samples > 0 for f in found)

    # then the oldest first, each once again: no model gets older than the TTL
    for minute in range(40, 80):
        now[0] = NOW + 60 * minute
        assert forecasts.refit_some(60) == 2
    assert store.read == order

    # with the background stopped, a request refits a model itself once it is too old
    store.read = []
    now[0] = NOW + 60 * 40 + MODEL_MAX_AGE_S  # the first refitted above is that old now
    forecasts.forecasts([order[-1], order[0]])
    assert store.read == [order[0]]
