"""Two commits of ours and Node-RED drain the same queued readings in one run: a before/after.

    python -m bench.ab_drain BEFORE_TREE AFTER_TREE [--readings 200000] [--order nodered,before,after]
    python -m bench.ab_drain T1 T2 T3 --names before,after,live --order live,nodered,before,after

BEFORE_TREE and AFTER_TREE (or more, named by ``--names``) are checkouts of the commits (``git worktree add --detach``,
with ``sangsach/backend``, ``sangsach/gateway`` and ``sangsach/simulators`` linked to
``../backend``, ``../gateway`` and ``../simulators`` as the editable install maps them). Each
stack runs its own tree's code (``PYTHONPATH``); run this from a folder holding no
``sangsach`` package, with ``PYTHONPATH`` set to one of the trees for the bench itself.

The readings are queued once for a registered session of each (Node-RED's, BEFORE's, AFTER's)
on one broker with the project's policy, then each drains alone, in ``--order``, timed and
metered as ``bench.drain`` does. Then the last tree drains the alert storm (every lamp cycling), on a
session registered after the first drains, as ``bench.drain`` does. Prints one JSON row per
drain and a summary with every row's rate and all-process CPU per 1,000 readings as ratios of
Node-RED's. On a shared machine, repeat and take medians: only ratios inside one run compare.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from sangsach.localbroker import LocalBroker
from tests.services import InfluxD

from .common import BROKER_CONF, OurStack, Publisher, generate_registry, readings
from .drain import NODERED, Servers, _drain_nodered, _drain_ours, _nodered
from .nodered import DEFAULT_DIR, prepare


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", type=Path, nargs="+", help="checkouts of the commits")
    parser.add_argument("--names", default="before,after", help="the trees' names, in order")
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--order", default="nodered,before,after")
    parser.add_argument("--nodered-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--no-storm", action="store_true")
    args = parser.parse_args(argv)
    why = prepare(args.nodered_dir)
    if why:
        raise SystemExit(f"Node-RED not ready: {why}")
    names = args.names.split(",")
    if len(names) != len(args.trees):
        raise SystemExit(f"{len(args.trees)} trees but {len(names)} names: {args.names}")
    trees = {name: str(tree.resolve()) for name, tree in zip(names, args.trees, strict=True)}
    n = args.readings
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="sangsach-ab-drain-") as tmp:
        root = Path(tmp)
        influxd = InfluxD(root / "influxd").start()
        try:
            with LocalBroker(root / "mosquitto", extra_conf=BROKER_CONF) as broker:
                servers = Servers(broker, influxd)
                fleet = generate_registry(root / "registry.yaml", args.devices)
                red = _nodered(args.nodered_dir, root / "nodered", broker.port, servers, "ab_red")
                red.register()

                def stack(name: str, tree: str) -> OurStack:
                    made = OurStack(root / name, broker.port, influxd.url, f"ab_{name}",
                                    root / "registry.yaml", 1, f"ab{name}",
                                    {"PYTHONPATH": tree})  # fmt: skip
                    made.register()
                    return made

                stacks = {name: stack(name, tree) for name, tree in trees.items()}
                publisher = Publisher(broker.port)
                last_ts = int(time.time())
                start = time.monotonic()
                publisher.publish_all(readings(fleet, n, last_ts))
                print(f"published {n} in {time.monotonic() - start:.0f} s", flush=True)
                for name in args.order.split(","):
                    if name == "nodered":
                        rows[name] = _drain_nodered(servers, red, NODERED,
                                                    servers.pids["mosquitto"], "ab_red", fleet,
                                                    n, last_ts)  # fmt: skip
                    else:
                        rows[name] = _drain_ours(servers, stacks[name], name, f"ab_{name}",
                                                 fleet, n, last_ts)  # fmt: skip
                    print(name, json.dumps(rows[name]), flush=True)
                if not args.no_storm:
                    storm = stack("storm", trees[names[-1]])  # its session: the storm's only
                    storm_ts = int(time.time())
                    publisher.publish_all(readings(fleet, n, storm_ts, cycling=True))
                    rows["storm"] = _drain_ours(servers, storm, f"{names[-1]}, alert storm", "ab_storm",
                                                fleet, n, storm_ts)  # fmt: skip
                    print("storm", json.dumps(rows["storm"]), flush=True)
                publisher.close()
        finally:
            influxd.stop()
    reference = rows["nodered"]
    for name, row in rows.items():
        rate = row["readings_per_s"] / reference["readings_per_s"]
        cpu = row["all_cpu_ms_per_1000"] / reference["all_cpu_ms_per_1000"]
        print(f"SUMMARY {name}: {row['readings_per_s']}/s ({rate:.2f}x Node-RED), all CPU "
              f"{row['all_cpu_ms_per_1000']} ms per 1,000 ({cpu:.2f}x) {row['cpu_ms_per_1000']}; "
              f"lost {row['lost']}, duplicated {row['duplicated']}")  # fmt: skip
        if "from_start" in row:
            s = row["from_start"]
            rate = s["readings_per_s"] / reference["readings_per_s"]
            cpu = s["all_cpu_ms_per_1000"] / reference["all_cpu_ms_per_1000"]
            print(f"  {name} from its start: {s['readings_per_s']}/s ({rate:.2f}x), "
                  f"{s['all_cpu_ms_per_1000']} ms per 1,000 ({cpu:.2f}x); start-up "
                  f"{row['startup_s']} s, {row['startup_cpu_ms']} ms of CPU")  # fmt: skip


if __name__ == "__main__":
    main()
