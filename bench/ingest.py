"""Time the backend's ingest in process: CPU per reading, without MQTT, HTTP or a gateway.

    python -m bench.ingest                          # 100,000 readings, batches of 500
    python -m bench.ingest --readings 20000 --profile var/ingest.prof
    python -m bench.ingest --storm                  # every lamp cycling: thousands of alerts

Wires the backend as ``sangsach backend`` does (``bootstrap``: SQLite registry, a private
influxd, the alert engine) for a synthetic registry, then feeds it the drain benchmark's
readings in gateway batches: each batch is parsed from its JSON bytes as the API parses it,
then handled by ``Ingest.handle``. Prints the process's CPU ms per 1000 readings for the two
steps and the garbage collector's share, so a change to the ingest path can be measured in
a minute; ``bench.run drain`` remains the figure that counts (it adds HTTP and uvicorn).

The readings are the drain's healthy fleet (lamps lit, bins filling), so no alert opens;
``--storm`` feeds the drain's alert storm instead (every lamp switching at every reading, so
every lamp opens a cycling alert and its SMS). Compare runs of the same size and data.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from sangsach.backend.api.ingest import parse_batch
from sangsach.backend.services import bootstrap
from sangsach.config import BackendSettings
from tests.services import InfluxD

from .common import Device, generate_registry, readings


def batches(
    devices: Sequence[Device],
    n: int,
    size: int,
    last_ts: int,
    gateway: str = "bench",
    *,
    cycling: bool = False,
) -> Iterator[bytes]:
    """The drain's readings as the gateway posts them: JSON bodies of ``size`` readings."""
    batch: list[dict[str, object]] = []
    for i, (_, payload) in enumerate(readings(devices, n, last_ts, cycling=cycling)):
        reading = json.loads(payload)
        reading["received_at"] = reading["ts"] + 0.25 + i % 7 / 100
        batch.append(reading)
        if len(batch) == size:
            yield json.dumps({"gateway": gateway, "letters": "gateway", "readings": batch}).encode()
            batch = []
    if batch:
        yield json.dumps({"gateway": gateway, "letters": "gateway", "readings": batch}).encode()


class GcTimer:
    """CPU seconds spent in the cyclic garbage collector, from its start and stop callbacks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.seconds += time.process_time() - self._start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the handling here")
    parser.add_argument("--storm", action="store_true", help="the alert storm's readings")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sangsach-bench-ingest-") as tmp:
        root = Path(tmp)
        influxd = InfluxD(root / "influxd").start()
        try:
            fleet = generate_registry(root / "registry.yaml", args.devices)
            settings = BackendSettings(
                data_dir=root / "data", registry_file=root / "registry.yaml",
                timeseries="influxdb", influx_url=influxd.url, influx_db="bench",
            )  # fmt: skip
            services = bootstrap(settings)
            gc.collect()
            gc.freeze()  # as the app does once started (backend/app.py)
            now = int(time.time())
            bodies = list(batches(fleet, args.readings, args.batch, now, cycling=args.storm))
            profiler = cProfile.Profile() if args.profile else None
            parse_s = handle_s = 0.0
            stored = 0
            collector = GcTimer()
            gc.callbacks.append(collector)
            for body in bodies:
                start = time.process_time()
                batch = parse_batch(body)
                parsed = time.process_time()
                if profiler:
                    profiler.enable()
                stored += services.ingest.handle(batch).stored
                if profiler:
                    profiler.disable()
                parse_s += parsed - start
                handle_s += time.process_time() - parsed
            gc.callbacks.remove(collector)
            services.store.close()
            services.engine.dispose()
            gc.unfreeze()
        finally:
            influxd.stop()
    if profiler and args.profile:
        profiler.dump_stats(args.profile)
    per = 1e6 / max(stored, 1)
    print(
        f"{stored} readings stored in batches of {args.batch}: CPU ms per 1000 readings: "
        f"parse {parse_s * per:.1f}, handle {handle_s * per:.1f}, "
        f"total {(parse_s + handle_s) * per:.1f} (of which the garbage collector "
        f"{collector.seconds * per:.1f})"
    )


if __name__ == "__main__":
    main()
