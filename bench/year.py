"""A year of the sample commune, timed where the commune office feels it (issue 15, "Speed").

    python -m bench.year --store both            # 365 days: about 36 million readings a store
    python -m bench.year --quick                 # 31 days
    python -m bench.year --store sqlite --days 2 --runs 1    # a smoke run, under a minute

1. **Load** (untimed; its time is reported). The sample commune's 300 lamps report every 5 min
   and its 80 bins every 10 min, from ``--first`` (2025-01-01, a closed year) for ``--days``
   days, and, unless ``--no-current``, the current month up to now as well. Lamps are lit from
   sunset to sunrise (``sangsach.lighting``: the village's part-night programme where it has
   one), each switching up to 2 min early or late, with a reading at each switch. Faults, a few
   per day across the commune: a lamp dark for 1-6 hours of a night, a lamp silent for 1-5 days,
   a lamp on with ``current_a`` 0.0 for half a day to 3 days, a bin silent for about a day. Bins
   fill over 2-4 days and are emptied by a drop of 40-90 points; about one in ten waits 12-48 h
   at its peak (some above the overflow threshold); ``fill_pct`` has 0.1 resolution. All of it
   is seeded: a day's readings are the same whichever days are loaded. InfluxDB gets the exact
   lines of the backend (``reading_line``) on influxd's ``/write``, 50,000 lines a request;
   SQLite gets ``SqliteStore.write``, one transaction a day. One day is in memory at a time.
   The data stay in ``--data`` (influxd's own directories too), with a marker per store of the
   days it holds, so a second run loads only what is missing.
2. **Time**, store by store, with the real backend as a child process (``sangsach backend``):
   ``sangsach rollup`` of every loaded day of the year, then of its last day alone; the pages
   and the API (3 runs each, the median; a request that fails or takes longer than ``--slow``
   is not repeated); ``sangsach report --period <year>``; the backend's peak RSS (VmHWM) over
   all of it, and the commands' own peaks. Periods are ``ky`` as ``reports.period`` parses it
   today: ``2025``, ``2025-H1``, and a month as the days ``2025-01-01..2025-01-31`` (there is
   no month form). A failed or timed-out request is reported with its status, never dropped.
3. **Report**: a Markdown table on stdout, JSON in ``--data/results.json`` (a run of one store
   keeps the other store's figures there).
"""

from __future__ import annotations

import argparse
import bisect
import calendar
import contextlib
import functools
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from random import Random
from typing import Any

import httpx

from sangsach.backend.domain.readings import StoredReading, Value
from sangsach.backend.timeseries.influx import InfluxStore, reading_line
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.config import DEV_ADMIN_TOKEN
from sangsach.lighting import LightingSchedule
from sangsach.localbroker import free_port
from sangsach.registry_file import SAMPLE_REGISTRY, Commune, load_registry
from sangsach.sun import VIETNAM
from tests.harness import Process, wait_until
from tests.services import InfluxD

from .common import load_average, peak_rss_mb

FIRST = date(2025, 1, 1)
LAMP_EVERY_S = 300
BIN_EVERY_S = 600
GENERATOR = 1  # the data's version: a marker of another version makes the store start afresh
INFLUX_DB = "sangsach"
WRITE_LINES = 50_000
BASE_TS = 1_704_067_200  # 2024-01-01 UTC: a reading's seq is its seconds since then
DAY_S = 86_400
HOUR_S = 3600
MAINS_V = 230.0
SWITCH_JITTER_S = 120
SENSOR_MIN_CM = 2.0
# Bins' fill cycles are laid out once over these days, whatever is loaded (same data every run).
CYCLES_FROM = date(2024, 12, 1)
CYCLES_TO = date(2028, 1, 1)
STORES = ("influxdb", "sqlite")
ADMIN = {"Authorization": f"Bearer {DEV_ADMIN_TOKEN}"}

Span = tuple[int, int]


def local_midnight(day: date) -> int:
    return int(datetime.combine(day, clock(), VIETNAM).timestamp())


# --- the data ---------------------------------------------------------------------------------


@dataclass(slots=True)
class LampPlan:
    id: str
    village: str
    lane: str
    watts: int
    schedule: LightingSchedule
    phase: int  # its reports fall at this offset within each 5-min step
    rssi: int


