"""Drain capacity: N readings queued at the broker for an offline session, then drained.

Every consumer's persistent session is registered first (and left offline), then N readings are
published once; the broker keeps a copy for each session. Each consumer is then started alone
and timed from its start until all N readings are stored (for ``mosquitto_sub``: received).
CPU seconds of every process come from /proc (ours, Node-RED, InfluxDB, Mosquitto) or from the
consumer's exit status (the other references).

Node-RED (``bench/nodered.py``), when installed, drains the same readings on the same broker
with the same in-flight window of 1,000 as every other client, timed from its connection to the
broker (its start-up of a few seconds is not counted; our gateways' start is). It drains them a
second time from a second broker with Mosquitto's stock window of 20, the same policy otherwise:
what a default install gets. Every row then carries its rate and its CPU per 1,000 readings of
all processes together as ratios of Node-RED's (window 1,000).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sangsach.localbroker import LocalBroker
from tests.services import InfluxD

from .common import (
    BROKER_CONF,
    Device,
    Influx,
    OurStack,
    Publisher,
    cpu_seconds,
    generate_registry,
    peak_rss_mb,
    readings,
    wait_stored,
)
from .nodered import NodeRed, describe

TOPIC = "sangsach/v1/+/telemetry"
NODERED = "Node-RED batch flow"  # the reference every row is compared with
NODERED_STOCK = "Node-RED batch flow, stock in-flight window 20 (what a default install gets)"
STOCK_WINDOW = 20  # Mosquitto's default max_inflight_messages


def _sub_command(port: int, *extra: str) -> list[str]:
    return [
        "mosquitto_sub",
        "-p",
        str(port),
        "-c",
        "-i",
        "bench-sub",
        "-q",
        "1",
        "-t",
        TOPIC,
        *extra,
    ]


def _run_timed(
    command: list[str], timeout: float, stdout: Path | None = None
) -> tuple[float, float]:
    """Run a reference consumer to its end; (wall seconds, its CPU seconds)."""
    out = stdout.open("wb") if stdout else subprocess.DEVNULL
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"{command[0]} did not finish within {timeout:.0f} s")
        time.sleep(0.02)
    elapsed = time.monotonic() - start
    if process.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:3])} failed: {process.stderr.read() if process.stderr else ''!r}"
        )
    return elapsed, usage.ru_utime + usage.ru_stime


class Servers:
    """The broker and influxd shared by every part of one benchmark run."""

    def __init__(self, broker: LocalBroker, influxd: InfluxD) -> None:
        self.broker = broker
        self.influx_url = influxd.url
        self.influx = Influx(influxd.url)
        self.pids = {"mosquitto": _pid(broker._process), "influxd": _pid(influxd._process)}

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}


def _pid(process: subprocess.Popen[bytes] | None) -> int:
    if process is None:
        raise RuntimeError("the server is not running")
    return process.pid


def _row(
    name: str, n: int, seconds: float, cpu: dict[str, float], ours: list[str]
) -> dict[str, Any]:
    per_k = {proc: 1000 * used / n * 1000 for proc, used in cpu.items()}  # CPU ms per 1,000
    return {
        "pipeline": name,
        "readings": n,
        "seconds": round(seconds, 2),
        "readings_per_s": round(n / seconds),
        "cpu_ms_per_1000": {k: round(v, 1) for k, v in per_k.items()},
        "consumer_cpu_ms_per_1000": round(sum(v for k, v in per_k.items() if k in ours), 1),
        "all_cpu_ms_per_1000": round(sum(per_k.values()), 1),
    }


def compare_with_nodered(rows: list[dict[str, Any]]) -> None:
    """Give every storing row its rate and all-process CPU per 1,000 as ratios of Node-RED's."""
    reference = next((row for row in rows if row["pipeline"] == NODERED), None)
    if reference is None:
        return
    for row in rows:
        if row is reference or row["pipeline"].startswith("mosquitto_sub"):
            continue
        row["x_nodered"] = round(row["readings_per_s"] / reference["readings_per_s"], 2)
        row["cpu_x_nodered"] = round(
            row["all_cpu_ms_per_1000"] / reference["all_cpu_ms_per_1000"], 2
        )


