"""Every benchmark in one run, on real Mosquitto and influxd, with a Markdown and a JSON report.

    python -m bench.run                 # everything (about 30 minutes on 2 cores)
    python -m bench.run --quick         # everything, small sizes (about 3 minutes)
    python -m bench.run drain latency   # only these parts

Parts: drain (capacity with 1, 2 and 4 gateways and the reference pipelines: mosquitto_sub, the
minimal consumer, and Node-RED's batch flow when Node.js is installed), latency
(publish -> stored), alerts (reading -> SMS request), memory (peak RSS at 1k/10k/100k
devices, in one commune or over --communes N), scores (a village-year and the commune-year of
daily scores), forecasts (25,000 bins' fill forecasts from 28 days of readings, and the read of
their history from InfluxDB), worklists (the day's work lists of every crew of 100 communes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from sangsach.localbroker import LocalBroker
from tests.services import InfluxD

from . import drain, forecasts, latency, memory, nodered, report, scores, worklists
from .alert_latency import measure as alert_measure
from .common import BROKER_CONF, load_average

PARTS = ("drain", "latency", "alerts", "memory", "scores", "forecasts", "worklists")


def machine() -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    return {
        "cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
        "system": platform.platform(), "load_before": load_average(),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("parts", nargs="*", choices=[*PARTS, []], help="default: all")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument("--readings", type=int, help="drain: readings (default 200,000)")
    parser.add_argument("--devices", type=int, help="drain: device ids (default 10,000)")
    parser.add_argument("--gateways", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rates", type=float, nargs="+", default=[500.0, 2000.0])
    parser.add_argument("--seconds", type=float, help="latency and alerts: seconds per rate")
    parser.add_argument("--memory-devices", type=int, nargs="+", help="default 1k 10k 100k")
    parser.add_argument(
        "--communes", type=int, default=1,
        help="memory: the devices spread over this many communes of a province file (default 1)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("var/bench"), help="report directory")
    parser.add_argument(
        "--nodered-dir", type=Path, default=nodered.DEFAULT_DIR,
        help="drain: where npm installs the pinned Node-RED (a scratch folder, not committed)",
    )  # fmt: skip
    parser.add_argument("--no-nodered", action="store_true", help="drain: no Node-RED rows")
    args = parser.parse_args(argv)
    parts = args.parts or list(PARTS)
    quick = args.quick
    n = args.readings or (20_000 if quick else 200_000)
    devices = args.devices or (2_000 if quick else 10_000)
    seconds = args.seconds or (10.0 if quick else 30.0)
    sizes = args.memory_devices or ([1_000, 10_000] if quick else [1_000, 10_000, 100_000])
    results: dict[str, Any] = {"machine": machine(), "quick": quick, "started": time.time()}
    red_dir: Path | None = None
    red_skipped = "--no-nodered"
    if "drain" in parts and not args.no_nodered:
        print(f"Node-RED: {nodered.describe()} in {args.nodered_dir} (npm installs it if missing)")
        red_skipped = nodered.prepare(args.nodered_dir) or ""
        if red_skipped:
            print(f"Node-RED rows skipped: {red_skipped}", flush=True)
        else:
            red_dir = args.nodered_dir
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sangsach-bench-") as tmp:
        root = Path(tmp)
        influxd = InfluxD(root / "influxd").start()
        try:
            with LocalBroker(root / "mosquitto", extra_conf=BROKER_CONF) as broker:
                servers = drain.Servers(broker, influxd)
                if "drain" in parts:
                    results["drain"] = drain.run(
                        servers, root / "drain", n, devices, args.gateways,
                        nodered=red_dir, nodered_skipped=red_skipped,
                    )  # fmt: skip
                    results["drain"]["load"] = load_average()
                    _save(args.out, results)
                if "latency" in parts:
                    results["latency"] = [
                        latency.run(servers, root / f"latency-{rate:g}", rate, seconds)
                        for rate in args.rates
                    ]
                    _save(args.out, results)
            if "alerts" in parts:
                results["alerts"] = []
                for rate in args.rates:
                    row = alert_measure(rate, seconds, 0.25, root / f"alerts-{rate:g}")
                    results["alerts"].append({**row, "load": load_average()})
                _save(args.out, results)
            if "memory" in parts:
                pid = influxd._process.pid if influxd._process else None
                results["memory"] = memory.run(
                    root / "memory", influxd.url, sizes, args.communes, pid
                )
                _save(args.out, results)
            if "scores" in parts:
                results["scores"] = scores.run(root / "scores", quick)
                _save(args.out, results)
            if "forecasts" in parts:
                bins, read_bins = (2_000, 200) if quick else (25_000, 2_500)
                results["forecasts"] = forecasts.run(
                    bins, 28, 600, read_bins, 1 if quick else 3, forecasts.DATA
                )
                _save(args.out, results)
            if "worklists" in parts:
                results["worklists"] = worklists.run(10 if quick else 100, 1.0, 0.0, 1,
                                                     1 if quick else 3)  # fmt: skip
                _save(args.out, results)
        finally:
            influxd.stop()
    results["finished"] = time.time()
    _save(args.out, results)
    print((args.out / "results.md").read_text(encoding="utf-8"))


def _save(out: Path, results: dict[str, Any]) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    (out / "results.md").write_text(report.markdown(results), encoding="utf-8")


if __name__ == "__main__":
    main()