@dataclass(slots=True)
class BinPlan:
    id: str
    village: str
    point: str
    depth_cm: float
    phase: int
    rssi: int
    tilt: float
    # Fill cycles: start (just emptied, at ``low``), the fill reaches ``peak`` (may exceed 100:
    # the bin overflows before the end) at start + fill_s, and stays there until the next start.
    starts: list[int] = field(default_factory=list)
    cycles: list[tuple[float, float, int]] = field(default_factory=list)  # (low, peak, fill_s)


class Commune1Year:
    """The readings of the sample commune, one local day at a time (deterministic, seeded)."""

    def __init__(self, commune: Commune, seed: int) -> None:
        self.seed = seed
        self.lamps: list[LampPlan] = []
        self.bins: list[BinPlan] = []
        for village in commune.villages:
            windows = village.lighting or ()
            for lane in village.lanes:
                for lamp in lane.lamps:
                    rng = Random(f"{seed}:{lamp.id}:plan")
                    schedule = LightingSchedule(
                        lamp.lat, lamp.lon, windows,
                        on_shift_s=rng.randint(-SWITCH_JITTER_S, SWITCH_JITTER_S),
                        off_shift_s=rng.randint(-SWITCH_JITTER_S, SWITCH_JITTER_S),
                    )  # fmt: skip
                    self.lamps.append(LampPlan(
                        lamp.id, village.id, lane.id, lamp.watts, schedule,
                        rng.randrange(LAMP_EVERY_S), rng.randint(-85, -55),
                    ))  # fmt: skip
            for point in village.points:
                for bin_ in point.bins:
                    rng = Random(f"{seed}:{bin_.id}:plan")
                    plan = BinPlan(
                        bin_.id, village.id, point.id, bin_.depth_cm, rng.randrange(BIN_EVERY_S),
                        rng.randint(-95, -60), rng.uniform(0.5, 3.0),
                    )  # fmt: skip
                    _lay_out_cycles(plan, rng)
                    self.bins.append(plan)

    def day(self, day: date, until: int | None = None) -> list[StoredReading]:
        """Every reading of the local day ``day`` (up to ``until``, exclusive, if given)."""
        start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
        if until is not None:
            end = min(end, until)
        out: list[StoredReading] = []
        for lamp in self.lamps:
            out.extend(self._lamp_day(lamp, day, start, end))
        for bin_ in self.bins:
            out.extend(self._bin_day(bin_, day, start, end))
        return out

    def _faults(
        self, device: str, what: str, day: date, chance: float, span_s: Span, days_back: int
    ) -> list[Span]:
        """Spans of one kind of fault that began on ``day`` or up to ``days_back`` days before:
        each day of each device draws its own, so a day's faults do not depend on what else is
        loaded."""
        spans = []
        for back in range(days_back + 1):
            d = day - timedelta(days=back)
            rng = Random(f"{self.seed}:{device}:{what}:{d.isoformat()}")
            if rng.random() < chance:
                if what == "dark":  # a lamp's fault of the night: it starts in the evening
                    begin = local_midnight(d) + 17 * HOUR_S + rng.randrange(10 * HOUR_S)
                else:
                    begin = local_midnight(d) + rng.randrange(DAY_S)
                spans.append((begin, begin + rng.randint(*span_s)))
        return spans

    def _lamp_day(self, lamp: LampPlan, day: date, start: int, end: int) -> list[StoredReading]:
        rng = Random(f"{self.seed}:{lamp.id}:{day.isoformat()}")
        silent = self._faults(lamp.id, "silent", day, 1 / 800, (DAY_S, 5 * DAY_S), 5)
        dark = self._faults(lamp.id, "dark", day, 1 / 100, (HOUR_S, 6 * HOUR_S), 1)
        burnt = self._faults(lamp.id, "burnt", day, 1 / 400, (DAY_S // 2, 3 * DAY_S), 3)
        schedule = lamp.schedule
        times = set(range(start + lamp.phase, end, LAMP_EVERY_S))
        t = start - 1
        while (change := schedule.next_change(t)) is not None and change < end:
            times.add(change)  # the node reports at once when its relay switches
            t = change
        times.update(edge for span in dark for edge in span if start <= edge < end)
        sunrise, sunset = schedule.daylight(start + DAY_S // 2)
        current_a = lamp.watts / MAINS_V
        gauss, uniform, randint = rng.gauss, rng.uniform, rng.randint
        out = []
        for t in sorted(times):
            if silent and _inside(t, silent):
                continue
            on = schedule.is_lit(t) and not (dark and _inside(t, dark))
            drawing = on and not (burnt and _inside(t, burnt))
            if sunrise <= t < sunset:
                height = math.sin(math.pi * (t - sunrise) / (sunset - sunrise))
                lux = round(200.0 + 30_000.0 * height * uniform(0.4, 1.0), 0)
            else:
                lux = round(uniform(0.0, 3.0), 1)
            values: dict[str, Value] = {
                "on": on,
                "current_a": round(current_a * gauss(1.0, 0.02), 3) if drawing else 0.0,
                "voltage_v": round(min(MAINS_V + 5, max(MAINS_V - 5, gauss(MAINS_V, 1.7))), 1),
                "lux": lux,
                "fault": False,
                "rssi": lamp.rssi + randint(-3, 3),
            }
            out.append(StoredReading(lamp.id, "lamp", lamp.village, lamp.lane, 1, t - BASE_TS, t,
                                     True, values))  # fmt: skip
        return out

    def _bin_day(self, bin_: BinPlan, day: date, start: int, end: int) -> list[StoredReading]:
        rng = Random(f"{self.seed}:{bin_.id}:{day.isoformat()}")
        silent = self._faults(bin_.id, "silent", day, 1 / 200, (20 * HOUR_S, 30 * HOUR_S), 2)
        gauss = rng.gauss
        span_cm = bin_.depth_cm - SENSOR_MIN_CM
        out = []
        for t in range(start + bin_.phase, end, BIN_EVERY_S):
            if silent and _inside(t, silent):
                continue
            at = bisect.bisect_right(bin_.starts, t) - 1
            low, peak, fill_s = bin_.cycles[at]
            level = low + (peak - low) * min(1.0, (t - bin_.starts[at]) / fill_s)
            fill = round(min(100.0, max(0.0, level + gauss(0.0, 0.5))), 1)
            hour = (t + 7 * HOUR_S) % DAY_S / HOUR_S
            days = (t - BASE_TS) / DAY_S
            values: dict[str, Value] = {
                "fill_pct": fill,
                "distance_cm": round(bin_.depth_cm - span_cm * fill / 100, 1),
                "battery_v": round(4.1 - 0.6 * (days % 120) / 120, 2),
                "temp_c": round(27.0 + 6.0 * math.sin(2 * math.pi * (hour - 9) / 24)
                                + gauss(0.0, 0.4), 1),
                "tilt_deg": round(bin_.tilt + abs(gauss(0.0, 0.2)), 1),
                "rssi": bin_.rssi + rng.randint(-3, 3),
            }  # fmt: skip
            out.append(StoredReading(bin_.id, "bin", bin_.village, bin_.point, 1, t - BASE_TS, t,
                                     True, values))  # fmt: skip
        return out


def _lay_out_cycles(plan: BinPlan, rng: Random) -> None:
    """Fill over 2-4 days to a peak of 70-115 (above 100: overflowing, capped at 100 when read);
    one cycle in ten waits 12-48 h more at its peak; emptied by a drop of 40-90 points."""
    t = local_midnight(CYCLES_FROM) + rng.randrange(2 * DAY_S)
    horizon = local_midnight(CYCLES_TO)
    low = rng.uniform(0.0, 20.0)
    while t < horizon:
        fill_s = rng.randint(2 * DAY_S, 4 * DAY_S)
        peak = rng.uniform(70.0, 115.0)
        wait_s = rng.randint(12 * HOUR_S, 48 * HOUR_S) if rng.random() < 0.1 else 0
        plan.starts.append(t)
        plan.cycles.append((low, peak, fill_s))
        t += fill_s + wait_s
        top = min(peak, 100.0)
        low = max(0.0, top - rng.uniform(40.0, min(90.0, top)))


def _inside(t: int, spans: Sequence[Span]) -> bool:
    return any(a <= t < b for a, b in spans)


# --- loading ----------------------------------------------------------------------------------


class Marker:
    """``<store>.loaded.json`` in the data directory: which days the store holds."""

    def __init__(self, path: Path, seed: int) -> None:
        self.path = path
        self.seed = seed
        self.days: dict[str, dict[str, int | None]] = {}
        self.load_s = 0.0  # spent loading this store, over every run (stores loaded together
        self.fresh = True  # count the whole time each)
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if found.get("generator") == GENERATOR and found.get("seed") == seed:
            self.days = found["days"]
            self.load_s = float(found.get("load_s", 0.0))
            self.fresh = False

    def holds(self, day: date, until: int | None) -> bool:
        held = self.days.get(day.isoformat())
        if held is None:
            return False
        if held["until"] is None:
            return True
        return until is not None and held["until"] >= until

    def add(self, day: date, until: int | None, readings: int) -> None:
        self.days[day.isoformat()] = {"until": until, "readings": readings}
        self.save()

    def save(self) -> None:
        body = {"generator": GENERATOR, "seed": self.seed, "load_s": round(self.load_s, 1),
                "days": self.days}  # fmt: skip
        self.path.write_text(json.dumps(body, indent=0, sort_keys=True), encoding="utf-8")

    def readings(self, days: Sequence[date]) -> int:
        return sum(int(self.days[d.isoformat()]["readings"] or 0) for d in days)


class Sink:
    name = ""

    def write_day(self, readings: list[StoredReading]) -> None:
        raise NotImplementedError

    def wait(self) -> None:
        """Until everything given so far is stored."""

    def close(self) -> None:
        pass


class SqliteSink(Sink):
    name = "sqlite"

    def __init__(self, path: Path, fresh: bool) -> None:
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        self.store = SqliteStore(path)
        self.store.ensure_ready()

    def write_day(self, readings: list[StoredReading]) -> None:
        self.store.write(readings)

    def close(self) -> None:
        self.store.close()


class InfluxSink(Sink):
    """The backend's own lines to ``/write``; one request in flight while the next day is made."""

    name = "influxdb"

    def __init__(self, url: str, fresh: bool) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=600)
        if fresh:
            self.http.post("/query", data={"q": f'DROP DATABASE "{INFLUX_DB}"'}).raise_for_status()
        store = InfluxStore(url, INFLUX_DB)  # creates the database and its "rollups" policy
        store.ensure_ready()
        store.close()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="influx-write")
        self.pending: list[Future[None]] = []

    def write_day(self, readings: list[StoredReading]) -> None:
        lines = [reading_line(reading) for reading in readings]
        for first in range(0, len(lines), WRITE_LINES):
            body = "\n".join(lines[first : first + WRITE_LINES]).encode()
            self.pending.append(self.pool.submit(self._post, body))

    def _post(self, body: bytes) -> None:
        params = {"db": INFLUX_DB, "precision": "ns"}
        for attempt in range(30):
            response = self.http.post("/write", params=params, content=body)
            if response.status_code == 204:
                return
            # A full cache ("cache-max-memory-size exceeded") passes once influxd has compacted.
            if response.status_code < 500 or attempt == 29:
                response.raise_for_status()
            time.sleep(min(10.0, 0.5 * 2**attempt))

    def wait(self) -> None:
        for future in self.pending:
            future.result()
        self.pending = []

    def close(self) -> None:
        self.wait()
        self.pool.shutdown()
        self.http.close()


def load(
    data: Commune1Year,
    sinks: dict[str, Sink],
    markers: dict[str, Marker],
    wanted: Sequence[tuple[date, int | None]],
) -> dict[str, Any]:
    """Write each wanted day to the stores that do not hold it yet; the load's own figures."""
    began = time.monotonic()
    generated = written = 0
    made_s = 0.0
    days_written = dict.fromkeys(sinks, 0)
    behind: tuple[date, int | None, int, list[str]] | None = None  # written, not yet confirmed
    for day, until in wanted:
        needing = [name for name in sinks if not markers[name].holds(day, until)]
        if not needing:
            continue
        t = time.monotonic()
        readings = data.day(day, until)
        made_s += time.monotonic() - t
        generated += len(readings)
        for name in needing:
            sinks[name].write_day(readings)
            days_written[name] += 1
        written += len(readings) * len(needing)
        if behind is not None:
            _confirm(sinks, markers, *behind)
        behind = (day, until, len(readings), needing)
        del readings
        if sum(days_written.values()) % 30 == 0:
            print(f"  loaded up to {day} ({written:,} readings written)", flush=True)
    if behind is not None:
        _confirm(sinks, markers, *behind)
    return {
        "seconds": round(time.monotonic() - began, 1),
        "generating_s": round(made_s, 1),
        "readings_generated": generated,
        "days_written": days_written,
    }


def _confirm(
    sinks: dict[str, Sink], markers: dict[str, Marker], day: date, until: int | None,
    readings: int, names: list[str],
) -> None:  # fmt: skip
    for name in names:
        sinks[name].wait()
        markers[name].add(day, until, readings)


# --- timing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    name: str
    path: str
    params: dict[str, str]


def requests_to_time(
    first: date, village: str, current: tuple[date, date] | None, now: int
) -> list[Request]:
    """The pages and API calls of issue 15's "Speed", for the year of ``first``."""
    year = first.year
    month_last = date(year, first.month, calendar.monthrange(year, first.month)[1])
    month = f"{first.replace(day=1)}..{month_last}"
    halves = {"month": (first.replace(day=1), month_last + timedelta(days=1)),
              "half-year": (date(year, 1, 1), date(year, 7, 1)),
              "year": (date(year, 1, 1), date(year + 1, 1, 1))}  # fmt: skip
    ky = {"month": month, "half-year": f"{year}-H1", "year": str(year)}
    out = [Request("overview /, its default period", "/", {})]
    out += [Request(f"overview /?ky= {what} ({ky[what]})", "/", {"ky": ky[what]}) for what in ky]
    out += [
        Request(f"village page /thon/{village}", f"/thon/{village}", {}),
        Request(f"village page /thon/{village}?ky={year}", f"/thon/{village}", {"ky": str(year)}),
        Request(f"reports page /bao-cao?ky={year}-H1", "/bao-cao", {"ky": f"{year}-H1"}),
        Request(f"reports page /bao-cao?ky={year}", "/bao-cao", {"ky": str(year)}),
    ]
    for what, (a, b) in halves.items():
        params = {"start": str(local_midnight(a)), "end": str(local_midnight(b))}
        out.append(Request(f"API /api/v1/scores, {what} ({ky[what]})", "/api/v1/scores", params))
    if current is not None:
        a, today = current
        out.append(
            Request(f"overview /?ky= month to date ({a}..{today})", "/", {"ky": f"{a}..{today}"})
        )
        params = {"start": str(local_midnight(a)), "end": str(now)}
        out.append(Request("API /api/v1/scores, month to date", "/api/v1/scores", params))
    return out


@dataclass(slots=True)
class Run:
    status: int | str  # the HTTP status, or "timeout" / the transport error's name
    seconds: float
    bytes: int = 0
    detail: str = ""


def time_request(http: httpx.Client, request: Request, runs: int, slow_s: float) -> dict[str, Any]:
    done: list[Run] = []
    for _ in range(runs):
        t = time.monotonic()
        try:
            response = http.get(request.path, params=request.params)
            run = Run(response.status_code, time.monotonic() - t, len(response.content))
            if response.status_code != 200:
                run.detail = response.text[:300]
        except httpx.TimeoutException:
            run = Run("timeout", time.monotonic() - t)
        except httpx.HTTPError as err:
            run = Run(type(err).__name__, time.monotonic() - t, detail=str(err)[:300])
        done.append(run)
        if run.status != 200 or run.seconds > slow_s:
            break  # a failure, or too slow to repeat within the bench's time
    ok = [r.seconds for r in done if r.status == 200]
    return {
        "name": request.name,
        "path": request.path,
        "params": request.params,
        "runs": [
            {"status": r.status, "seconds": round(r.seconds, 3), "bytes": r.bytes}
            | ({"detail": r.detail} if r.detail else {})
            for r in done
        ],
        "ok": all(r.status == 200 for r in done),
        "median_s": round(statistics.median(ok), 3) if ok else None,
    }


def run_command(args: list[str], env: dict[str, str], log: Path, timeout: float) -> dict[str, Any]:
    """One ``sangsach`` command: wall time, exit code and its own peak RSS.

    The peak is the child's VmHWM read every 20 ms while it runs (monotonic, so the last read is
    its peak but for the last 20 ms): wait4's ``ru_maxrss`` would count the pages of this
    process that the child held between fork and exec (the bench's own 130 MB)."""
    t = time.monotonic()
    peak = 0.0
    with log.open("ab") as out:
        out.write(f"\n$ sangsach {' '.join(args)}\n".encode())
        out.flush()
        child = subprocess.Popen(
            [sys.executable, "-m", "sangsach", *args], env=env, stdout=out, stderr=out
        )
        status: int | str = "timeout"
        while status == "timeout" and time.monotonic() < t + timeout:
            with contextlib.suppress(OSError):  # gone between two reads
                peak = max(peak, _rss(child.pid, "VmHWM:"))
            with contextlib.suppress(subprocess.TimeoutExpired):
                status = child.wait(0.02)
        if status == "timeout":
            child.kill()
            child.wait()
    seconds = time.monotonic() - t
    return {
        "command": f"sangsach {' '.join(args)}",
        "exit": status,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak, 1) if peak else None,
        **({"output": _tail(log)} if status != 0 else {}),
    }


