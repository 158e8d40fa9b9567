"""One seeded simulation of the commune feeds two stacks through one broker: a clean one, and one
that suffers every process and link fault in turn. After recovery the faulty stack holds every
reading once, raised the same alerts, sent each SMS once and computes the same daily scores.

Faults on the second stack, while the devices report: the gateway<->backend link cut and
restored; influxd stopped for tens of seconds (the backend answers 503, the gateway spools and
retries); the gateway SIGKILLed while its forwarder retries a batch; the SMS carrier busy, then
gone, then back; the backend restarted.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from sangsach.backend.timeseries.influx import InfluxStore
from sangsach.localbroker import LocalBroker
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.simulators.faults import plan_faults
from sangsach.simulators.ledger import Ledger
from sangsach.simulators.run import run_simulation
from sangsach.simulators.scenario import device_kinds
from sangsach.sun import VIETNAM, dusk_dawn
from tests.carrier import Carrier
from tests.faults.proxy import LinkProxy
from tests.harness import Stack, wait_until
from tests.services import InfluxD

pytestmark = pytest.mark.e2e

COMMUNE = load_registry(SAMPLE_REGISTRY)
SEED = 23
HOURS = 4.0
SPEED = 720  # 4 simulated hours in 20 s
RUN_S = int(HOURS * 3600)
# influxd is down for about 14 s in the suite; set this to keep it down longer, e.g. 180 for
# the "minutes" of docs/reliability.md (the figures there were measured that way too).
EXTRA_OUTAGE_S = float(os.environ.get("SANGSACH_FAULT_EXTRA_OUTAGE_S", "0"))
ALERT_ENV = {
    "SANGSACH_ALERT_QUIET_HOURS": "",  # the test must not depend on the hour it runs at
    "SANGSACH_ALERT_MAX_SMS_PER_HOUR": "1000",
}


def evening_start() -> datetime:
    """Half an hour before sunset, two days back: lamps switch on during the run."""
    day = (datetime.now(VIETNAM) - timedelta(days=2)).date()
    dusk, _ = dusk_dawn(COMMUNE.commune.latitude, COMMUNE.commune.longitude, day)
    return (dusk - timedelta(minutes=30)).replace(second=0, microsecond=0).astimezone(UTC)


@pytest.fixture
def own_influxd(tmp_path: Path) -> Iterator[InfluxD]:
    """An influxd of the faulty stack alone, so that stopping it harms nobody else."""
    server = InfluxD(tmp_path / "influxd").start()
    yield server
    server.stop()


def influx_env(url: str, db: str, gateway_id: str) -> dict[str, str]:
    return {
        "SANGSACH_TIMESERIES": "influxdb",
        "SANGSACH_INFLUX_URL": url,
        "SANGSACH_INFLUX_DB": db,
        "SANGSACH_GATEWAY_ID": gateway_id,
        "SANGSACH_RETRY_MAX_S": "2",
        **ALERT_ENV,
    }


def test_every_fault_in_turn_changes_no_reading_alert_sms_or_score(
    tmp_path: Path, broker: LocalBroker, influxd: InfluxD, own_influxd: InfluxD, carrier: Carrier
) -> None:
    clean_db, faulty_db = f"clean_{uuid4().hex[:10]}", f"faulty_{uuid4().hex[:10]}"
    clean = Stack(tmp_path / "clean", broker.port, influx_env(influxd.url, clean_db, "clean"))
    faulty = Stack(
        tmp_path / "faulty",
        broker.port,
        {
            **influx_env(own_influxd.url, faulty_db, "faulty"),
            "SANGSACH_SMS_PROVIDER": "http",
            "SANGSACH_SMS_HTTP_URL": carrier.url,
            "SANGSACH_ALERT_TICK_S": "1",
            "SANGSACH_SMS_RETRY_MIN_S": "1",
            "SANGSACH_SMS_RETRY_MAX_S": "3",
        },
    )
    link = LinkProxy(faulty.port)
    faulty.gateway.env = {**faulty.env, "SANGSACH_BACKEND_URL": link.url}
    link.restore()
    clean.start()
    faulty.start()
    try:
        start = evening_start()
        carrier.mode = "busy"
        result: list[Ledger] = []
        simulation = threading.Thread(
            target=lambda: result.append(
                run_simulation(
                    COMMUNE, host=broker.host, port=broker.port, speed=SPEED, seed=SEED,
                    hours=HOURS, start=start, bad_rate=0.01,
                )
            )
        )  # fmt: skip
        simulation.start()
        marks = inflict_faults(faulty, link, own_influxd, carrier)
        simulation.join(300)
        assert result, "the simulation did not finish"
        ledger = result[0]

        recovered_from = time.monotonic()
        for stack in (clean, faulty):
            wait_until(
                lambda s=stack: s.stored() >= ledger.reading_count,  # type: ignore[misc]
                240,
                f"{ledger.reading_count} readings",
                every=1,
            )
        marks["drained_s"] = time.monotonic() - recovered_from
        wait_until(lambda: _all_sent(faulty), 120, "every SMS sent", every=1)
        time.sleep(2)  # a straggler or a duplicate would show now

        store = InfluxStore(own_influxd.url, faulty_db)
        try:
            check_exactly_once(faulty, store, ledger)
        finally:
            store.close()
        assert clean.stored() == ledger.reading_count
        assert marks["spooled_while_influx_down"] > 0, "the gateway should have spooled"
        assert marks["forward_failures"] > 0, "the faults should have been felt"

        begin = int(start.timestamp())
        plan = plan_faults(device_kinds(COMMUNE), seed=SEED, start=begin, end=begin + RUN_S)
        outages = {device_id for device_id, f in plan.items() if f.outage is not None}
        assert _alert_kinds(faulty, outages) == _alert_kinds(clean, outages)
        assert all(n == 1 for n in Counter(_active_keys(faulty)).values())
        outbox = faulty.http.get("/api/v1/sms/outbox", params={"limit": 10_000}).json()
        assert outbox, "the faults of the simulation should have sent SMS"
        assert all(carrier.delivered[m["id"]] == 1 for m in outbox)
        assert sum(carrier.delivered.values()) == len(outbox)

        # The simulated span, over by now: a period reaching into the present is computed up to
        # each request's own second, which two requests do not share.
        period = {"start": begin, "end": begin + RUN_S}
        scores = [s.http.get("/api/v1/scores", params=period).json() for s in (clean, faulty)]
        assert scores[0]["in_progress"] is False and scores[0]["has_data"] is True
        assert scores[0]["villages"], scores[0]
        assert scores[1] == scores[0]
        print(f"\nrecovery figures: {ledger.reading_count} readings, {marks}")
    finally:
        link.cut()
        clean.close()
        faulty.close()


def inflict_faults(
    stack: Stack, link: LinkProxy, influx: InfluxD, carrier: Carrier
) -> dict[str, float]:
    """The faults, one after another, while the simulation runs; returns what was seen."""
    marks: dict[str, float] = {}
    time.sleep(3)
    link.cut()  # the gateway cannot reach the backend: it spools
    time.sleep(5)
    link.restore()
    carrier.stop()  # busy so far, now not there at all
    influx.stop()  # the backend answers 503; the gateway keeps spooling and retries
    influx_stopped = time.monotonic()
    time.sleep(6)
    marks["spooled_while_influx_down"] = stack.gateway_health()["spooled"]
    stack.gateway.kill()  # SIGKILL while the forwarder retries a batch
    time.sleep(2)
    stack.start_gateway()
    time.sleep(6 + EXTRA_OUTAGE_S)
    marks["influx_down_s"] = round(time.monotonic() - influx_stopped)
    influx.start()
    carrier.mode = "up"
    carrier.start()
    time.sleep(3)
    marks["forward_failures"] = stack.gateway_health()["forwarder"]["failures"]
    stack.backend.stop()
    time.sleep(2)
    stack.start_backend()
    return marks


def check_exactly_once(stack: Stack, store: InfluxStore, ledger: Ledger) -> None:
    assert stack.stored() == ledger.reading_count
    for device_id, keys in ledger.readings.items():
        assert store.keys(device_id) == keys, device_id
    letters = stack.dead_letters()
    assert Counter((d["topic"], d["reason"]) for d in letters) == Counter(
        (record.topic, str(record.reason)) for record in ledger.invalid
    )


def _alerts(stack: Stack) -> list[dict[str, Any]]:
    response = stack.http.get("/api/v1/alerts", params={"limit": 10_000})
    return response.raise_for_status().json()  # type: ignore[no-any-return]


def _alert_kinds(stack: Stack, outages: set[str]) -> Counter[tuple[str, str]]:
    """Alerts judged at the time of the data. Left out: silence (``device_offline``), judged
    against the wall clock, which the faults moved; and the nodes the plan takes offline for a
    while, whose alerts depend on how their last will, birth and readings are cut into batches
    (the engine judges a batch once, at its newest reading; see docs/reliability.md)."""
    return Counter(
        (a["device_id"], a["type"])
        for a in _alerts(stack)
        if a["type"] != "device_offline" and a["device_id"] not in outages
    )


def _active_keys(stack: Stack) -> list[tuple[str, str]]:
    return [(a["device_id"], a["type"]) for a in _alerts(stack) if a["state"] != "cleared"]


def _all_sent(stack: Stack) -> bool:
    outbox = stack.http.get("/api/v1/sms/outbox", params={"limit": 10_000}).json()
    return bool(outbox) and all(m["status"] == "sent" for m in outbox)
