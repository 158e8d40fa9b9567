"""Several backends on one PostgreSQL (backend/replicas.py): one owner per singleton job, taken
over within seconds when it is SIGKILLed, and each device's alert state judged in order
whichever backend gets its batches. No alert opened twice, no SMS sent twice.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest
from sqlalchemy import select

from sangsach.backend.alerts import tables
from sangsach.backend.alerts.tables import alert_tracks
from sangsach.backend.api.ingest import parse_batch
from sangsach.backend.db import connect, device_state
from sangsach.backend.replicas import JOBS, NAMESPACE, Leases
from sangsach.backend.services import Services, bootstrap
from sangsach.config import DEV_ADMIN_TOKEN, BackendSettings
from sangsach.localbroker import free_port
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from tests.carrier import Carrier
from tests.harness import ADMIN, GATEWAY, Process, backend_healthy, wait_until
from tests.services import InfluxD, PostgreSQL

COMMUNE = load_registry(SAMPLE_REGISTRY)
TEAMS = {
    village: [m.phone for t in COMMUNE.teams if t.role == "collection" and village in t.villages
              for m in t.members]
    for village in (v.id for v in COMMUNE.villages)
}  # fmt: skip
# Who holds each job now: the application name of the lease connection ("... host:pid").
OWNERS = """
    SELECT l.objid::bigint, a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s AND l.objsubid = 2
"""


@pytest.fixture
def database(postgres: PostgreSQL) -> Iterator[tuple[PostgreSQL, str]]:
    from sangsach.backend.migrations import head

    name = postgres.take_database()
    yield postgres, name
    postgres.give_back(name, head())


class Replica:
    """One ``sangsach backend`` process of several on the same databases."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.env = {**env, "SANGSACH_DATA_DIR": str(root), "SANGSACH_HTTP_PORT": str(self.port)}
        self.process = Process("backend", self.env, root / "backend.log")
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}", timeout=30, headers=ADMIN
        )

    def start(self) -> Replica:
        self.process.start()
        wait_until(lambda: backend_healthy(self.process, self.http), 60, "backend health")
        return self

    def ingest(self, readings: list[dict[str, Any]]) -> None:
        body = {"gateway": "gw-1", "readings": readings}
        self.http.post("/api/v1/ingest", json=body, headers=GATEWAY).raise_for_status()


def owners(server: PostgreSQL, name: str) -> dict[str, int]:
    """Job -> the process id of the backend holding it."""
    numbers = {n: job for job, n in JOBS.items()}
    dsn = f"host=127.0.0.1 port={server.port} user={server.USER} dbname={name}"
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(OWNERS, [NAMESPACE]).fetchall()
    return {numbers[n]: int(app.rsplit(":", 1)[1]) for n, app in rows if n in numbers}


def bin_reading(device: str, seq: int, ts: float, fill: float) -> dict[str, Any]:
    return {"id": device, "kind": "bin", "boot": 1, "seq": seq, "ts": int(ts), "fill_pct": fill,
            "received_at": ts + 1.0}  # fmt: skip