def _tail(log: Path, chars: int = 600) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-chars:]


def _rss(pid: int, key: str = "VmRSS:") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(
    store: str,
    root: Path,
    influx_url: str | None,
    first: date,
    last: date,
    village: str,
    current: tuple[date, date] | None,
    opts: argparse.Namespace,
) -> dict[str, Any]:
    """Start the backend on ``store``; time the rollup, the pages, the API and the report."""
    home = root / f"backend-{store}" if store == "influxdb" else root / "sqlite"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "SANGSACH_DATA_DIR": str(home),
        "SANGSACH_REGISTRY_FILE": str(SAMPLE_REGISTRY),
        "SANGSACH_TIMESERIES": store,
        "SANGSACH_HTTP_PORT": str(port),
        "SANGSACH_ADMIN_TOKEN": DEV_ADMIN_TOKEN,
        # Days missing rollups would be computed at start, inside the timing: none here.
        "SANGSACH_ROLLUP_CATCH_UP_DAYS": "0",
        **({"SANGSACH_INFLUX_URL": influx_url, "SANGSACH_INFLUX_DB": INFLUX_DB} if influx_url else {}),
    }  # fmt: skip
    log = home / "bench-year.log"
    backend = Process("backend", env, home / "backend.log")
    # A connection per request: after a 500 from an exception uvicorn closes the connection, and
    # the next request on a kept-alive one would fail with "connection reset" without being heard.
    http = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers=ADMIN, timeout=opts.timeout,
        limits=httpx.Limits(max_keepalive_connections=0),
    )  # fmt: skip
    out: dict[str, Any] = {"load_before": load_average()}
    t = time.monotonic()
    backend.start()
    try:
        wait_until(lambda: _healthy(backend, http), 300, "backend health", every=0.2)
        out["backend_start_s"] = round(time.monotonic() - t, 2)
        out["backend_rss_after_start_mb"] = round(_rss(backend.pid), 1)
        days = (last - first).days + 1
        print(f"[{store}] backend up in {out['backend_start_s']} s; rolling up {days} days",
              flush=True)  # fmt: skip
        # Where the rollup keeps days already stored unless asked, every day is computed again:
        # the figure is the computation of a year, not a skip over stored days.
        again = ["--recompute"] if _has_recompute(env) else []
        year = run_command(["rollup", "--from", str(first), "--to", str(last), *again], env,
                           log, opts.command_timeout)  # fmt: skip
        year["days"] = days
        year["seconds_per_day"] = round(year["seconds"] / days, 3)
        out["rollup"] = year
        print(f"[{store}] rollup: {year['seconds']} s, exit {year['exit']}", flush=True)
        out["rollup_one_day"] = run_command(["rollup", "--from", str(last), "--to", str(last),
                                             *again], env, log, opts.command_timeout)  # fmt: skip
        out["requests"] = []
        for request in requests_to_time(first, village, current, int(time.time())):
            row = time_request(http, request, opts.runs, opts.slow)
            row["backend_peak_rss_mb"] = round(_rss(backend.pid, "VmHWM:"), 1)
            out["requests"].append(row)
            print(f"[{store}] {request.name}: {_cell(row)}", flush=True)
        out["report"] = run_command(["report", "--period", str(first.year), "--out",
                                     str(home / "report")], env, log, opts.command_timeout)  # fmt: skip
        print(f"[{store}] report: {_command_cell(out['report'])}", flush=True)
        out["backend_peak_rss_mb"] = round(peak_rss_mb(backend.pid), 1)
        out["backend_alive"] = backend.running
    finally:
        http.close()
        if backend.running:
            backend.stop()
        else:
            out["backend_log"] = backend.log()[-2000:]
    out["load_after"] = load_average()
    return out