def run(
    servers: Servers, root: Path, n: int, devices: int, gateways: list[int], storm: bool = True,
    nodered: Path | None = None, nodered_skipped: str = "",
) -> dict[str, Any]:  # fmt: skip
    """The drain; ``nodered``: Node-RED's install directory (None: no Node-RED rows, and
    ``nodered_skipped`` says why)."""
    port = servers.broker.port
    fleet: list[Device] = generate_registry(root / "registry.yaml", devices)
    influx = servers.influx
    _run_timed(_sub_command(port, "-E"), 60)
    _run_timed(
        [sys.executable, "-m", "bench.minimal_consumer", "--port", str(port), "--register"], 60
    )
    if nodered is not None:
        _nodered(nodered, root / "nodered", port, servers, "drain_nodered").register()
    stacks = {
        k: OurStack(root / f"ours-{k}", port, servers.influx_url, f"drain_ours_{k}",
                    root / "registry.yaml", k, f"bench{k}")
        for k in gateways
    }  # fmt: skip
    for stack in stacks.values():
        stack.register()
    publisher = Publisher(port)
    start = time.monotonic()
    last_ts = int(time.time())
    publisher.publish_all(readings(fleet, n, last_ts))
    publish_s = time.monotonic() - start
    rows = []

    # (a) the broker alone, drained by mosquitto_sub
    before = servers.cpu()
    seconds, used = _run_timed(_sub_command(port, "-C", str(n)), 600, root / "sub.out")
    cpu = {"mosquitto_sub": used, **{k: v - before[k] for k, v in servers.cpu().items()}}
    row = _row("mosquitto_sub (broker alone)", n, seconds, cpu, ["mosquitto_sub"])
    received = (root / "sub.out").read_bytes().count(b"\n")
    row.update(lost=n - received, duplicated=0)
    rows.append(row)

    # (b) the minimal Python consumer
    influx.create("drain_minimal")
    before = servers.cpu()
    command = [sys.executable, "-m", "bench.minimal_consumer", "--port", str(port),
               "--influx", servers.influx_url, "--db", "drain_minimal", "--expect", str(n)]  # fmt: skip
    seconds, used = _run_timed(command, 900)
    cpu = {"minimal consumer": used, **{k: v - before[k] for k, v in servers.cpu().items()}}
    row = _row("minimal Python consumer", n, seconds, cpu, ["minimal consumer"])
    row.update(influx.check("drain_minimal", fleet, n))
    rows.append(row)

    # (c) Node-RED's batch flow on the same broker; (d) again, on a broker with the stock window
    if nodered is not None:
        red = _nodered(nodered, root / "nodered", port, servers, "drain_nodered")
        rows.append(_drain_nodered(servers, red, NODERED, servers.pids["mosquitto"],
                                   "drain_nodered", fleet, n, last_ts))  # fmt: skip
        stock_conf = f"{BROKER_CONF}max_inflight_messages {STOCK_WINDOW}\n"
        with LocalBroker(root / "mosquitto-stock", extra_conf=stock_conf) as stock:
            red = _nodered(nodered, root / "nodered-stock", stock.port, servers, "drain_stock")
            red.register()
            stock_publisher = Publisher(stock.port)
            stock_publisher.publish_all(readings(fleet, n, last_ts))  # the same readings
            stock_publisher.close()
            rows.append(_drain_nodered(servers, red, NODERED_STOCK, _pid(stock._process),
                                       "drain_stock", fleet, n, last_ts))  # fmt: skip

    # ours, with 1, 2, 4 gateways on one shared subscription
    for k, stack in stacks.items():
        name = f"ours, {k} gateway{'s' if k > 1 else ''}"
        rows.append(_drain_ours(servers, stack, name, f"drain_ours_{k}", fleet, n, last_ts))

    # ours again, 1 gateway, on an alert storm: every lamp switching at every reading
    if storm:
        stack = OurStack(root / "ours-storm", port, servers.influx_url, "drain_ours_storm",
                         root / "registry.yaml", 1, "benchstorm")  # fmt: skip
        stack.register()
        storm_ts = int(time.time())
        publisher.publish_all(readings(fleet, n, storm_ts, cycling=True))
        name = "ours, 1 gateway, alert storm (every lamp cycling)"
        rows.append(_drain_ours(servers, stack, name, "drain_ours_storm", fleet, n, storm_ts))
    publisher.close()
    minimal = rows[1]
    for row in rows[2:]:
        if row["pipeline"].startswith(NODERED):
            continue
        row["x_minimal"] = round(row["readings_per_s"] / minimal["readings_per_s"], 2)
        row["x_broker"] = round(row["readings_per_s"] / rows[0]["readings_per_s"], 2)
        row["cpu_x_minimal"] = round(
            row["consumer_cpu_ms_per_1000"] / minimal["consumer_cpu_ms_per_1000"], 2
        )
    compare_with_nodered(rows)
    result = {"readings": n, "devices": len(fleet), "publish_s": round(publish_s, 1), "rows": rows}
    if nodered is not None:
        result["nodered"] = describe()
    else:
        result["nodered_skipped"] = nodered_skipped or "not asked for"
    return result


