"""Profile our drain with py-spy: where the gateway's and the backend's CPU goes.

    python -m bench.profile                    # 100,000 readings, 1 gateway
    python -m bench.profile --gateways 2 --readings 200000 --out var/profile

Queues the readings at a private broker exactly as the drain benchmark does, starts the backend
and the gateways, and records each process with ``py-spy record`` (all threads, no subprocesses)
until every reading is stored. Writes each process's collapsed stacks (``backend.txt``,
``gateway1.txt``: flame-graph tools read them) and a summary of the inclusive share of samples
per function (``backend.top.txt``), and prints the summaries.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sangsach.localbroker import LocalBroker
from tests.services import InfluxD

from .common import (
    BROKER_CONF,
    Influx,
    OurStack,
    Publisher,
    generate_registry,
    readings,
    wait_stored,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--gateways", type=int, default=1)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=Path("var/profile"))
    parser.add_argument(
        "--gil", action="store_true",
        help="sample only the thread holding the interpreter lock: where Python's CPU goes, "
        "without the threads waiting for it or for I/O",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sangsach-profile-") as tmp:
        root = Path(tmp)
        influxd = InfluxD(root / "influxd").start()
        try:
            with LocalBroker(root / "mosquitto", extra_conf=BROKER_CONF) as broker:
                fleet = generate_registry(root / "registry.yaml", args.devices)
                stack = OurStack(
                    root / "ours", broker.port, influxd.url, "profile",
                    root / "registry.yaml", args.gateways, "profile",
                )  # fmt: skip
                stack.register()
                publisher = Publisher(broker.port)
                last_ts = int(time.time())
                publisher.publish_all(readings(fleet, args.readings, last_ts))
                publisher.close()
                try:
                    stack.start_backend()
                    start = time.monotonic()
                    stack.start_gateways()
                    spies = [
                        _spy(pid, args.out / f"{name.replace(' ', '')}.txt", args.rate, args.gil)
                        for name, pid in stack.pids().items()
                    ]
                    end = wait_stored(
                        Influx(influxd.url), "profile", fleet, args.readings, last_ts, 900
                    )
                    for spy in spies:
                        spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
                    for spy in spies:
                        spy.wait(60)
                    print(f"{args.readings} readings stored in {end - start:.1f} s")
                finally:
                    stack.close()
        finally:
            influxd.stop()
    for path in sorted(args.out.glob("*.txt")):
        if not path.name.endswith(".top.txt"):
            top = summarise(path)
            path.with_suffix(".top.txt").write_text(top)
            print(f"== {path.stem}\n{top}")


def _spy(pid: int, out: Path, rate: int, gil: bool = False) -> subprocess.Popen[bytes]:
    """py-spy sampling one process, all its threads (or only the lock's holder), in
    collapsed-stack format."""
    command = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid)]
    command += ["--threads", "--rate", str(rate), "--format", "raw", "--nonblocking"]
    command += ["--gil"] if gil else []
    command += ["--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise(path: Path, limit: int = 40) -> str:
    """Inclusive share of the samples per function, from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        for frame in set(stack.split(";")):
            inclusive[frame] += samples
    rows = [f"{100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(limit)]
    return f"{total} samples\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    main()
