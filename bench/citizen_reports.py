"""Citizens' reports against a real backend and the stand-in carrier (issue 21).

Starts the backend (SQLite) as a process, its SMS sent over HTTP to the stand-in carrier of the
tests (``tests/carrier.py``, a real server on a loopback port), then:

1. **acknowledgements**: ``--reports`` reports by SMS (``RAC P<n>``, ``DEN D<n>``, each from its
   own phone), posted to the signed webhook ``--rate`` a second from ``--senders`` threads; for
   each, the time from the post leaving to its acknowledgement SMS reaching the carrier. The
   figures are the median, p95, p99 and the slowest.
2. **a form flood**: ``--flood`` posts of the public form from one address, spread over
   ``--flood-seconds`` (600 in 60 s: hundreds a minute), each with a valid stamp fetched
   beforehand and aged past the form's minimum fill time, so that only the rate per address
   stands between the flood and the tickets. The office's pages (the tickets, the overview, a
   village) are timed from a separate ``curl`` process at rest and during the flood; the tickets
   the flood made are counted against the rate's allowance.

    python -m bench.citizen_reports                    # 300 reports at 10/s; 600 posts in 60 s
    python -m bench.citizen_reports --reports 20 --flood 40 --flood-seconds 4   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import curl_millis, curl_times
from sangsach.backend.citizens.form import BURST, MIN_FILL_S, PER_HOUR
from sangsach.backend.notify.webhook import signed_headers
from sangsach.config import DEV_ADMIN_TOKEN, DEV_WEBHOOK_SECRET
from sangsach.localbroker import free_port
from tests.carrier import Carrier

OFFICE_PAGES = ("/phieu-phan-anh", "/", "/thon/dong-ha")
STAMP = re.compile(r'name="t" value="([^"]+)"')


@dataclass
class Backend:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def backend(carrier: Carrier, python: str) -> Iterator[Backend]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ, "SANGSACH_DATA_DIR": data, "SANGSACH_HTTP_PORT": str(port),
            "SANGSACH_SMS_PROVIDER": "http", "SANGSACH_SMS_HTTP_URL": carrier.url,
            "SANGSACH_ALERT_QUIET_HOURS": "", "SANGSACH_WORKLIST_TIME": "",
        }  # fmt: skip
        log = Path(data) / "backend.log"
        process = subprocess.Popen(
            [python, "-m", "sangsach", "backend"], env=env, stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            for _ in range(300):
                try:
                    if httpx.get(url + "/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            else:
                raise SystemExit(f"the backend did not start:\n{log.read_text()[-2000:]}")
            yield Backend(url, process, log)
        finally:
            process.terminate()
            process.wait(30)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def acknowledgements(
    running: Backend, carrier: Carrier, reports: int, rate: float, senders: int
) -> dict[str, float]:
    """Each report's time from its post to its acknowledgement at the carrier, in ms."""
    sent_at: dict[int, float] = {}
    lock = threading.Lock()
    start = time.perf_counter()
    wall_offset = time.time() - start  # the carrier stamps arrivals in wall-clock seconds

    def report(n: int) -> None:
        due = start + n / rate
        time.sleep(max(0.0, due - time.perf_counter()))
        text = f"RAC P{1 + n % 40}" if n % 2 else f"DEN D{1 + n % 300}"
        body = json.dumps({"from": f"+8498{n:07d}", "text": text, "id": f"b{n}"}).encode()
        headers = {"Content-Type": "application/json",
                   **signed_headers(DEV_WEBHOOK_SECRET, body, time.time())}  # fmt: skip
        left = time.perf_counter()
        answer = httpx.post(running.url + "/api/v1/sms/inbound", content=body, headers=headers)
        number = re.fullmatch(r"ticket #([0-9]+)", answer.json().get("reason", ""))
        if number is None:
            raise SystemExit(f"report {n} ({text}) made no ticket: {answer.text}")
        with lock:
            sent_at[int(number[1])] = left + wall_offset

    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(report, range(reports)))
    deadline = time.time() + 60
    keys = {f"citizen:ack:{ticket}": at for ticket, at in sent_at.items()}
    while time.time() < deadline:
        with carrier.lock:
            if all(k in carrier.arrived_at for k in keys):
                break
        time.sleep(0.1)
    with carrier.lock:
        missing = [k for k in keys if k not in carrier.arrived_at]
        waits = [(carrier.arrived_at[k] - at) * 1000 for k, at in keys.items() if k not in missing]
    if missing:
        raise SystemExit(f"{len(missing)} acknowledgements never reached the carrier")
    return {
        "reports": float(reports),
        "ack_median_ms": statistics.median(waits),
        "ack_p95_ms": percentile(waits, 0.95),
        "ack_p99_ms": percentile(waits, 0.99),
        "ack_max_ms": max(waits),
    }


