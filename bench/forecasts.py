"""Fill forecasts for a province's bins: the computation, and the read of their history.

    python -m bench.forecasts                         # 25,000 bins; the read of 2,500 of them
    python -m bench.forecasts --bins 2000 --runs 1    # a quick look
    python -m bench.forecasts --read-bins 0           # the computation only

Each bin has ``--days`` (28, the forecast's window) of readings every ``--every`` seconds (600:
a bin node measures every 10 minutes, docs/firmware.md), made up here: its own rate (120 to
420 litres a day into 660), faster on Sundays and by day, collection rounds every one or two
days of which a tenth are missed, the sensor's noise, a reading every so often without a fill.

Timed apart, three times each (``--runs``), the median reported:

- **compute**: what ``BinForecasts`` does with the readings once read, for every bin: the model
  (``bin_forecasts.fit_models``: increments, cells, medians) and the forecast from the latest
  reading (``full_at``, ``per_day``). The readings are made in memory, ``CHUNK`` bins at a
  time, in the shape the store's ``series`` returns them (untimed).
- **serve**: a request for every bin's forecast (``BinForecasts.forecasts``) once the models are
  kept, as the background refit (``refit_some``, a slice a minute) keeps them: the bins' latest
  state from SQL (SQLite) and the forecast from it. A generated registry of ``--bins`` bins; one
  fitted model kept for every bin (untimed).
- **read**: ``TimeSeriesStore.series`` of ``fill_pct`` over the 28 days, ``CHUNK`` bins a
  query, from a real ``influxd`` (the production store, docker-compose.yml), for the first
  ``--read-bins`` bins; the rate per bin is given and scaled to ``--bins``. Loading InfluxDB
  costs about as much CPU per point as the drain's (docs/performance.md): a province's 100
  million points would take the better part of an hour, so the default reads a tenth. The data
  is kept under ``--data`` and reused at the same size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import insert

from sangsach.backend import db
from sangsach.backend.bin_forecasts import CHUNK, BinForecasts, fit_models
from sangsach.backend.domain.rules import Thresholds
from sangsach.backend.forecast import full_at
from sangsach.backend.registry.load import load_commune
from sangsach.backend.timeseries.influx import InfluxStore
from sangsach.backend.timeseries.port import TimeSeriesStore
from sangsach.registry_file import parse_registry
from sangsach.registry_gen import generate
from sangsach.sun import VIETNAM
from tests.services import InfluxD

from .common import load_average

# the window ends on a Thursday at 05:30, when the work lists are made
END = int(datetime(2026, 12, 3, 5, 30, tzinfo=VIETNAM).timestamp())
TH = Thresholds()
DB = "forecasts"
DATA = Path("var/bench-forecasts")
LINES_PER_WRITE = 50_000


def bin_id(i: int) -> str:
    return f"bin-{i:05d}"


def readings(i: int, days: int, every: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin ``i``'s readings: ``ts`` (int seconds) and ``fill_pct`` (NaN: not measured)."""
    rng = np.random.default_rng(i)
    start = END - days * 86_400
    n = days * 86_400 // every
    ts = start + int(rng.integers(every)) + np.arange(n) * every + rng.integers(0, 3, n)
    local = ts + 7 * 3600
    hour = (local % 86_400) // 3600
    weekday = (local // 86_400 + 3) % 7
    per_day = rng.uniform(120, 420) / 660 * 100
    shape = np.where((hour >= 6) & (hour < 20), 1.4, 0.3) * np.where(weekday == 6, 1.5, 1.0)
    rise = per_day / 86_400 * every * shape / shape.mean()
    # collection rounds at about 07:00 local every one or two days, a tenth of them missed
    gap = int(rng.integers(1, 3))
    day_of = (local - start - 7 * 3600) // 86_400
    round_at = (hour == 7) & (np.r_[True, hour[1:] != hour[:-1]]) & (day_of % gap == 0)
    round_at &= rng.random(n) > 0.1
    total = np.cumsum(rise)
    since = np.maximum.accumulate(np.where(round_at, np.arange(n), 0))
    level = np.minimum(100.0, total - total[since] + rng.uniform(0, 20))
    fill = np.clip(np.round(level + rng.normal(0, 0.4, n), 1), 0.0, 100.0)
    fill[rng.random(n) < 0.002] = np.nan  # the sensor's echo lost now and then
    return ts, fill


def series_of(first: int, count: int, days: int, every: int) -> dict[str, list[tuple[int, Any]]]:
    """Bins ``first`` .. as the store's ``series`` gives them: ``(ts, fill_pct)`` tuples."""
    out: dict[str, list[tuple[int, Any]]] = {}
    for i in range(first, first + count):
        ts, fill = readings(i, days, every)
        values = [None if f != f else f for f in fill.tolist()]
        out[bin_id(i)] = list(zip(ts.tolist(), values, strict=True))
    return out


def compute(bins: int, days: int, every: int) -> dict[str, float]:
    """Seconds to model and forecast every bin, the readings already in memory: wall clock,
    and the process's CPU time (less moved by other work on a shared machine)."""
    fit_s = forecast_s = cpu_s = 0.0
    models = 0
    for first in range(0, bins, CHUNK):
        series = series_of(first, min(CHUNK, bins - first), days, every)
        t, cpu = time.perf_counter(), time.process_time()
        fitted = fit_models(series, lambda _: TH)
        fit_s += time.perf_counter() - t
        t = time.perf_counter()
        for device_id, model in fitted.items():
            if model is None:
                continue
            models += 1
            last_ts, last_fill = next(r for r in reversed(series[device_id]) if r[1] is not None)
            full_at(model, int(last_ts), float(last_fill), TH.bin_full_pct)
            model.per_day()
        forecast_s += time.perf_counter() - t
        cpu_s += time.process_time() - cpu
    assert models == bins, f"{bins - models} bins without a model"
    return {"fit_s": fit_s, "forecast_s": forecast_s, "cpu_s": cpu_s}


def serve(bins: int, days: int, every: int, runs: int, folder: Path) -> dict[str, Any]:
    """Seconds for one request of every bin's forecast, models kept (median of ``runs``)."""
    commune = parse_registry(generate(max(1, bins // 100), 0, min(bins, 100), seed=1))
    ids = [d.id for d in commune.devices() if d.kind == "bin"]
    folder.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(f"sqlite:///{folder / 'serve.sqlite'}")
    load_commune(engine, commune)
    with engine.begin() as conn:
        conn.execute(insert(db.device_state), [
            {"device_id": i, "ts": END - 60, "values": {"fill_pct": 20.0 + n % 50}}
            for n, i in enumerate(ids)
        ])  # fmt: skip
    model = next(iter(fit_models(series_of(0, 1, days, every), lambda _: TH).values()))
    forecasts = BinForecasts(
        engine, cast(TimeSeriesStore, _NoHistory()), commune, lambda: float(END)
    )
    forecasts._models.update((i, (float(END), model)) for i in ids)  # as refit_some keeps them
    timed = []
    for _ in range(runs):
        t = time.perf_counter()
        found = forecasts.forecasts()
        timed.append(time.perf_counter() - t)
        assert len(found) == len(ids) and all(f.full_at is not None for f in found)
    engine.dispose()
    return {"serve_bins": len(ids), "serve_s": round(statistics.median(timed), 2),
            "serve_runs_s": [round(t, 2) for t in timed]}  # fmt: skip


class _NoHistory:
    """The request must not read any bin's month: the models are kept."""

    def series(self, *args: Any, **kw: Any) -> Any:
        raise AssertionError("a request read the history of a bin whose model is kept")


def lines(i: int, days: int, every: int) -> Iterator[str]:
    """Bin ``i``'s readings as the backend writes them (``reading_line``'s shape and
    timestamps), with a plausible distance, battery and temperature."""
    ts, fill = readings(i, days, every)
    head = f"bin,device={bin_id(i)},place=diem-{i // 4:05d},village=thon-{i // 40:04d} "
    for seq, (t, f) in enumerate(zip(ts.tolist(), fill.tolist(), strict=True), start=1):
        fields = f"battery_v=3.9,boot=1i,distance_cm={round(110 - (f if f == f else 0) * 0.9)}i"
        if f == f:
            fields += f",fill_pct={f}"
        yield f"{head}{fields},seq={seq}i,temp_c=29.5 {t * 1_000_000_000 + 1_000_000 + seq}"


def load(store: InfluxStore, bins: int, days: int, every: int) -> int:
    written = 0
    batch: list[str] = []
    for i in range(bins):
        batch.extend(lines(i, days, every))
        if len(batch) >= LINES_PER_WRITE:
            store._write_lines(batch)
            written += len(batch)
            batch = []
    if batch:
        store._write_lines(batch)
        written += len(batch)
    return written


def read(store: InfluxStore, bins: int, days: int) -> dict[str, float]:
    """Seconds to read every bin's window, ``CHUNK`` bins a query, as ``BinForecasts`` does."""
    ids = [bin_id(i) for i in range(bins)]
    rows = 0
    t = time.perf_counter()
    for first in range(0, bins, CHUNK):
        found = store.series("bin", ids[first : first + CHUNK], ["fill_pct"],
                             start=END - days * 86_400, end=END + 1)  # fmt: skip
        rows += sum(len(r) for r in found.values())
    return {"read_s": time.perf_counter() - t, "rows": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bins", type=int, default=25_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--every", type=int, default=600, help="seconds between readings")
    parser.add_argument("--read-bins", type=int, default=2_500, help="0: no read")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.bins, args.days, args.every, args.read_bins, args.runs, args.data),
                     indent=1))  # fmt: skip


def run(bins: int, days: int, every: int, read_bins: int, runs: int, data: Path) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bins": bins, "days": days, "every_s": every,
        "readings_per_bin": days * 86_400 // every, "load_before": load_average(),
    }  # fmt: skip
    timed = [compute(bins, days, every) for _ in range(runs)]
    for key in ("fit_s", "forecast_s", "cpu_s"):
        out[key] = round(statistics.median(t[key] for t in timed), 2)
    out["compute_s"] = round(statistics.median(t["fit_s"] + t["forecast_s"] for t in timed), 2)
    out["compute_runs_s"] = [round(t["fit_s"] + t["forecast_s"], 2) for t in timed]
    out.update(serve(bins, days, every, runs, data))
    if read_bins:
        read_bins = min(read_bins, bins)
        size = f"{read_bins}x{days}x{every}"
        data.mkdir(parents=True, exist_ok=True)
        influxd = InfluxD(data / f"influxd-{size}").start()
        store = InfluxStore(influxd.url, DB, timeout=600)
        try:
            store.ensure_ready()
            marker = data / f"influxdb.{size}.loaded"
            if not marker.exists():
                t = time.perf_counter()
                points = load(store, read_bins, days, every)
                marker.write_text(json.dumps({"points": points, "load_s": time.perf_counter() - t}))
            out["store"] = {"name": "InfluxDB", **json.loads(marker.read_text())}
            reads = [read(store, read_bins, days) for _ in range(runs)]
        finally:
            store.close()
            influxd.stop()
        seconds = statistics.median(r["read_s"] for r in reads)
        out["read_bins"] = read_bins
        out["read_rows"] = reads[0]["rows"]
        out["read_s"] = round(seconds, 2)
        out["read_runs_s"] = [round(r["read_s"], 2) for r in reads]
        out["read_ms_per_bin"] = round(seconds / read_bins * 1000, 2)
        out["read_scaled_s"] = round(seconds / read_bins * bins, 1)
    out["load_after"] = load_average()
    return out


if __name__ == "__main__":
    main()