def _has_recompute(env: dict[str, str]) -> bool:
    shown = subprocess.run(
        [sys.executable, "-m", "sangsach", "rollup", "--help"], env=env, capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    return "--recompute" in shown.stdout


def _healthy(backend: Process, http: httpx.Client) -> bool:
    if not backend.running:
        raise RuntimeError(f"backend exited:\n{backend.log()[-3000:]}")
    try:
        return http.get("/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# --- the report -------------------------------------------------------------------------------


def _cell(row: dict[str, Any]) -> str:
    runs = row["runs"]
    if row["ok"]:
        text = f"{row['median_s']:.2f} s"
        return text if len(runs) > 1 else f"{text} (1 run)"
    bad = next(r for r in runs if r["status"] != 200)
    if bad["status"] == "timeout":
        return f"**timeout** after {bad['seconds']:.0f} s"
    return f"**{bad['status']}** after {bad['seconds']:.1f} s"


def _request_cell(name: str, store: dict[str, Any]) -> str:
    found = [r for r in store.get("requests", []) if r["name"] == name]
    return _cell(found[0]) if found else ""


def _command_cell(row: dict[str, Any] | None) -> str:
    if not row:
        return ""
    if row["exit"] == "timeout":
        return f"**timeout** after {row['seconds']:.0f} s"
    text = f"{row['seconds']:.1f} s" if row["exit"] == 0 else (
        f"**exit {row['exit']}** after {row['seconds']:.1f} s")  # fmt: skip
    return f"{text}, {row['peak_rss_mb']:.0f} MB" if row.get("peak_rss_mb") else text


def markdown(results: dict[str, Any]) -> str:
    stores = [s for s in STORES if s in results.get("stores", {})]
    head = f"| | {' | '.join(stores)} |\n| --- |{' --- |' * len(stores)}\n"
    lines: list[str] = []

    def row(label: str, cell: Callable[[dict[str, Any]], str]) -> None:
        lines.append(f"| {label} | {' | '.join(cell(results['stores'][s]) for s in stores)} |")

    def figure(key: str, unit: str = "") -> Callable[[dict[str, Any]], str]:
        return lambda s: "" if s.get(key) is None else f"{s[key]:,}{unit}"

    row("readings in the store", lambda s: f"{s['data']['readings']:,} ({s['data']['days']} days)")
    row("load (untimed; every run that loaded), s", lambda s: f"{s['data']['load_s']:,.0f}")
    row("backend start, s", figure("backend_start_s"))
    row("rollup of every day", lambda s: _command_cell(s.get("rollup")) + (
        f", {s['rollup']['seconds_per_day']:.2f} s/day" if s.get("rollup") else ""))  # fmt: skip
    row("rollup of one day", lambda s: _command_cell(s.get("rollup_one_day")))
    names = {r["name"]: None for s in stores for r in results["stores"][s].get("requests", [])}
    for name in names:
        row(f"GET {name}", functools.partial(_request_cell, name))
    row("`sangsach report --period <year>`", lambda s: _command_cell(s.get("report")))
    row("backend RSS after start, MB", figure("backend_rss_after_start_mb"))
    row("backend peak RSS (VmHWM), MB", figure("backend_peak_rss_mb"))
    return head + "\n".join(lines) + "\n"


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())  # fmt: skip
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "system": platform.platform()}  # fmt: skip


