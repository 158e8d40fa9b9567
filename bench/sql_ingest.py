"""Ingest on the two SQL stores: the same batches handled on SQLite and on PostgreSQL.

    python -m bench.sql_ingest                          # 20,000 readings of 2,000 devices
    python -m bench.sql_ingest --readings 50000 --devices 10000 --batch 500
    python -m bench.sql_ingest --single-backend         # PostgreSQL without the replicas' locks

Wires the backend as ``sangsach backend`` does (``bootstrap``: registry, alert engine, ingest)
twice for one synthetic registry: once with its SQL store in a SQLite file, once on a private
PostgreSQL (Debian's server, started like the tests' one but with PostgreSQL's own durable
settings: fsync and synchronous commit on). The time series go to the embedded SQLite store in
both runs, so the difference is the SQL store's. Each batch is parsed from its JSON bytes as the
API parses it and handled by ``Ingest.handle``; printed per 1000 readings: the wall time, the
backend process's CPU, and on PostgreSQL the server's CPU (its processes, from /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import tempfile
import time
from pathlib import Path

from sangsach.backend.api.ingest import parse_batch
from sangsach.backend.services import bootstrap
from sangsach.config import BackendSettings
from tests.services import PostgreSQL

from .common import cpu_seconds, generate_registry
from .ingest import batches


def _server_cpu(server: PostgreSQL | None) -> float:
    if server is None:
        return 0.0
    total = 0.0
    for pid in server.server_pids():
        with contextlib.suppress(OSError):  # ended meanwhile
            total += cpu_seconds(pid)
    return total


def run(store: str, root: Path, bodies: list[bytes], server: PostgreSQL | None) -> dict[str, float]:
    """Handle every batch on one SQL store; the figures per 1000 readings."""
    url = server.url(server.create_database()) if server else ""
    settings = BackendSettings(
        data_dir=root / store, registry_file=root / "registry.yaml", timeseries="sqlite",
        database_url=url,
    )  # fmt: skip
    services = bootstrap(settings)
    gc.collect()
    stored = 0
    server_before = _server_cpu(server)
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    for body in bodies:
        stored += services.ingest.handle(parse_batch(body)).stored
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before
    server_cpu = _server_cpu(server) - server_before
    services.ingest.close()
    services.store.close()
    services.engine.dispose()
    per = 1000 / max(stored, 1)
    return {
        "stored": stored,
        "wall_ms": wall * 1000 * per,
        "cpu_ms": cpu * 1000 * per,
        "server_cpu_ms": server_cpu * 1000 * per,
    }


def _never_shared(_: object) -> bool:
    return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=20_000)
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--single-backend",
        action="store_true",
        help="PostgreSQL as one backend alone would run it: alert state cached in memory, no "
        "device locks (the cost of running several: backend/replicas.py)",
    )
    args = parser.parse_args(argv)
    if args.single_backend:
        from sangsach.backend import ingest
        from sangsach.backend.alerts import engine

        for module in (engine, ingest):
            setattr(module, "shared", _never_shared)  # noqa: B010 - the bench's switch only
    with tempfile.TemporaryDirectory(prefix="sangsach-bench-sql-") as tmp:
        root = Path(tmp)
        fleet = generate_registry(root / "registry.yaml", args.devices)
        bodies = list(batches(fleet, args.readings, args.batch, int(time.time())))
        server = PostgreSQL(durable=True).start()
        try:
            results = {
                "sqlite": run("sqlite", root, bodies, None),
                "postgresql": run("postgresql", root, bodies, server),
            }
        finally:
            server.stop()
    print(
        f"{args.readings} readings of {len(fleet)} devices in batches of {args.batch}, "
        f"{os.cpu_count()} cores; per 1000 readings:"
    )
    for store, r in results.items():
        print(
            f"  {store:<10} wall {r['wall_ms']:6.1f} ms   backend CPU {r['cpu_ms']:6.1f} ms   "
            f"server CPU {r['server_cpu_ms']:6.1f} ms   ({r['stored']:.0f} stored)"
        )


if __name__ == "__main__":
    main()