def _page_times(url: str, seconds: float) -> subprocess.Popen[str]:
    """The office's pages fetched in a loop for ``seconds``."""
    pages = [url + p for p in OFFICE_PAGES]
    return curl_times(pages, seconds=seconds, token=DEV_ADMIN_TOKEN, pause_s=0.05)


def tickets(running: Backend) -> list[dict[str, Any]]:
    answer = httpx.get(
        running.url + "/api/v1/tickets", params={"limit": 10_000},
        headers={"Authorization": f"Bearer {DEV_ADMIN_TOKEN}"},
    )  # fmt: skip
    found: list[dict[str, Any]] = answer.raise_for_status().json()
    return found


def flood(running: Backend, posts: int, seconds: float) -> dict[str, float]:
    rest = curl_millis(_page_times(running.url, 5), only_ok=True)
    with httpx.Client(base_url=running.url) as client:
        stamps = [STAMP.findall(client.get("/phan-anh").text)[0] for _ in range(posts)]
    time.sleep(MIN_FILL_S + 0.5)  # every stamp old enough: only the rate stands in the way
    before = sum(t["channel"] == "web" for t in tickets(running))
    poller = _page_times(running.url, seconds + 2)
    statuses: list[int] = []
    start = time.perf_counter()
    with httpx.Client(base_url=running.url) as client:
        for n, stamp in enumerate(stamps):
            time.sleep(max(0.0, start + n * seconds / posts - time.perf_counter()))
            form = {"loai": "rac", "thon": "dong-ha", "noi_dung": f"flood {n}", "t": stamp}
            statuses.append(client.post("/phan-anh", data=form).status_code)
    took = time.perf_counter() - start
    during = curl_millis(poller, only_ok=True)
    made = sum(t["channel"] == "web" for t in tickets(running)) - before
    allowed = BURST + PER_HOUR * took / 3600
    if made > allowed:
        raise SystemExit(f"the flood made {made} tickets, more than the rate's {allowed:.1f}")
    return {
        "flood_posts": float(posts),
        "flood_s": took,
        "flood_per_min": posts / took * 60,
        "flood_tickets": float(made),
        "flood_allowed": allowed,
        "flood_429": float(statuses.count(429)),
        "pages_rest_median_ms": statistics.median(rest),
        "pages_rest_p95_ms": percentile(rest, 0.95),
        "pages_during_median_ms": statistics.median(during),
        "pages_during_p95_ms": percentile(during, 0.95),
        "pages_during_max_ms": max(during),
        "pages_during_samples": float(len(during)),
    }


def run(
    python: str, reports: int, rate: float, senders: int, posts: int, seconds: float
) -> dict[str, float]:
    carrier = Carrier()
    carrier.start()
    try:
        with backend(carrier, python) as running:
            figures = acknowledgements(running, carrier, reports, rate, senders)
            figures |= flood(running, posts, seconds)
    finally:
        carrier.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the installation to run")
    parser.add_argument("--reports", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0, help="reports a second")
    parser.add_argument("--senders", type=int, default=4, help="threads posting reports")
    parser.add_argument("--flood", type=int, default=600, help="form posts from one address")
    parser.add_argument("--flood-seconds", type=float, default=60.0)
    args = parser.parse_args()
    figures = run(
        args.python, args.reports, args.rate, args.senders, args.flood, args.flood_seconds
    )
    print(" ".join(f"{k}={v:.1f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
