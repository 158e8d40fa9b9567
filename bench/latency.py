"""Latency publish -> stored in InfluxDB at a fixed publish rate, through one gateway.

Background readings go to many devices at ``rate`` readings/s. Ten times a second one of 20
probe bins reports its next ``seq``; a poller asks InfluxDB every 20 ms for the last ``seq`` of
every probe. A probe's latency is from its publish to the first poll that saw it (an upper bound
by at most one poll interval).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from .common import OurStack, Publisher, generate_registry, load_average, quantile, reading_payload
from .drain import Servers

PROBES = 20
PROBE_EVERY = 0.1
POLL_EVERY = 0.02


def run(servers: Servers, root: Path, rate: float, seconds: float) -> dict[str, Any]:
    fleet = generate_registry(root.parent / "latency-registry.yaml", 10_000)
    bins = [d for d in fleet if d.kind == "bin"]
    probes, background = bins[:PROBES], [d for d in fleet if d not in bins[:PROBES]]
    db = f"latency_{int(rate)}"
    stack = OurStack(root, servers.broker.port, servers.influx_url, db,
                     root.parent / "latency-registry.yaml", 1, f"lat{int(rate)}")  # fmt: skip
    published: dict[tuple[str, int], float] = {}
    seen: dict[tuple[str, int], float] = {}
    stop = threading.Event()
    where = " OR ".join(f"\"device\" = '{p.id}'" for p in probes)
    query = f'SELECT last("seq") FROM "bin" WHERE {where} GROUP BY "device"'  # noqa: S608

    def poll() -> None:
        while not stop.is_set():
            at = time.time()
            for series in servers.influx.query(db, query):
                device, last = series["tags"]["device"], int(series["values"][0][1])
                for seq in range(1, last + 1):
                    seen.setdefault((device, seq), at)
            stop.wait(POLL_EVERY)

    try:
        stack.start_backend()
        stack.start_gateways()
        publisher = Publisher(servers.broker.port, f"bench-latency-{int(rate)}")
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        start = time.monotonic()
        sent = probe = 0
        next_probe = start
        now = int(time.time())
        while (t := time.monotonic()) < start + seconds:
            while sent < int((t - start) * rate):
                device = background[sent % len(background)]
                publisher.publish(f"sangsach/v1/{device.id}/telemetry",
                                  reading_payload(device, sent // len(background) + 1, now))  # fmt: skip
                sent += 1
            if t >= next_probe:
                device = probes[probe % PROBES]
                seq = probe // PROBES + 1
                published[(device.id, seq)] = time.time()
                publisher.publish(f"sangsach/v1/{device.id}/telemetry",
                                  reading_payload(device, seq, int(time.time())))  # fmt: skip
                probe += 1
                next_probe += PROBE_EVERY
            time.sleep(0.001)
        deadline = time.monotonic() + 120
        while len(seen.keys() & published.keys()) < len(published) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        poller.join(5)
        publisher.close()
        load = load_average()
        deadline = time.monotonic() + 120
        while (stored := servers.influx.count(db)) < sent + probe and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop.set()
        stack.close()
    latencies = [1000 * (seen[key] - at) for key, at in published.items() if key in seen]
    return {
        "rate": rate,
        "readings": sent + probe,
        "probes": len(latencies),
        "p50_ms": round(quantile(latencies, 0.5)),
        "p99_ms": round(quantile(latencies, 0.99)),
        "max_ms": round(max(latencies)),
        "lost": sent + probe - stored,
        "load": load,
    }
