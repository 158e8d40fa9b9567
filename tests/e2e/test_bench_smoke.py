"""Small runs of the benchmarks: they work end to end and count right. No timing is asserted."""

from __future__ import annotations

import shutil
import socket
import struct
import time
from pathlib import Path

import pytest

from bench import drain, forecasts, gateway, influx_lines, nodered, report, worklists
from bench.alert_latency import measure
from bench.common import BROKER_CONF, Publisher
from sangsach.localbroker import LocalBroker
from tests.services import InfluxD

NODERED_DIR = Path(__file__).resolve().parents[2] / nodered.DEFAULT_DIR

pytestmark = pytest.mark.e2e


def test_alert_latency_benchmark_smoke(tmp_path: Path) -> None:
    row = measure(rate=30, seconds=4, probe_every=1.0, root=tmp_path)
    assert row["probes"] >= 3, "every probe should raise an alert whose SMS reaches the carrier"
    assert row["readings"] > 100
    assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]


def test_drain_benchmark_counts_every_reading_once(
    broker: LocalBroker, influxd: InfluxD, tmp_path: Path
) -> None:
    """References and two gateways on one shared subscription drain the same 3,000 readings;
    then one gateway drains 3,000 of an alert storm."""
    result = drain.run(drain.Servers(broker, influxd), tmp_path, 3_000, 300, [2])

    rows = {row["pipeline"]: row for row in result["rows"]}
    assert list(rows) == [
        "mosquitto_sub (broker alone)",
        "minimal Python consumer",
        "ours, 2 gateways",
        "ours, 1 gateway, alert storm (every lamp cycling)",
    ]
    for name, row in rows.items():
        assert (row["lost"], row["duplicated"]) == (0, 0), name
        assert row["readings_per_s"] > 0 and row["consumer_cpu_ms_per_1000"] > 0, name
    ours = rows["ours, 2 gateways"]
    assert ours["stored"] == 3_000
    assert set(ours["cpu_ms_per_1000"]) >= {"backend", "gateway 1", "gateway 2", "influxd"}
    # Timed from the gateways' connection, as Node-RED is: their start-up left out, and kept.
    assert ours["startup_s"] > 0 and ours["startup_cpu_ms"] > 0
    start = ours["from_start"]
    assert start["readings_per_s"] < ours["readings_per_s"]
    assert start["cpu_ms_per_1000"]["gateway 1"] > ours["cpu_ms_per_1000"]["gateway 1"]
    text = report.markdown({"machine": {"cpus": 2, "cpu": "x", "python": "3", "system": "y",
                                        "load_before": "0"}, "drain": result})  # fmt: skip
    assert "| ours, 2 gateways |" in text
    assert "Node-RED rows skipped: not asked for." in text


def test_line_shape_benchmark_stores_every_point_of_every_shape(tmp_path: Path) -> None:
    costs = influx_lines.measure(2_000, 200, 2, tmp_path)  # raises if a point is missing

    assert list(costs) == list(influx_lines.SHAPES)
    assert all(len(runs) == 2 and all(x >= 0 for x in runs) for runs in costs.values())


def _packet(first: int, body: bytes) -> bytes:
    length, size = b"", len(body)
    while True:
        size, digit = divmod(size, 128)
        length += bytes([digit | (128 if size else 0)])
        if not size:
            return bytes([first]) + length + body


def _string(text: bytes) -> bytes:
    return struct.pack(">H", len(text)) + text


