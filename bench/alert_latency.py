"""Alert latency: a reading published by a node -> the SMS request at the carrier.

Real Mosquitto, gateway and backend processes (SQLite storage) and a local HTTP server standing
in for the SMS carrier. Background bins report at a fixed rate; every ``--probe-every`` seconds
one probe bin reports 90 % full (raising ``bin_full``, an SMS to two collectors) and half a
second later 3 % (a collection, clearing it). The latency of a probe is the time from its publish
to the carrier's first request carrying its alert's code.

    .venv/bin/python -m bench.alert_latency --rates 60 600 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from sangsach.localbroker import LocalBroker
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.carrier import Carrier
from tests.harness import Stack, wait_until

COMMUNE = load_registry(SAMPLE_REGISTRY)
BINS = [d.id for d in COMMUNE.devices() if d.kind == "bin"]
PROBES, BACKGROUND = BINS[:20], BINS[20:]


def _reading(device_id: str, seq: int, fill: float) -> bytes:
    body = {"id": device_id, "kind": "bin", "boot": 1, "seq": seq, "ts": int(time.time()),
            "fill_pct": fill, "battery_v": 3.9, "temp_c": 28.0}  # fmt: skip
    return json.dumps(body).encode()


class Load:
    """Background readings at a fixed rate, and probes that must each raise one alert."""

    def __init__(self, port: int, rate: float, probe_every: float) -> None:
        self.rate = rate
        self.probe_every = probe_every
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-load")
        self.client.max_inflight_messages_set(1000)  # paho's ids are 16-bit: keep far below
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.seq: dict[str, int] = {}
        self.probes: dict[str, list[float]] = {}  # device -> publish times of its full readings
        self.timers: list[threading.Timer] = []

    def _publish(self, device_id: str, fill: float) -> None:
        seq = self.seq[device_id] = self.seq.get(device_id, 0) + 1
        self.client.publish(f"sangsach/v1/{device_id}/telemetry", _reading(device_id, seq, fill), 1)

    def run(self, seconds: float) -> int:
        start = time.monotonic()
        sent, probe = 0, 0
        next_probe = start + 1.0
        while (now := time.monotonic()) < start + seconds:
            due = int((now - start) * self.rate)
            while sent < due:
                self._publish(BACKGROUND[sent % len(BACKGROUND)], 20.0)
                sent += 1
            if now >= next_probe:
                device = PROBES[probe % len(PROBES)]
                self.probes.setdefault(device, []).append(time.time())
                self._publish(device, 90.0)
                clear = threading.Timer(0.5, self._publish, (device, 3.0))
                clear.start()
                self.timers.append(clear)
                probe += 1
                next_probe += self.probe_every
            time.sleep(0.002)
        return sent

    def close(self) -> None:
        for timer in self.timers:  # the last probes' clearing readings are still to come
            timer.join()
        self.client.disconnect()  # queued after the last publishes, which go out first
        self.client.loop_stop()


def measure(rate: float, seconds: float, probe_every: float, root: Path) -> dict[str, float]:
    carrier = Carrier()
    carrier.start()
    with LocalBroker(root / "mosquitto") as broker:
        # The 60 background bins of the sample commune report far faster than real bins (10 a
        # second each at 600 readings/s): the gateway's per-device flood throttle is off here.
        env = {"SANGSACH_SMS_PROVIDER": "http", "SANGSACH_SMS_HTTP_URL": carrier.url,
               "SANGSACH_ALERT_QUIET_HOURS": "", "SANGSACH_ALERT_MAX_SMS_PER_HOUR": "1000",
               "SANGSACH_DEVICE_RATE_PER_MIN": "0"}  # fmt: skip
        stack = Stack(root / "stack", broker.port, env).start()
        try:
            load = Load(broker.port, rate, probe_every)
            sent = load.run(seconds)
            load.close()
            expected = sent + 2 * sum(len(t) for t in load.probes.values())
            wait_until(lambda: stack.stored() >= expected, 120, "every reading stored", every=1)
            alerts = stack.http.get("/api/v1/alerts", params={"type": "bin_full", "limit": 10_000})
            latencies = _latencies(alerts.json(), load.probes, carrier)
        finally:
            stack.close()
            carrier.stop()
    return {
        "rate": rate,
        "readings": expected,
        "probes": len(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * _quantile(latencies, 0.99),
        "max_ms": 1000 * max(latencies),
    }


def _latencies(
    alerts: list[dict[str, object]], probes: dict[str, list[float]], carrier: Carrier
) -> list[float]:
    """Match each probe to its alert (the n-th full reading of a bin opened its n-th alert)."""
    by_device: dict[str, list[int]] = {}
    for alert in sorted(alerts, key=lambda a: int(str(a["id"]))):
        by_device.setdefault(str(alert["device_id"]), []).append(int(str(alert["id"])))
    first_request: dict[str, float] = {}
    for key, at in carrier.arrived_at.items():
        code = key.split(":")[1] if key.startswith("alert:") else ""
        first_request[code] = min(at, first_request.get(code, at))
    latencies = []
    for device, times in probes.items():
        for published, alert_id in zip(times, by_device.get(device, []), strict=False):
            if str(alert_id) in first_request:
                latencies.append(first_request[str(alert_id)] - published)
    if len(latencies) < sum(len(t) for t in probes.values()):
        print(f"warning: {len(latencies)} of {sum(len(t) for t in probes.values())} probes "
              "matched an SMS", file=sys.stderr)  # fmt: skip
    return latencies


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", type=float, nargs="+", default=[60.0, 600.0], help="readings/s")
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration per rate")
    parser.add_argument("--probe-every", type=float, default=1.0, help="seconds between probes")
    args = parser.parse_args(argv)
    print("| readings/s | readings | probes | p50 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for rate in args.rates:
        with tempfile.TemporaryDirectory() as root:
            row = measure(rate, args.seconds, args.probe_every, Path(root))
        print(f"| {row['rate']:g} | {row['readings']:.0f} | {row['probes']:.0f} | "
              f"{row['p50_ms']:.0f} | {row['p99_ms']:.0f} | {row['max_ms']:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
