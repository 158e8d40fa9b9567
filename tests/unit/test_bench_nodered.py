"""The drain benchmark's Node-RED reference, without Node.js, npm or a network: the flow is the
one the figures describe, the ratios are computed right, and a machine without Node.js gets
the other rows and a reason instead of a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import drain, nodered, report


def _nodes() -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in json.loads(nodered.FLOW.read_text(encoding="utf-8"))}


def _one(nodes: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [node for node in nodes.values() if node["type"] == kind]
    assert len(found) == 1, kind
    return found[0]


def test_the_flow_is_mqtt_in_function_join_influxdb_batch() -> None:
    nodes = _nodes()
    mqtt_in = _one(nodes, "mqtt in")
    chain = [mqtt_in["type"]]
    node = mqtt_in
    while node["wires"]:
        (outputs,) = node["wires"]
        (target,) = outputs
        node = nodes[target]
        chain.append(node["type"])
    assert chain == ["mqtt in", "function", "join", "influxdb batch"]
    assert _one(nodes, "influxdb batch")["influxdb"] == _one(nodes, "influxdb")["id"]


def test_the_flow_drains_a_persistent_qos1_session_in_batches_of_5000_or_1_s() -> None:
    nodes = _nodes()
    mqtt_in, broker = _one(nodes, "mqtt in"), _one(nodes, "mqtt-broker")
    assert mqtt_in["topic"] == drain.TOPIC
    assert mqtt_in["qos"] == "1" and mqtt_in["datatype"] == "json"
    assert mqtt_in["broker"] == broker["id"]
    # The session outlives the registering run, its subscription included.
    assert broker["cleansession"] is False and broker["autoUnsubscribe"] is False
    # MQTT 3.1.1: no Receive Maximum, so the broker's max_inflight_messages is the window.
    assert broker["protocolVersion"] == "4"
    assert broker["port"] == "${SANGSACH_BENCH_MQTT_PORT}"
    join = _one(nodes, "join")
    assert (join["mode"], join["build"], join["count"], join["timeout"]) == (
        "custom", "array", "5000", "1",
    )  # fmt: skip
    influx = _one(nodes, "influxdb")
    assert influx["influxdbVersion"] == "1.x"
    assert influx["database"] == "${SANGSACH_BENCH_INFLUX_DB}"


def test_the_flow_writes_the_minimal_consumers_point() -> None:
    """The function's point, read back from its source: measurement, tag, fields, time."""
    func = _one(_nodes(), "function")["func"]
    assert "measurement: r.kind" in func and "tags: { device: r.id }" in func
    assert 'key !== "id" && key !== "kind" && key !== "ts"' in func
    assert "String(r.ts) + nanos" in func and "r.seq % 1000000" in func


def test_the_versions_are_pinned_exactly() -> None:
    versions = nodered.pinned()
    assert set(versions) == {"node-red", "node-red-contrib-influxdb"}
    assert versions["node-red"].startswith("4.1.")
    assert versions["node-red-contrib-influxdb"] == "0.7.0"
    assert all(v[0].isdigit() for v in versions.values()), "exact versions, no ranges"


def test_settings_run_the_flow_without_editor_or_network(tmp_path: Path) -> None:
    text = nodered.settings_js(tmp_path / "flow.json", 18801)
    assert text.startswith("module.exports = ")
    settings = json.loads(text.removeprefix("module.exports = ").rstrip().rstrip(";"))
    assert settings["flowFile"] == str(tmp_path / "flow.json")
    assert settings["uiHost"] == "127.0.0.1" and settings["uiPort"] == 18801
    assert settings["disableEditor"] is True and settings["httpAdminRoot"] is False
    assert settings["externalModules"]["autoInstall"] is False
    assert settings["telemetry"]["enabled"] is False


def test_without_node_the_install_says_why_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    why = nodered.prepare(tmp_path / "nodered")
    assert why == "Node.js (node and npm) is not installed"
    assert not (tmp_path / "nodered").exists()
    assert not nodered.installed(tmp_path / "nodered")


def test_an_old_install_does_not_count_as_installed(tmp_path: Path) -> None:
    for name, version in nodered.pinned().items():
        manifest = tmp_path / "node_modules" / name / "package.json"
        manifest.parent.mkdir(parents=True)
        manifest.write_text(json.dumps({"version": version}), encoding="utf-8")
    assert nodered.installed(tmp_path)
    manifest = tmp_path / "node_modules" / "node-red" / "package.json"
    manifest.write_text(json.dumps({"version": "3.1.0"}), encoding="utf-8")
    assert not nodered.installed(tmp_path)


def _row(name: str, rate: int, cpu: dict[str, float]) -> dict[str, Any]:
    return {"pipeline": name, "readings_per_s": rate, "cpu_ms_per_1000": cpu,
            "all_cpu_ms_per_1000": round(sum(cpu.values()), 1), "lost": 0, "duplicated": 0}  # fmt: skip


def test_every_storing_row_is_a_ratio_of_node_reds() -> None:
    rows = [
        _row("mosquitto_sub (broker alone)", 100_000, {"mosquitto_sub": 9, "mosquitto": 6}),
        _row("minimal Python consumer", 10_000, {"minimal consumer": 50, "mosquitto": 8}),
        _row(drain.NODERED, 20_000, {"node-red": 46, "mosquitto": 7, "influxd": 17}),
        _row(drain.NODERED_STOCK, 10_000, {"node-red": 40, "mosquitto": 9, "influxd": 16}),
        _row("ours, 1 gateway", 25_000, {"backend": 30, "gateway 1": 20, "influxd": 20}),
    ]
    drain.compare_with_nodered(rows)

    by_name = {row["pipeline"]: row for row in rows}
    assert "x_nodered" not in by_name["mosquitto_sub (broker alone)"]
    assert "x_nodered" not in by_name[drain.NODERED]
    assert by_name["minimal Python consumer"]["x_nodered"] == 0.5
    assert by_name["minimal Python consumer"]["cpu_x_nodered"] == round(58 / 70, 2)
    assert by_name[drain.NODERED_STOCK]["x_nodered"] == 0.5
    assert by_name[drain.NODERED_STOCK]["cpu_x_nodered"] == round(65 / 70, 2)
    assert by_name["ours, 1 gateway"]["x_nodered"] == 1.25
    assert by_name["ours, 1 gateway"]["cpu_x_nodered"] == 1.0

    table = "\n".join(report.nodered_table({"nodered": "node-red 4.1.15", "rows": rows}))
    assert "| ours, 1 gateway | 25,000 | 1.25 | 70 | 1.0 | 0 | 0 |  |" in table
    assert f"| {drain.NODERED} | 20,000 | 1 (reference) | 70 | 1 (reference) |" in table
    assert "mosquitto_sub" not in table


def test_without_node_red_no_ratios_and_the_report_says_why() -> None:
    rows = [_row("ours, 1 gateway", 25_000, {"backend": 30})]
    drain.compare_with_nodered(rows)
    assert "x_nodered" not in rows[0]
    lines = report.nodered_table({"rows": rows, "nodered_skipped": "Node.js is not installed"})
    assert lines == ["Node-RED rows skipped: Node.js is not installed.", ""]
