"""Alerts end to end: simulated faults -> Mosquitto -> gateway -> backend -> SMS at a real local
HTTP server standing in for the carrier, which is down for a while: every SMS arrives once.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sangsach.backend.notify.text import to_gsm7
from sangsach.localbroker import LocalBroker
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry
from sangsach.simulators.faults import LampFault, plan_faults
from sangsach.simulators.ledger import Ledger
from sangsach.simulators.run import run_simulation
from sangsach.simulators.scenario import device_kinds
from sangsach.sun import VIETNAM, dusk_dawn
from tests.carrier import Carrier
from tests.harness import Stack, wait_until

pytestmark = pytest.mark.e2e

COMMUNE = load_registry(SAMPLE_REGISTRY)
SEED = 11
HOURS = 18.0  # from before one sunset to the next late morning, when collection rounds pass


def evening_start() -> datetime:
    """An hour before sunset, two days back: the whole run is in the past."""
    day = (datetime.now(VIETNAM) - timedelta(days=2)).date()
    dusk, _ = dusk_dawn(COMMUNE.commune.latitude, COMMUNE.commune.longitude, day)
    return (dusk - timedelta(hours=1)).replace(second=0, microsecond=0).astimezone(UTC)


def test_faults_reach_the_right_phones_once_through_a_carrier_outage(
    tmp_path: Path, broker: LocalBroker, carrier: Carrier
) -> None:
    env = {
        "SANGSACH_SMS_PROVIDER": "http",
        "SANGSACH_SMS_HTTP_URL": carrier.url,
        "SANGSACH_ALERT_QUIET_HOURS": "",  # the test must not depend on the hour it runs at
        "SANGSACH_ALERT_MAX_SMS_PER_HOUR": "1000",
        "SANGSACH_ALERT_TICK_S": "1",
        "SANGSACH_SMS_RETRY_MIN_S": "1",
        "SANGSACH_SMS_RETRY_MAX_S": "4",
    }
    stack = Stack(tmp_path / "stack", broker.port, env).start()
    try:
        start = evening_start()
        carrier.mode = "busy"  # the carrier answers 503 at first...
        result: list[Ledger] = []
        simulation = threading.Thread(
            target=lambda: result.append(
                run_simulation(
                    COMMUNE,
                    host=broker.host,
                    port=broker.port,
                    speed=1800,
                    seed=SEED,
                    hours=HOURS,
                    start=start,
                )
            )
        )
        simulation.start()
        wait_until(lambda: len(carrier.requests) >= 3, 120, "SMS refused while the carrier is busy")
        carrier.stop()  # ...then is not there at all...
        time.sleep(6)  # the dispatcher tries the closed port meanwhile
        carrier.mode = "up"
        carrier.start()  # ...then is back
        simulation.join(300)
        assert result, "the simulation did not finish"
        wait_until(lambda: stack.stored() == result[0].reading_count, 120, "every reading")
        wait_until(lambda: _all_sent(stack), 180, "every SMS sent", every=1)

        outbox = stack.http.get("/api/v1/sms/outbox", params={"limit": 10_000}).json()
        assert len(outbox) > 10
        assert sum(carrier.delivered.values()) == len(outbox)
        assert all(carrier.delivered[m["id"]] == 1 for m in outbox)
        assert any(n > 1 for n in _requests_per_key(carrier).values()), "the outage was felt"

        _check_burnt_lamps(stack, carrier, int(start.timestamp()))
        _check_bins(stack, carrier)
    finally:
        stack.close()


def _all_sent(stack: Stack) -> bool:
    outbox = stack.http.get("/api/v1/sms/outbox", params={"limit": 10_000}).json()
    return bool(outbox) and all(m["status"] == "sent" for m in outbox)


def _requests_per_key(carrier: Carrier) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in carrier.requests:
        counts[key] = counts.get(key, 0) + 1
    return counts


def _team_phones(village_id: str, role: str) -> set[str]:
    return {
        m.phone
        for t in COMMUNE.teams
        if t.role == role and village_id in t.villages
        for m in t.members
    }


def _texts_to(carrier: Carrier, phone: str) -> list[str]:
    return [p["text"] for p in carrier.payloads.values() if p["to"] == phone]


def _check_burnt_lamps(stack: Stack, carrier: Carrier, begin: int) -> None:
    plan = plan_faults(device_kinds(COMMUNE), seed=SEED, start=begin, end=begin + int(HOURS * 3600))
    burnt = [d for d, f in plan.items() if f.lamp is LampFault.BURNT_OUT and f.outage is None]
    assert burnt, "the fault plan should burn out some lamps"
    places = {
        lamp.id: (v, lane) for v in COMMUNE.villages for lane in v.lanes for lamp in lane.lamps
    }
    for device_id in burnt:
        alerts = _alerts(stack, device=device_id, type="lamp_fault")
        assert alerts, f"{device_id} is burnt out but raised no alert"
        code = str(alerts[0]["id"])
        village, lane = places[device_id]
        for phone in _team_phones(village.id, "lighting"):
            texts = [t for t in _texts_to(carrier, phone) if _mentions(t, code)]
            assert texts, f"no SMS about alert {code} reached {phone}"
            single = [t for t in texts if f"OK {code} " in t]
            if single:  # a digest names only the most urgent place
                assert to_gsm7(lane.name)[:4] in single[0]  # names may be shortened, not dropped
            assert all(t.isascii() for t in texts)


def _check_bins(stack: Stack, carrier: Carrier) -> None:
    full = _alerts(stack, type="bin_full")
    assert full, "some bins should fill up in 18 hours"
    for alert in full:
        village_id = alert["village_id"]
        for phone in _team_phones(village_id, "collection"):
            assert any(_mentions(t, str(alert["id"])) for t in _texts_to(carrier, phone))
    emptied = [a for a in full if a["state"] == "cleared"]
    assert emptied, "a collection round should have emptied a full bin"
    assert all(a["collected_at"] is not None for a in emptied)


def _mentions(text: str, code: str) -> bool:
    """An SMS about one alert says "OK <code>"; a digest lists the codes after "ma:", and
    counts those that do not fit one segment as "+N"."""
    if f"OK {code} " in text:
        return True
    listed = re.search(r"ma: ([0-9 ]+)(\+[0-9]+)?\.", text)
    return listed is not None and (code in listed.group(1).split() or listed.group(2) is not None)


def _alerts(stack: Stack, **filters: str) -> list[dict[str, Any]]:
    response = stack.http.get("/api/v1/alerts", params={**filters, "limit": 10_000})
    return response.raise_for_status().json()  # type: ignore[no-any-return]
