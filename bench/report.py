"""The benchmark's figures as Markdown tables."""

from __future__ import annotations

from typing import Any


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*out, ""]


def nodered_table(drain: dict[str, Any]) -> list[str]:
    """Every storing pipeline against Node-RED's batch flow, on equal broker settings."""
    if drain.get("nodered_skipped"):
        return [f"Node-RED rows skipped: {drain['nodered_skipped']}.", ""]
    if "nodered" not in drain:
        return []
    lines = [
        f"### Against Node-RED ({drain['nodered']}; mqtt in -> function -> join 5,000 / 1 s -> "
        "influxdb batch), same readings, same broker, in-flight window 1,000 for every client",
        "",
        "CPU: every process of the pipeline together (its own, Mosquitto, influxd). Node-RED and "
        "our gateways are timed and metered from their connection to the broker, their start-up "
        "not counted (ours from the start is in the last column); Node-RED's last row runs on a "
        "second broker with Mosquitto's stock in-flight window of 20: what a default install gets.",
        "",
    ]
    rows = []
    for r in drain["rows"]:
        if r["pipeline"].startswith("mosquitto_sub"):
            continue
        extra = ""
        if "rss_mb" in r:
            extra = f"start-up {r['startup_s']} s, peak RSS {r['rss_mb']} MB"
        elif "from_start" in r:
            s = r["from_start"]
            extra = (f"start-up {r['startup_s']} s, {r['startup_cpu_ms']} ms CPU; from the "
                     f"start: {s['readings_per_s']:,}/s, {s['all_cpu_ms_per_1000']} ms/1000")  # fmt: skip
        rows.append([
            r["pipeline"], f"{r['readings_per_s']:,}", r.get("x_nodered", "1 (reference)"),
            r["all_cpu_ms_per_1000"], r.get("cpu_x_nodered", "1 (reference)"), r["lost"],
            r["duplicated"], extra,
        ])  # fmt: skip
    return lines + _table(
        ["pipeline", "readings/s", "rate × Node-RED", "CPU ms/1000, all processes",
         "CPU × Node-RED", "lost", "duplicated", "start-up"],
        rows,
    )  # fmt: skip


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Benchmark results" + (" (quick)" if results.get("quick") else ""),
        "",
        f"{m['cpus']} cores ({m['cpu']}), Python {m['python']}, {m['system']}; "
        f"load average before: {m['load_before']}.",
        "",
    ]
    if "drain" in results:
        d = results["drain"]
        lines += [
            f"## Drain capacity: {d['readings']:,} readings of {d['devices']:,} devices queued "
            f"at the broker (published in {d['publish_s']} s); load after: {d.get('load', '?')}",
            "",
        ]
        rows = []
        for r in d["rows"]:
            cpu = ", ".join(f"{k} {v}" for k, v in r["cpu_ms_per_1000"].items())
            rows.append([
                r["pipeline"], r["seconds"], f"{r['readings_per_s']:,}",
                r.get("x_minimal", ""), r.get("x_broker", ""), r["consumer_cpu_ms_per_1000"],
                r.get("cpu_x_minimal", ""), r["lost"], r["duplicated"],
                r.get("redelivered_dropped", ""), cpu,
            ])  # fmt: skip
        lines += _table(
            ["pipeline", "s", "readings/s", "× minimal", "× broker", "consumer CPU ms/1000",
             "CPU × minimal", "lost", "duplicated", "redelivered, dropped", "CPU ms/1000 per process"],
            rows,
        )  # fmt: skip
        lines += nodered_table(d)
    if "latency" in results:
        lines += ["## Latency: publish -> stored in InfluxDB (1 gateway)", ""]
        lines += _table(
            ["readings/s", "readings", "probes", "p50 ms", "p99 ms", "max ms", "lost", "load"],
            [[r["rate"], r["readings"], r["probes"], r["p50_ms"], r["p99_ms"], r["max_ms"],
              r["lost"], r["load"]] for r in results["latency"]],
        )  # fmt: skip
    if "alerts" in results:
        lines += ["## Alert latency: reading -> SMS request at the carrier stand-in", ""]
        lines += _table(
            ["readings/s", "readings", "probes", "p50 ms", "p99 ms", "max ms", "load"],
            [[f"{r['rate']:g}", f"{r['readings']:.0f}", f"{r['probes']:.0f}", f"{r['p50_ms']:.0f}",
              f"{r['p99_ms']:.0f}", f"{r['max_ms']:.0f}", r["load"]] for r in results["alerts"]],
        )  # fmt: skip
    if "memory" in results:
        lines += ["## Memory: peak RSS with every registered device reporting once", ""]
        lines += _table(
            ["devices", "communes", "gateway MB", "backend MB", "mosquitto MB",
             "influxd MB (run's peak)", "backend start s", "load"],
            [[f"{r['devices']:,}", r.get("communes", 1), r["gateway_mb"], r["backend_mb"],
              r.get("mosquitto_mb", ""), r.get("influxd_mb", ""), r["backend_start_s"], r["load"]]
             for r in results["memory"]],
        )  # fmt: skip
    if "scores" in results:
        s = results["scores"]
        lines += [f"## Scores ({s['data']})", ""]
        lines += _table(["what", "seconds"], [[what, secs] for what, secs in s["seconds"].items()])
    if "forecasts" in results:
        f = results["forecasts"]
        lines += [
            f"## Fill forecasts: {f['bins']:,} bins, {f['days']} days of readings every "
            f"{f['every_s'] // 60} min ({f['readings_per_bin']:,} a bin); median of "
            f"{len(f['compute_runs_s'])}",
            "",
        ]
        rows = [
            ["compute (models and forecasts, readings in memory)", f["compute_s"], f["cpu_s"],
             ", ".join(map(str, f["compute_runs_s"]))],
            [f"serve a request of every bin, models kept ({f['serve_bins']:,} bins)",
             f["serve_s"], "", ", ".join(map(str, f["serve_runs_s"]))],
        ]  # fmt: skip
        if "read_s" in f:
            rows.append([
                f"read from {f['store']['name']}, {f['read_bins']:,} bins ({f['read_rows']:,} "
                f"readings; {f['read_ms_per_bin']} ms a bin, {f['read_scaled_s']} s for "
                f"{f['bins']:,})", f["read_s"], "", ", ".join(map(str, f["read_runs_s"])),
            ])  # fmt: skip
        lines += _table(["what", "s", "CPU s", "runs, s"], rows)
        lines += [f"Load average before: {f['load_before']}; after: {f['load_after']}.", ""]
    if "worklists" in results:
        w = results["worklists"]
        lines += [
            f"## Work lists: {w['communes']} communes, {w['crews']} crews, {w['points']:,} "
            f"points on the lists; median of {len(w['runs_s'])}",
            "",
        ]
        lines += _table(
            ["s", "runs, s", "per crew ms, median", "per crew ms, max", "routes km",
             "library's first tours km", "load before"],
            [[w["seconds"], ", ".join(map(str, w["runs_s"])), w["crew_ms_median"],
              w["crew_ms_max"], w["route_km"], w["reference_km"], w["load_before"]]],
        )  # fmt: skip
    return "\n".join(lines)
