"""What a line's shape costs InfluxDB: influxd CPU per 1,000 points, for the lines we write.

    python -m bench.influx_lines                    # 200,000 lines a shape, 3 rounds
    python -m bench.influx_lines --readings 20000 --rounds 1

Writes the drain's readings (a healthy fleet of 10,000 devices) to a private influxd, in
requests of 2,000 lines as the backend sends them, once per line shape and round, each into a
fresh database, the shapes interleaved so that a drift of the machine falls on all of them.
The shapes: the backend's own line (``reading_line``, every device placed in one village and
place), the same with ``synced=true`` (as written before round 4), without the ``place`` and
``village`` tags, and the minimal consumer's line.
Prints each shape's influxd CPU ms per 1,000 points, every round and the median.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from sangsach.backend.domain.readings import FIELDS, StoredReading
from sangsach.backend.timeseries.influx import reading_line
from tests.services import InfluxD

from .common import cpu_seconds, generate_registry, readings
from .minimal_consumer import line as minimal_line

REQUEST_LINES = 2_000
_TAGS = re.compile(r",place=[^, ]*|,village=[^, ]*")


def _stored(body: dict[str, Any]) -> StoredReading:
    """The drain's reading as the backend stores it (JSON body -> StoredReading)."""
    kind = body["kind"]
    values = {name: body.get(name) for name in FIELDS[kind]}
    return StoredReading(
        body["id"], kind, "v-001", "p-001", body["boot"], body["seq"], body["ts"], True, values
    )


def _with_synced(line: str) -> str:
    head, time_ns = line.rsplit(" ", 1)
    return f"{head},synced=true {time_ns}"


SHAPES: dict[str, Callable[[dict[str, Any]], str]] = {
    "ours (3 tags, synced left out when true)": lambda b: reading_line(_stored(b)),
    "ours with synced=true (before round 4)": lambda b: _with_synced(reading_line(_stored(b))),
    "ours without place and village tags": lambda b: _TAGS.sub("", reading_line(_stored(b))),
    "minimal consumer's line": minimal_line,
}


def measure(readings_n: int, devices: int, rounds: int, root: Path) -> dict[str, list[float]]:
    """Each shape's influxd CPU ms per 1,000 points, one figure a round; every point counted."""
    fleet = generate_registry(root / "registry.yaml", devices)
    bodies = [orjson.loads(p) for _, p in readings(fleet, readings_n, int(time.time()))]
    lines = {name: [shape(b) for b in bodies] for name, shape in SHAPES.items()}
    influxd = InfluxD(root / "influxd").start()
    assert influxd._process is not None
    pid = influxd._process.pid
    costs: dict[str, list[float]] = {name: [] for name in lines}
    try:
        with httpx.Client(base_url=influxd.url, timeout=60) as http:
            for round_ in range(rounds):
                names = list(lines) if round_ % 2 == 0 else list(reversed(lines))
                for i, name in enumerate(names):
                    db = f"lines_{round_}_{i}"
                    http.post("/query", params={"q": f'CREATE DATABASE "{db}"'})
                    time.sleep(1)  # let influxd settle after the last drop
                    before = cpu_seconds(pid)
                    for first in range(0, len(bodies), REQUEST_LINES):
                        body = "\n".join(lines[name][first : first + REQUEST_LINES])
                        written = http.post("/write", params={"db": db}, content=body.encode())
                        written.raise_for_status()
                    costs[name].append((cpu_seconds(pid) - before) * 1e6 / len(bodies))
                    stored = _count(http, db)
                    if stored != len(bodies):
                        raise RuntimeError(f"{name}: {stored} of {len(bodies)} points stored")
                    http.post("/query", params={"q": f'DROP DATABASE "{db}"'})
    finally:
        influxd.stop()
    return costs


def _count(http: httpx.Client, db: str) -> int:
    answer = http.post("/query", params={"db": db, "q": 'SELECT count("seq") FROM "lamp", "bin"'})
    series = answer.raise_for_status().json()["results"][0].get("series", [])
    return sum(int(one["values"][0][1]) for one in series)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sangsach-bench-lines-") as tmp:
        costs = measure(args.readings, args.devices, args.rounds, Path(tmp))
    print(f"influxd CPU ms per 1,000 points ({args.readings:,} points a shape and round):")
    for name, runs in costs.items():
        every = " ".join(f"{x:.1f}" for x in runs)
        print(f"  {name:42} median {statistics.median(runs):5.1f}   ({every})")


if __name__ == "__main__":
    main()