def test_a_killed_tick_owner_is_replaced_and_no_alert_or_sms_is_doubled(
    tmp_path: Path, database: tuple[PostgreSQL, str], influxd: InfluxD, carrier: Carrier
) -> None:
    server, name = database
    env = {
        **os.environ,
        "SANGSACH_ADMIN_TOKEN": DEV_ADMIN_TOKEN,
        "SANGSACH_WORKLIST_TIME": "",  # no crew's list: the SMS counted are the alerts'
        "SANGSACH_DATABASE_URL": server.url(name),
        "SANGSACH_TIMESERIES": "influxdb",
        "SANGSACH_INFLUX_URL": influxd.url,
        "SANGSACH_INFLUX_DB": f"replicas_{uuid4().hex[:12]}",
        "SANGSACH_SMS_PROVIDER": "http",
        "SANGSACH_SMS_HTTP_URL": carrier.url,
        "SANGSACH_ALERT_QUIET_HOURS": "",
        "SANGSACH_ALERT_MAX_SMS_PER_HOUR": "1000",
        "SANGSACH_ALERT_TICK_S": "1",
        "SANGSACH_SMS_RETRY_MIN_S": "1",
        "SANGSACH_SMS_RETRY_MAX_S": "4",
    }
    first = Replica(tmp_path / "a", env).start()
    second = Replica(tmp_path / "b", env).start()
    replicas = [first, second]
    try:
        wait_until(lambda: set(owners(server, name)) == set(JOBS), 30, "every job owned")
        assert set(owners(server, name).values()) == {first.process.pid}, "the first one started"
        now = time.time()
        days_ago = now - 2 * 86_400  # silent for two days: the tick opens device_offline
        # Through the backend that does not tick: the tick must read these from SQL.
        second.ingest([bin_reading("bin-dong-ha-01", 1, days_ago, 10.0),
                       bin_reading("bin-quang-trung-01", 1, days_ago, 10.0)])  # fmt: skip
        first.ingest([bin_reading("bin-dong-ha-02", 1, now, 85.0)])  # full: opened at ingest
        second.ingest([bin_reading("bin-phu-khe-01", 1, now, 85.0)])
        wait_until(lambda: len(_alerts(second, active=True)) == 4, 60, "four alerts")
        wait_until(lambda: _all_sent(second), 60, "their SMS sent")

        # Two more devices fall silent, and the tick owner dies.
        second.ingest([bin_reading("bin-lac-duc-01", 1, days_ago, 10.0),
                       bin_reading("bin-nghia-xa-01", 1, days_ago, 10.0)])  # fmt: skip
        first.process.kill()
        killed_at = time.monotonic()
        wait_until(
            lambda: set(owners(server, name).values()) == {second.process.pid}, 60, "a takeover"
        )
        took_s = time.monotonic() - killed_at
        logging.getLogger(__name__).warning("jobs taken over %.1f s after the SIGKILL", took_s)
        assert set(owners(server, name)) == set(JOBS)
        # The silent devices are judged by the new owner (the last one only it can have seen);
        # the first two speak again.
        second.ingest([bin_reading("bin-dong-ha-01", 2, now, 10.0),
                       bin_reading("bin-quang-trung-01", 2, now, 10.0),
                       bin_reading("bin-an-lac-01", 1, now, 85.0),
                       bin_reading("bin-hoa-binh-01", 1, days_ago, 10.0)])  # fmt: skip
        wait_until(lambda: len(_alerts(second, active=True)) == 6, 60, "six alerts")

        # The killed one restarted: it waits, it does not take the jobs back.
        first.process.start()
        wait_until(lambda: backend_healthy(first.process, first.http), 60, "the restart")
        first.ingest([bin_reading("bin-van-thai-01", 1, time.time(), 85.0)])
        wait_until(lambda: len(_alerts(first, active=True)) == 7, 60, "seven alerts")
        wait_until(lambda: _all_sent(second), 60, "every SMS sent", every=0.5)
        assert set(owners(server, name).values()) == {second.process.pid}

        alerts = _alerts(first, active=None)
        opened = Counter((a["device_id"], a["type"]) for a in alerts)
        assert opened == {
            ("bin-dong-ha-01", "device_offline"): 1,
            ("bin-quang-trung-01", "device_offline"): 1,
            ("bin-lac-duc-01", "device_offline"): 1,
            ("bin-nghia-xa-01", "device_offline"): 1,
            ("bin-hoa-binh-01", "device_offline"): 1,
            ("bin-dong-ha-02", "bin_full"): 1,
            ("bin-phu-khe-01", "bin_full"): 1,
            ("bin-an-lac-01", "bin_full"): 1,
            ("bin-van-thai-01", "bin_full"): 1,
        }, "each alert opened once"
        cleared = {a["device_id"] for a in alerts if a["state"] == "cleared"}
        assert cleared == {"bin-dong-ha-01", "bin-quang-trung-01"}

        outbox = second.http.get("/api/v1/sms/outbox", params={"limit": 10_000}).json()
        assert sum(carrier.delivered.values()) == len(outbox), "every SMS reached a phone"
        assert all(carrier.delivered[m["id"]] == 1 for m in outbox)
        texts = [p for p in carrier.payloads.values()]
        for alert in alerts:
            village = next(v.id for v in COMMUNE.villages if alert["device_id"].startswith(
                f"bin-{v.id}-"))  # fmt: skip
            for phone in TEAMS[village]:
                told = [p for p in texts if p["to"] == phone and _mentions(p["text"], alert["id"])]
                assert len(told) == 1, f"alert {alert['id']} told to {phone} {len(told)} times"
    finally:
        for replica in replicas:
            replica.process.stop()
            replica.http.close()


