"""Unauthenticated floods against a real backend: is `/healthz` still quick? (issue 18)

Starts the backend (SQLite) from the installed ``sangsach`` in a private data directory, measures
`/healthz` at rest, then again while ``--posts`` unauthenticated ingest bodies of ``--mb`` MB go
in, ``--parallel`` at a time. The health checks come from a separate ``curl`` process, so the
client's own threads do not slow what is measured.

    python -m bench.auth_flood                       # 18 posts of 7.7 MB, 6 at a time
    python -m bench.auth_flood --python OTHER/bin/python   # another installation, same load
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.common import curl_millis, curl_times
from sangsach.localbroker import free_port


def run(python: str, posts: int, parallel: int, megabytes: float) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "SANGSACH_DATA_DIR": data, "SANGSACH_HTTP_PORT": str(port)}
        log = Path(data) / "backend.log"
        backend = subprocess.Popen(
            [python, "-m", "sangsach", "backend"], env=env, stdout=log.open("w"),
            stderr=subprocess.STDOUT, cwd=data,  # the installation's code, not a folder's
        )  # fmt: skip
        try:
            for _ in range(200):
                try:
                    if httpx.get(url + "/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            else:
                raise SystemExit(f"the backend did not start:\n{log.read_text()[-2000:]}")
            rest = curl_millis(curl_times([f"{url}/healthz"], rounds=30))
            reading = b'{"id":"lamp-x","kind":"lamp","boot":1,"seq":1,"ts":1,"on":true}'
            count = int(megabytes * 1e6 / (len(reading) + 1))
            body = b'{"gateway":"gw-1","readings":[' + b",".join([reading] * count) + b"]}"
            statuses: list[int] = []

            def post(_: int) -> None:
                answer = httpx.post(url + "/api/v1/ingest", content=body, timeout=120,
                                    headers={"Content-Type": "application/json"})  # fmt: skip
                statuses.append(answer.status_code)

            poller = curl_times([f"{url}/healthz"], rounds=400)
            started = time.perf_counter()
            with ThreadPoolExecutor(parallel) as pool:
                list(pool.map(post, range(posts)))
            took = time.perf_counter() - started
            poller.terminate()
            during = curl_millis(poller)
        finally:
            backend.terminate()
            backend.wait(30)
    if set(statuses) != {401}:
        raise SystemExit(f"expected 401 for every post, got {sorted(set(statuses))}")
    return {
        "posts_s": took,
        "rest_median_ms": statistics.median(rest),
        "during_median_ms": statistics.median(during) if during else float("nan"),
        "during_max_ms": max(during) if during else float("nan"),
        "during_samples": len(during),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the installation to run")
    parser.add_argument("--posts", type=int, default=18)
    parser.add_argument("--parallel", type=int, default=6)
    parser.add_argument("--mb", type=float, default=7.7)
    args = parser.parse_args()
    figures = run(args.python, args.posts, args.parallel, args.mb)
    print(" ".join(f"{k}={v:.1f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
