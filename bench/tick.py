"""The alert tick at a province's scale, on SQLite and on PostgreSQL.

    python -m bench.tick                      # 100,000 devices
    python -m bench.tick --devices 20000

Wires the backend as ``sangsach backend`` does (``bootstrap``) for a synthetic registry, stores
one reading of every device (so that every device has a track), then runs the alert tick (it
judges silence against the clock and sends what is due) three times and prints each run's wall
time and CPU, and the peak of the memory one more run allocates (``tracemalloc``). On SQLite the
tracks are in the engine's memory after the first tick; on PostgreSQL each tick reads every
device's freshness from SQL (several backends may share it: backend/replicas.py).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from pathlib import Path

from sangsach.backend.api.ingest import parse_batch
from sangsach.backend.services import bootstrap
from sangsach.config import BackendSettings
from tests.services import PostgreSQL

from .common import generate_registry
from .ingest import batches


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sangsach-bench-tick-") as tmp:
        root = Path(tmp)
        fleet = generate_registry(root / "registry.yaml", args.devices)
        bodies = list(batches(fleet, len(fleet), 2000, int(time.time())))
        server = PostgreSQL(durable=True).start()
        try:
            for store in ("sqlite", "postgresql"):
                url = server.url(server.create_database()) if store == "postgresql" else ""
                settings = BackendSettings(
                    data_dir=root / store, registry_file=root / "registry.yaml",
                    timeseries="sqlite", database_url=url,
                )  # fmt: skip
                services = bootstrap(settings)
                for body in bodies:
                    services.ingest.handle(parse_batch(body))
                services.alerts.tick()  # the first: SQLite's engine reads the tracks once
                runs = []
                for _ in range(3):
                    gc.collect()
                    cpu, wall = time.process_time(), time.perf_counter()
                    services.alerts.tick()
                    runs.append((time.perf_counter() - wall, time.process_time() - cpu))
                tracemalloc.start()
                services.alerts.tick()
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                shown = "  ".join(f"{w:.2f} s wall, {c:.2f} s CPU" for w, c in runs)
                print(f"{store:<10} {len(fleet)} devices: {shown}; peak {peak / 1e6:.1f} MB")
                services.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
