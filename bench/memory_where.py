"""Where the backend's memory goes at a number of devices: Python's allocations by line of ours.

    python -m bench.memory_where                     # 100,000 devices, each reporting once
    python -m bench.memory_where --devices 10000 --top 15

Wires the backend as ``sangsach backend`` does (``bootstrap``: the SQLite registry, a private
influxd, the alert engine...) for a generated registry under ``tracemalloc``, then feeds every
device's reading once in gateway batches through the API's parse and ``Ingest.handle``, as
``bench.ingest`` does, then runs once what the backend's background does within its first
minute (the map feed's tick, the alert tick, each commune's first readings for the scores).
Prints what start-up keeps and what the readings leave behind, each
allocation under the innermost line of the project's code that made it (a library's own line
when none). The figures are Python's allocations only: RSS adds the modules' native parts and
the allocators' free space (``bench.run memory`` reads the RSS of the real processes).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from sangsach.backend.api.ingest import parse_batch
from sangsach.backend.mapfeed import MapFeed
from sangsach.backend.services import bootstrap
from sangsach.config import BackendSettings
from tests.services import InfluxD

from .common import generate_registry
from .ingest import batches

ROOT = str(Path(__file__).resolve().parent.parent) + "/"


def where(trace: tracemalloc.Trace) -> str:
    """The innermost frame in the project's code, not in an installed library's."""
    frames = list(trace.traceback)  # oldest first
    for frame in reversed(frames):
        if frame.filename.startswith(ROOT) and "/.venv/" not in frame.filename:
            return f"{frame.filename.removeprefix(ROOT)}:{frame.lineno}"
    inner = frames[-1]
    return f"(library) {inner.filename.rsplit('site-packages/', 1)[-1]}:{inner.lineno}"


def by_line(snapshot: tracemalloc.Snapshot) -> tuple[Counter[str], Counter[str]]:
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for trace in snapshot.traces:
        key = where(trace)
        sizes[key] += trace.size
        counts[key] += 1
    return sizes, counts


def show(title: str, sizes: Counter[str], counts: Counter[str], top: int) -> None:
    print(f"\n{title}: {sum(sizes.values()) / 1e6:.1f} MB")
    for key, size in sizes.most_common(top):
        print(f"{size / 1e6:8.2f} MB {counts[key]:9,d} blocks  {key}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--frames", type=int, default=10, help="tracemalloc's frames per trace")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sangsach-bench-memory-") as tmp:
        root = Path(tmp)
        influxd = InfluxD(root / "influxd").start()
        try:
            fleet = generate_registry(root / "registry.yaml", args.devices)
            settings = BackendSettings(
                data_dir=root / "data", registry_file=root / "registry.yaml",
                timeseries="influxdb", influx_url=influxd.url, influx_db="bench",
            )  # fmt: skip
            bodies = list(batches(fleet, len(fleet), args.batch, int(time.time())))
            tracemalloc.start(args.frames)
            services = bootstrap(settings)
            gc.collect()
            started = tracemalloc.take_snapshot()
            for body in bodies:
                services.ingest.handle(parse_batch(body))
            del bodies
            installation = services.province or services.commune
            feed = MapFeed(services.engine, services.store, installation, services.clock)
            feed.tick()  # kept until the snapshot, as the backend's thread keeps it
            services.alerts.tick()
            for view in services.views():
                view.scores.first_seen()
            gc.collect()
            reported = tracemalloc.take_snapshot()
            tracemalloc.stop()
            del feed
            services.store.close()
            services.engine.dispose()
        finally:
            influxd.stop()
    before, before_n = by_line(started)
    after, after_n = by_line(reported)
    show(f"kept once started, {len(fleet):,} devices", before, before_n, args.top)
    grown, grown_n = Counter(after), Counter(after_n)
    grown.subtract(before)
    grown_n.subtract(before_n)
    show("left behind by one reading of every device", grown, grown_n, args.top)


if __name__ == "__main__":
    main()
