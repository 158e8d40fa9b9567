"""Peak memory (VmHWM) of one gateway, the backend, Mosquitto and influxd with 1k, 10k and 100k
registered devices, in one commune or (``communes``) spread over the communes of a province file.

Each size gets its own broker, registry and database; every device reports once, so the
backend's placements and device state and the gateway's de-duplication window hold them all.
influxd is the run's: its peak is since the run started (every size and part before).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sangsach.localbroker import LocalBroker

from .common import (
    BROKER_CONF,
    Influx,
    OurStack,
    Publisher,
    generate_province,
    generate_registry,
    load_average,
    peak_rss_mb,
    readings,
)


def run(
    root: Path, influx_url: str, sizes: list[int], communes: int = 1, influxd_pid: int | None = None
) -> list[dict[str, Any]]:
    rows = []
    influx = Influx(influx_url)
    for size in sizes:
        here = root / str(size)
        here.mkdir(parents=True)
        if communes > 1:
            fleet = generate_province(here / "registry.yaml", size, communes)
        else:
            fleet = generate_registry(here / "registry.yaml", size)
        db = f"memory_{size}"
        with LocalBroker(here / "mosquitto", extra_conf=BROKER_CONF) as broker:
            stack = OurStack(here, broker.port, influx_url, db, here / "registry.yaml", 1, "mem")
            try:
                start = time.monotonic()
                stack.start_backend(timeout=900)
                started = time.monotonic() - start
                stack.start_gateways()
                publisher = Publisher(broker.port)
                publisher.publish_all(readings(fleet, len(fleet), int(time.time())))
                publisher.close()
                deadline = time.monotonic() + 900
                while influx.count(db) < len(fleet) and time.monotonic() < deadline:
                    time.sleep(0.5)
                broker_pid = broker._process.pid if broker._process else None
                rows.append({
                    "devices": len(fleet),
                    "communes": communes,
                    "stored": influx.count(db),
                    "gateway_mb": round(peak_rss_mb(stack.gateways[0].pid)),
                    "backend_mb": round(peak_rss_mb(stack.backend.pid)),
                    "mosquitto_mb": round(peak_rss_mb(broker_pid)) if broker_pid else None,
                    "influxd_mb": round(peak_rss_mb(influxd_pid)) if influxd_pid else None,
                    "backend_start_s": round(started, 1),
                    "load": load_average(),
                })  # fmt: skip
            finally:
                stack.close()
    return rows