def _alerts(replica: Replica, active: bool | None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": 1000}
    if active is not None:
        params["active"] = active
    return replica.http.get("/api/v1/alerts", params=params).raise_for_status().json()  # type: ignore[no-any-return]


def _all_sent(replica: Replica) -> bool:
    outbox = replica.http.get("/api/v1/sms/outbox", params={"limit": 10_000}).json()
    return bool(outbox) and all(m["status"] == "sent" for m in outbox)


def _mentions(text: str, code: int) -> bool:
    """An SMS about one alert says "OK <code>"; a digest lists the codes after "ma:"."""
    if f"OK {code} " in text:
        return True
    listed = re.search(r"ma: ([0-9 ]+)(\+[0-9]+)?\.", text)
    assert listed is None or listed.group(2) is None, f"a digest that names not all: {text}"
    return listed is not None and str(code) in listed.group(1).split()


# -- two backends, batches of the same devices at once --------------------------------------

BINS = [b.id for v in COMMUNE.villages for p in v.points for b in p.bins][:24]
ROUNDS = 8  # even: the last round empties the bins


def _replica(root: Path, url: str) -> Services:
    root.mkdir(parents=True)
    settings = BackendSettings(data_dir=root, database_url=url, timeseries="sqlite",
                               alert_quiet_hours="")  # fmt: skip
    return bootstrap(settings)


def test_two_backends_judge_batches_of_one_device_in_order(
    tmp_path: Path, database: tuple[PostgreSQL, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Each round gives both backends a batch of the same bins at the same moment, full in even
    rounds and emptied in odd ones: every bin_full alert opens once and clears once, and each
    track holds the newest reading, whichever batch committed first."""
    server, name = database
    replicas = [
        _replica(tmp_path / "a", server.url(name)),
        _replica(tmp_path / "b", server.url(name)),
    ]
    t0 = int(time.time()) - 3600
    failures: list[BaseException] = []
    try:
        for round_ in range(ROUNDS):
            fill = 85.0 if round_ % 2 == 0 else 5.0
            bodies = [
                json.dumps({"gateway": "gw-1", "readings": [
                    bin_reading(b, 2 * round_ + k + 1, t0 + (2 * round_ + k) * 60, fill)
                    for b in BINS]}).encode()
                for k in (0, 1)
            ]  # fmt: skip
            start = threading.Barrier(2)

            def handle(services: Services, body: bytes, start: threading.Barrier) -> None:
                try:
                    batch = parse_batch(body)
                    start.wait(10)
                    services.ingest.handle(batch)
                except BaseException as err:  # noqa: BLE001 - reported below
                    failures.append(err)

            threads = [
                threading.Thread(target=handle, args=(services, body, start))
                for services, body in zip(replicas, bodies, strict=True)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        assert failures == []
        assert [r.message for r in caplog.records if r.levelno >= logging.ERROR] == []

        engine = replicas[0].engine
        with engine.connect() as conn:
            tracks = {r.device_id: r.track for r in conn.execute(select(alert_tracks))}
            newest = dict(conn.execute(select(device_state.c.device_id, device_state.c.ts)).all())
            rows = conn.execute(select(tables.alerts.c.device_id, tables.alerts.c.state)).all()
        last = t0 + (2 * ROUNDS - 1) * 60
        for device in BINS:
            # A track is read back caught up with the device's newest stored reading (a batch
            # that only made it fresher does not save it: rules.catch_up), as the engine reads it.
            assert newest[device] == last, "the newest reading is the device's"
            caught_up = max(tracks[device]["last_ts"], newest[device])
            assert caught_up == last, "the newest reading is the track's"
            assert tracks[device]["fill"] == 5.0  # the last round emptied them
        assert Counter(r.device_id for r in rows) == dict.fromkeys(BINS, ROUNDS // 2), (
            "one alert per full round"
        )
        assert {r.state for r in rows} == {"cleared"}
        events = Counter((e.alert_id, e.what) for s in replicas for e in s.store.alert_events())
        assert set(events.values()) == {1}, "each alert opened once and cleared once"
        assert len(events) == len(BINS) * ROUNDS
    finally:
        for services in replicas:
            services.close()


# -- the leases themselves ----------------------------------------------------------------------


def test_each_job_has_one_holder_and_a_lost_session_loses_its_jobs(
    database: tuple[PostgreSQL, str],
) -> None:
    server, name = database
    engine = connect(server.url(name))
    one, two = Leases(engine), Leases(engine)
    try:
        assert one.check() == set(JOBS)
        assert two.check() == frozenset(), "held by the first"
        # The first one's session ends under it (a restarted server, a cut network).
        assert one._conn is not None
        pid = one._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with psycopg.connect(server.admin_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert one.check() == frozenset(), "its check finds the session gone"
        assert two.check() == set(JOBS)
        assert one.check() == frozenset(), "connected again, it waits"
        two.close()  # a backend stopping gives its jobs back at once
        assert one.check() == set(JOBS)
    finally:
        one.close()
        two.close()
        engine.dispose()


def test_on_sqlite_the_one_backend_runs_every_job(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'sangsach.sqlite'}")
    leases = Leases(engine)
    assert leases.check() == set(JOBS) and all(leases.owns(job) for job in JOBS)
    leases.close()
    assert leases.owns("alert-tick")
    engine.dispose()