# --- the command ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.year",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--store", choices=[*STORES, "both"], default="both")
    parser.add_argument("--days", type=int, help="days of readings from --first (default 365)")
    parser.add_argument("--quick", action="store_true", help="31 days")
    parser.add_argument("--first", type=date.fromisoformat, default=FIRST,
                        help="first local day (default 2025-01-01: a closed year)")  # fmt: skip
    parser.add_argument("--data", type=Path, default=Path("var/bench-year"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-current", dest="current", action="store_false",
                        help="leave out the current month to date (loaded and timed by default)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=3, help="runs of each request (the median)")
    parser.add_argument("--slow", type=float, default=60.0,
                        help="a request slower than this many seconds is not repeated")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600.0, help="client timeout, s")
    parser.add_argument("--command-timeout", type=float, default=3600.0,
                        help="timeout of rollup and report, s")  # fmt: skip
    parser.add_argument("--load-only", action="store_true", help="load, time nothing")
    opts = parser.parse_args(argv)
    days = opts.days or (31 if opts.quick else 365)
    first: date = opts.first
    last = first + timedelta(days=days - 1)
    today = datetime.now(VIETNAM).date()
    if last >= today.replace(day=1):
        parser.error(f"the days must end before the current month ({first}..{last})")
    stores = list(STORES) if opts.store == "both" else [opts.store]
    root: Path = opts.data
    root.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    current = (today.replace(day=1), today) if opts.current else None
    wanted: list[tuple[date, int | None]] = [(first + timedelta(days=i), None) for i in range(days)]
    if current:
        wanted += [(current[0] + timedelta(days=i), None) for i in range(today.day - 1)]
        wanted.append((today, now))
    commune = load_registry(SAMPLE_REGISTRY)
    results_path = root / "results.json"
    try:
        results: dict[str, Any] = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        results = {}
    results.update({"machine": machine(), "load_before": load_average(), "started": time.time()})
    results.setdefault("stores", {})
    influxd: InfluxD | None = None
    try:
        if "influxdb" in stores:
            influxd = InfluxD(root / "influxd").start()
        markers = {name: Marker(root / f"{name}.loaded.json", opts.seed) for name in stores}
        sinks: dict[str, Sink] = {}
        for name in stores:
            fresh = markers[name].fresh
            if name == "sqlite":
                sinks[name] = SqliteSink(root / "sqlite" / "timeseries.sqlite", fresh)
            else:
                assert influxd is not None
                sinks[name] = InfluxSink(influxd.url, fresh)
        print(f"loading {days} days from {first}" + (f" and {current[0]}..{today}" if current else "")
              + f" into {', '.join(stores)} (what {root} does not hold yet)", flush=True)  # fmt: skip
        try:
            loaded = load(Commune1Year(commune, opts.seed), sinks, markers, wanted)
        finally:
            for sink in sinks.values():
                sink.close()
        print(f"loaded in {loaded['seconds']} s: {loaded}", flush=True)
        for name in stores:
            if loaded["days_written"][name]:
                markers[name].load_s += loaded["seconds"]
                markers[name].save()
        year_days = [d for d, _ in wanted[:days]]
        for name in stores:
            held = markers[name]
            entry = {"data": {
                "days": days, "first": str(first), "last": str(last),
                "readings": held.readings(year_days),
                "readings_current_month": held.readings([d for d, _ in wanted[days:]]),
                "load_s": round(held.load_s, 1), "load": loaded, "seed": opts.seed,
            }}  # fmt: skip
            if opts.load_only:  # the figures measured before stay
                results["stores"].setdefault(name, {}).update(entry)
            else:
                results["stores"][name] = entry
        if not opts.load_only:
            village = commune.villages[0].id
            for name in stores:
                url = influxd.url if influxd and name == "influxdb" else None
                results["stores"][name].update(
                    measure(name, root, url, first, last, village, current, opts)
                )
                results_path.write_text(json.dumps(results, indent=1), encoding="utf-8")
                if influxd and name == "influxdb":
                    influxd.stop()  # not beside the SQLite timing
                    influxd = None
    finally:
        if influxd is not None:
            influxd.stop()
    results["finished"] = time.time()
    results_path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    table = markdown({"stores": {k: v for k, v in results["stores"].items() if k in stores}})
    print(table)
    (root / "results.md").write_text(table, encoding="utf-8")
    return results


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop children on SIGTERM too
    main()