def _nodered(directory: Path, user_dir: Path, port: int, servers: Servers, db: str) -> NodeRed:
    return NodeRed(directory, user_dir, port, servers.influx_url, db, f"bench-nodered-{db}")


def _drain_nodered(
    servers: Servers, red: NodeRed, name: str, broker_pid: int, db: str, fleet: list[Device],
    n: int, last_ts: int,
) -> dict[str, Any]:  # fmt: skip
    """Start Node-RED and time it from its connection until all ``n`` are stored."""
    servers.influx.create(db)
    meters = {"node-red": 0, "mosquitto": broker_pid, "influxd": servers.pids["influxd"]}
    try:
        started = red.start()
        connected = red.wait_connected()
        meters["node-red"] = red.pid
        before = {proc: cpu_seconds(pid) for proc, pid in meters.items()}
        end = wait_stored(servers.influx, db, fleet, n, last_ts, 1800)
        cpu = {proc: cpu_seconds(pid) - before[proc] for proc, pid in meters.items()}
        rss = peak_rss_mb(red.pid)
    finally:
        red.stop()
    row = _row(name, n, end - connected, cpu, ["node-red"])
    row.update(servers.influx.check(db, fleet, n))
    row.update(startup_s=round(connected - started, 2), rss_mb=round(rss))
    return row


def _drain_ours(
    servers: Servers, stack: OurStack, name: str, db: str, fleet: list[Device], n: int,
    last_ts: int,
) -> dict[str, Any]:  # fmt: skip
    """Start our backend, then the gateways, and time them until all ``n`` are stored.

    Timed and metered as Node-RED is: from the first gateway's connection to the broker, its
    start-up left out. The figures from the gateways' start are kept beside (``from_start``).
    """
    try:
        stack.start_backend()
        backend_before = cpu_seconds(stack.backend.pid)
        before = servers.cpu()
        started, connected, startup = stack.start_gateways_metered()
        end = wait_stored(servers.influx, db, fleet, n, last_ts, 1800)
        cpu = {proc: cpu_seconds(pid) for proc, pid in stack.pids().items()}
        cpu["backend"] -= backend_before
        cpu.update({proc: v - before[proc] for proc, v in servers.cpu().items()})
        ours = [proc for proc in cpu if proc == "backend" or proc.startswith("gateway")]
        from_start = _row(name, n, end - started, cpu, ours)
        cpu.update({proc: cpu[proc] - used for proc, used in startup.items()})
        row = _row(name, n, end - connected, cpu, ours)
        row["startup_s"] = round(connected - started, 2)
        row["startup_cpu_ms"] = round(1000 * sum(startup.values()))
        row["from_start"] = {
            k: from_start[k] for k in ("readings_per_s", "all_cpu_ms_per_1000", "cpu_ms_per_1000")
        }
        time.sleep(2.5)  # the gateways' health files are written every 2 s
        intake = [stack.health(i).get("intake", {}) for i in range(len(stack.gateways))]
        row.update(servers.influx.check(db, fleet, n))
        row["redelivered_dropped"] = sum(int(s.get("duplicates", 0)) for s in intake)
        row["gateways"] = len(stack.gateways)
        return row
    finally:
        stack.close()
