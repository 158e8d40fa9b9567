"""Time the gateway's own stages in process: CPU per reading, without MQTT or HTTP.

    python -m bench.gateway                         # 100,000 readings of 10,000 devices
    python -m bench.gateway --readings 20000 --profile var/gateway.prof

Feeds the drain benchmark's single-reading messages through the gateway's parts as
``sangsach gateway`` wires them (``Validator``, ``RecentKeys``, ``DeviceThrottle``, a durable
``Spool`` in a scratch folder): the intake's checks in chunks of what one MQTT read hands over,
each chunk appended to the spool in one transaction, then the forwarder's side (the spool read
in batches of 2,000, each batch's body assembled, the batch deleted). Prints the process's CPU
ms per 1,000 readings for each stage, so a change to the gateway's hot path can be measured in
seconds; ``bench.run drain`` remains the figure that counts.
"""

from __future__ import annotations

import argparse
import cProfile
import tempfile
import time
from pathlib import Path

from sangsach.gateway.dedup import RecentKeys
from sangsach.gateway.forwarder import batch_body
from sangsach.gateway.intake import Intake
from sangsach.gateway.spool import Spool
from sangsach.gateway.throttle import DeviceThrottle
from sangsach.gateway.validate import Incoming, Limits, Validator

from .common import generate_registry, readings

CHUNK = 100  # messages a read of the MQTT connection hands over, about, in a drain
BATCH = 2_000  # the forwarder's batch_max


def measure(n: int, devices: int, root: Path, profile: Path | None = None) -> dict[str, float]:
    """CPU seconds of each stage for ``n`` readings, with what was accepted and forwarded."""
    fleet = generate_registry(root / "registry.yaml", devices)
    now = time.time()
    messages = [
        Incoming(topic, payload, now + i / 10_000)
        for i, (topic, payload) in enumerate(readings(fleet, n, int(now)))
    ]
    spool = Spool(root / "spool.db")
    intake = Intake(
        Validator(Limits()), RecentKeys(100_000), spool, lambda mids, generation: None,
        throttle=DeviceThrottle(60),
    )  # fmt: skip
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    check_s = append_s = 0.0
    for first in range(0, len(messages), CHUNK):
        start = time.process_time()
        items = intake.process(messages[first : first + CHUNK])
        checked = time.process_time()
        spool.append(items)
        check_s += checked - start
        append_s += time.process_time() - checked
    sent = forwarded = 0
    start = time.process_time()
    while entries := spool.peek(BATCH):
        sent += len(batch_body("bench", entries))
        forwarded += len(entries)
        spool.remove_through(entries[-1].id)
    forward_s = time.process_time() - start
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    left = len(spool)
    spool.close()
    return {
        "accepted": intake.stats.accepted, "forwarded": forwarded, "left": left,
        "bytes": sent, "check_s": check_s, "append_s": append_s, "forward_s": forward_s,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--profile", type=Path, help="write a cProfile of all stages here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sangsach-bench-gateway-") as tmp:
        got = measure(args.readings, args.devices, Path(tmp), args.profile)
    accepted = int(got["accepted"])
    if accepted != args.readings or got["forwarded"] != accepted:
        raise SystemExit(f"only {accepted} of {args.readings} readings accepted and forwarded")
    per = 1e6 / accepted
    check, append, forward = (got[k] * per for k in ("check_s", "append_s", "forward_s"))
    print(
        f"{accepted} readings: CPU ms per 1000 readings: check {check:.1f}, "
        f"spool append {append:.1f}, read+body+delete {forward:.1f}, "
        f"total {check + append + forward:.1f} ({got['bytes'] / accepted:.0f} bytes "
        "forwarded a reading)"
    )


if __name__ == "__main__":
    main()
