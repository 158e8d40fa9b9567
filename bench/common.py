"""Shared parts of the benchmarks: data, publisher, process meters, InfluxDB counts, our stack."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from sangsach.localbroker import free_port
from sangsach.province_file import load_installation
from sangsach.registry_file import load_registry
from sangsach.registry_gen import generate
from tests.harness import Process, backend_healthy, wait_until

TICK = os.sysconf("SC_CLK_TCK")
# Benchmarks keep their broker's queue in memory; a save of a million queued messages every
# minute (the policy's autosave_interval) would land inside the timed drains.
BROKER_CONF = "autosave_interval 3600\n"
# The gateway's log line when its connection to the broker is acknowledged (gateway/mqtt.py).
CONNECTED = re.compile(rb"\bconnected to \S+ \(session present")


def curl_times(
    urls: Sequence[str],
    *,
    rounds: int | None = None,
    seconds: float = 0.0,
    token: str | None = None,
    pause_s: float = 0.01,
) -> subprocess.Popen[str]:
    """GET ``urls`` with curl in a loop beside a benchmark, ``rounds`` times or else for
    ``seconds``, pausing ``pause_s`` after each round: one ``<status> <seconds>`` line a request.
    """
    auth = f" -H 'Authorization: Bearer {token}'" if token else ""
    one_round = (
        f"for p in {' '.join(urls)}; do curl -s -o /dev/null{auth}"
        f" -w '%{{http_code}} %{{time_total}}\\n' $p; done; sleep {pause_s}"
    )
    if rounds is not None:
        script = f"for i in $(seq 1 {rounds}); do {one_round}; done"
    else:
        script = (
            f"end=$(( $(date +%s) + {int(seconds)} )); "
            f"while [ $(date +%s) -lt $end ]; do {one_round}; done"
        )
    return subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, text=True)


def curl_millis(poller: subprocess.Popen[str], *, only_ok: bool = False) -> list[float]:
    """The times of ``curl_times``'s requests in ms; with ``only_ok`` an answer other than
    200 stops the benchmark."""
    out, _ = poller.communicate()
    times = []
    for line in out.splitlines():
        code, took = line.split()
        if only_ok and code != "200":
            raise SystemExit(f"a page answered {code} during the benchmark")
        times.append(float(took) * 1000)
    return times


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, from /proc (threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    kind: str


def generate_registry(path: Path, devices: int) -> list[Device]:
    """A synthetic registry of about ``devices`` devices (80 lamps and 20 bins a village)."""
    villages = max(1, devices // 100)
    lamps, bins = (80, 20) if devices >= 100 else (devices * 4 // 5, max(1, devices // 5))
    out = subprocess.run(
        [sys.executable, "-m", "sangsach", "registry", "generate", "--villages", str(villages),
         "--lamps", str(lamps), "--bins", str(bins)],
        check=True, capture_output=True,
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.stdout)
    return [Device(d.id, d.kind) for d in load_registry(path).devices()]


def generate_province(path: Path, devices: int, communes: int) -> list[Device]:
    """A province file of ``communes`` synthetic communes sharing about ``devices`` devices,
    each commune shaped as :func:`generate_registry` makes one (ids prefixed ``c001-``...)."""
    per = devices // communes
    villages = max(1, per // 100)
    lamps, bins = (80, 20) if per >= 100 else (per * 4 // 5, max(1, per // 5))
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(1, communes + 1):
        cid = f"c{i:03d}"
        text = generate(villages, lamps, bins, i, prefix=f"{cid}-", name=f"Xã số {i}")
        (path.parent / f"{cid}.yaml").write_text(text, encoding="utf-8")
        entries.append({"id": cid, "registry": f"{cid}.yaml"})
    province = {"province": {"name": "Tỉnh Giả Lập"}, "communes": entries}
    path.write_text(yaml.safe_dump(province, allow_unicode=True), encoding="utf-8")
    return [
        Device(d.id, d.kind)
        for commune in load_installation(path).communes.values()
        for d in commune.devices()
    ]


def reading_payload(device: Device, seq: int, ts: int, *, cycling: bool = False) -> bytes:
    """A healthy node's reading: a lamp lit and drawing current, a bin filling. ``cycling``:
    every lamp switches at every reading instead, so each one raises a cycling alert and SMS
    (an alert storm: thousands of alerts at once, not what a healthy fleet sends)."""
    body: dict[str, Any] = {"id": device.id, "kind": device.kind, "boot": 1, "seq": seq, "ts": ts}
    if device.kind == "lamp":
        on = seq % 2 == 0 if cycling else True
        body.update(on=on, current_a=0.14, voltage_v=221.0, lux=12.5)
    else:
        body.update(fill_pct=float(seq % 90), battery_v=3.9, temp_c=28.0)
    return json.dumps(body).encode()


def readings(
    devices: Sequence[Device], n: int, ts: int, *, cycling: bool = False
) -> Iterator[tuple[str, bytes]]:
    """``n`` readings spread round-robin over ``devices``; seq counts per device from 1."""
    for i in range(n):
        device = devices[i % len(devices)]
        topic = f"sangsach/v1/{device.id}/telemetry"
        seq, stamp = i // len(devices) + 1, ts - (n - i) // 1000
        yield topic, reading_payload(device, seq, stamp, cycling=cycling)


class Publisher:
    """One paho client publishing QoS 1 as fast as the broker acknowledges."""

    def __init__(self, port: int, client_id: str = "bench-publisher") -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> paho.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=1)

    def publish_all(self, messages: Iterator[tuple[str, bytes]]) -> int:
        """Publish all, at most 20,000 unacknowledged (paho's message ids are 16-bit)."""
        pending: deque[paho.MQTTMessageInfo] = deque()
        sent = 0
        for topic, payload in messages:
            pending.append(self.publish(topic, payload))
            sent += 1
            while len(pending) > 20_000 or (pending and pending[0].is_published()):
                pending.popleft().wait_for_publish(120)
        for info in pending:
            info.wait_for_publish(120)
        return sent

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Influx:
    """Counting what a pipeline stored, straight from InfluxDB."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)

    def query(self, db: str, q: str) -> list[dict[str, Any]]:
        response = self.http.post("/query", params={"db": db, "q": q})
        response.raise_for_status()
        return list(response.json()["results"][0].get("series", []))

    def create(self, db: str) -> None:
        self.query(db, f'CREATE DATABASE "{db}"')

    def count(self, db: str) -> int:
        total = 0
        for series in self.query(db, 'SELECT count("seq") FROM "lamp", "bin"'):
            total += int(series["values"][0][1])
        return total

    def check(self, db: str, devices: Sequence[Device], n: int) -> dict[str, int]:
        """Points stored, readings lost and duplicated, against what was published."""
        per_device = n // len(devices)
        expected = {
            d.id: per_device + (1 if i < n % len(devices) else 0) for i, d in enumerate(devices)
        }
        found: dict[str, tuple[int, int]] = {}
        q = 'SELECT count("seq"), sum("seq") FROM "lamp", "bin" GROUP BY "device"'
        for series in self.query(db, q):
            count, total = series["values"][0][1:3]
            found[series["tags"]["device"]] = (int(count), int(total))
        lost = duplicated = 0
        for device, want in expected.items():
            count, total = found.get(device, (0, 0))
            lost += max(0, want - count)
            duplicated += max(0, count - want)
            if count == want and total != want * (want + 1) // 2:
                lost += 1  # the right count, but not the readings 1..want
        return {"stored": sum(c for c, _ in found.values()), "lost": lost, "duplicated": duplicated}


def wait_stored(
    influx: Influx, db: str, devices: Sequence[Device], n: int, last_ts: int, timeout: float
) -> float:
    """Wait until the ``n`` readings of :func:`readings` are stored; the monotonic time then.

    Counting every point costs influxd a tenth of a second at 200,000 points, and any query
    over all 10,000 series is not cheap either; polled, either would compete with the pipeline
    measured. So the poll asks only for the newest readings of the last 50 devices published
    (each gateway stores in the order it received, so these come last), and counts everything
    once they are in.
    """
    last = range(max(0, n - 999), n)  # the readings stamped ``last_ts`` (see readings())
    tail = {devices[i % len(devices)].id for i in range(max(0, n - 50), n)}
    expected = sum(1 for i in last if devices[i % len(devices)].id in tail)
    which = " OR ".join(f"\"device\" = '{d}'" for d in sorted(tail))
    cheap = f'SELECT count("seq") FROM "lamp", "bin" WHERE time >= {last_ts}s AND ({which})'  # noqa: S608
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sum(int(s["values"][0][1]) for s in influx.query(db, cheap))
        if found >= expected and influx.count(db) >= n:
            return time.monotonic()
        time.sleep(0.1 if found < expected else 0.5)
    raise RuntimeError(f"{db}: {influx.count(db)} of {n} readings stored after {timeout:.0f} s")


class OurStack:
    """Our backend (InfluxDB storage) and ``gateways`` gateways on one shared subscription."""

    def __init__(
        self, root: Path, mqtt_port: int, influx_url: str, db: str, registry: Path,
        gateways: int, group: str, extra_env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ, "SANGSACH_DATA_DIR": str(root), "SANGSACH_MQTT_PORT": str(mqtt_port),
            "SANGSACH_HTTP_PORT": str(self.port), "SANGSACH_BACKEND_URL": self.url,
            "SANGSACH_TIMESERIES": "influxdb", "SANGSACH_INFLUX_URL": influx_url,
            "SANGSACH_INFLUX_DB": db, "SANGSACH_REGISTRY_FILE": str(registry),
            "SANGSACH_SHARE_GROUP": group,
            # Capacity is measured, so the backend's per-gateway ingest rate limit is off, and
            # the one-time catch-up of daily scores at start does not run inside the timings.
            "SANGSACH_INGEST_RATE_PER_S": "0", "SANGSACH_ROLLUP_CATCH_UP_DAYS": "0",
            # The synthetic load stamps many readings per device-second: not a device flooding.
            "SANGSACH_DEVICE_RATE_PER_MIN": "0",
            **(extra_env or {}),
        }  # fmt: skip
        self.root = root
        self.backend = Process("backend", env, root / "backend.log")
        self.gateways = [
            Process("gateway", {**env, "SANGSACH_GATEWAY_ID": f"{group}-{i}"}, root / f"gw{i}.log")
            for i in range(gateways)
        ]
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def start_backend(self, timeout: float = 600) -> None:
        self.backend.start()
        wait_until(
            lambda: backend_healthy(self.backend, self.http), timeout, "backend health", every=0.5
        )

    def health(self, i: int) -> dict[str, Any]:
        path = self.root / f"gateway-{self.gateways[i].env['SANGSACH_GATEWAY_ID']}.json"
        try:
            return json.loads(path.read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return {}

    def start_gateways(self) -> None:
        self.start_gateways_metered()

    def start_gateways_metered(self) -> tuple[float, float, dict[str, float]]:
        """Start the gateways as Node-RED is started in the drain: timed from the connection.

        Returns when they were started and when the first one logged its connection to the
        broker (monotonic), and each one's CPU seconds at its connection: its start-up (imports,
        settings, the spool), which the drain leaves out as it leaves out Node-RED's. The logs
        are read every 2 ms from where they ended (a log holds the registration's start too).
        """
        offsets = [g.log_path.stat().st_size if g.log_path.exists() else 0 for g in self.gateways]
        started = time.monotonic()
        for gateway in self.gateways:
            gateway.start()
        at: dict[int, float] = {}
        startup: dict[str, float] = {}
        deadline = started + 120
        while len(at) < len(self.gateways):
            for i, gateway in enumerate(self.gateways):
                if i in at:
                    continue
                with gateway.log_path.open("rb") as log:
                    log.seek(offsets[i])
                    if CONNECTED.search(log.read()):
                        at[i] = time.monotonic()
                        startup[f"gateway {i + 1}"] = cpu_seconds(gateway.pid)
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateways did not connect within 120 s: {self.root}")
            time.sleep(0.002)
        wait_until(
            lambda: all(self.health(i).get("subscribed") for i in range(len(self.gateways))),
            120, "the gateways' subscriptions", every=0.2,
        )  # fmt: skip
        return started, min(at.values()), startup

    def register(self) -> None:
        """Start the gateways once so that the broker keeps their sessions, then stop them."""
        self.start_gateways()
        for gateway in self.gateways:
            gateway.stop()

    def pids(self) -> dict[str, int]:
        out = {"backend": self.backend.pid}
        out.update({f"gateway {i + 1}": g.pid for i, g in enumerate(self.gateways)})
        return out

    def close(self) -> None:
        for gateway in self.gateways:
            gateway.stop()
        self.backend.stop()
        self.http.close()