def _window(port: int, sent: int = 50) -> int:
    """QoS 1 messages the broker sends an MQTT 3.1.1 subscriber that acknowledges none."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_packet(0x10, _string(b"MQTT") + b"\x04\x02\x00\x3c" + _string(b"probe")))
        assert sock.recv(4)[:1] == b"\x20"  # CONNACK
        sock.sendall(_packet(0x82, b"\x00\x01" + _string(b"probe/t") + b"\x01"))
        assert sock.recv(5)[:1] == b"\x90"  # SUBACK
        publisher = Publisher(port, "probe-publisher")
        publisher.publish_all(("probe/t", b"x") for _ in range(sent))
        publisher.close()
        time.sleep(0.5)
        sock.settimeout(0.5)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            pass
    publishes = i = 0
    while i < len(data):
        kind, i, length, shift = data[i] >> 4, i + 1, 0, 0
        while True:
            length, i, shift = length | (data[i] & 127) << shift, i + 1, shift + 7
            if not data[i - 1] & 128:
                break
        publishes += kind == 3
        i += length
    return publishes


def test_the_stock_window_broker_holds_node_red_to_20_in_flight(
    broker: LocalBroker, tmp_path: Path
) -> None:
    """What the Node-RED rows rely on: an MQTT 3.1.1 client gets the policy's window of 1,000
    (all 50 sent here), and the stock-window broker's appended setting overrides it to 20."""
    assert _window(broker.port) == 50
    conf = f"{BROKER_CONF}max_inflight_messages {drain.STOCK_WINDOW}\n"
    with LocalBroker(tmp_path / "stock", extra_conf=conf) as stock:
        assert _window(stock.port) == drain.STOCK_WINDOW


@pytest.mark.skipif(
    shutil.which("node") is None or not nodered.installed(NODERED_DIR),
    reason="Node-RED is not installed (scripts/bench.sh drain installs it with npm)",
)
def test_node_red_drains_every_reading_once_on_both_windows(
    broker: LocalBroker, influxd: InfluxD, tmp_path: Path
) -> None:
    """Only where a benchmark run has installed Node-RED: the tests never run npm."""
    for db in ("drain_minimal", "drain_nodered", "drain_stock", "drain_ours_1"):
        influxd.query(f'DROP DATABASE "{db}"', db)  # the session's influxd: other tests' drains
    result = drain.run(drain.Servers(broker, influxd), tmp_path, 3_000, 300, [1], storm=False,
                       nodered=NODERED_DIR)  # fmt: skip

    rows = {row["pipeline"]: row for row in result["rows"]}
    assert list(rows)[2:] == [drain.NODERED, drain.NODERED_STOCK, "ours, 1 gateway"]
    for name, row in rows.items():
        assert (row["lost"], row["duplicated"]) == (0, 0), name
    assert rows[drain.NODERED]["stored"] == 3_000
    assert set(rows[drain.NODERED]["cpu_ms_per_1000"]) == {"node-red", "mosquitto", "influxd"}
    assert rows["ours, 1 gateway"]["x_nodered"] > 0
    assert result["nodered"] == nodered.describe()


def test_forecast_benchmark_models_every_bin_and_reads_every_reading(tmp_path: Path) -> None:
    """40 bins modelled (the run raises for a bin without a model), 10 of them written to a
    real influxd and read back whole, in the report."""
    result = forecasts.run(40, 28, 600, 10, 1, tmp_path)

    assert result["readings_per_bin"] == 28 * 144
    assert result["read_rows"] == 10 * 28 * 144, "every reading, with a fill or without"
    assert result["store"]["points"] == 10 * 28 * 144
    assert result["compute_s"] > 0 and result["read_s"] > 0
    assert result["serve_bins"] == 40 and result["serve_s"] >= 0  # no bin's month read
    text = report.markdown({"machine": {"cpus": 2, "cpu": "x", "python": "3", "system": "y",
                                        "load_before": "0"}, "forecasts": result})  # fmt: skip
    assert "## Fill forecasts: 40 bins, 28 days of readings every 10 min" in text
    assert "read from InfluxDB, 10 bins (40,320 readings" in text
    assert "serve a request of every bin, models kept (40 bins)" in text


def test_worklist_benchmark_routes_every_crew_of_its_communes() -> None:
    result = worklists.run(3, 1.0, 0.0, 1, 1)

    assert result["crews"] == 2 + 3 + 4  # 10, 15 and 20 villages, 5 a crew
    assert 3 * 36 <= result["points"] <= 3 * 45
    assert 0 < result["route_km"] <= result["reference_km"]


def test_gateway_benchmark_forwards_every_reading_and_empties_its_spool(tmp_path: Path) -> None:
    got = gateway.measure(2_000, 200, tmp_path)

    assert (got["accepted"], got["forwarded"], got["left"]) == (2_000, 2_000, 0)
    assert got["bytes"] > 2_000 * 100  # each reading's JSON went into a batch body
