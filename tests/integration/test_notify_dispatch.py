"""The SMS outbox against a real HTTP server standing in for the carrier.

The carrier goes busy (503), then away (port closed), then comes back: every SMS arrives
exactly once and none is lost. It refuses a bad number for good, and a dispatcher killed
between the carrier's accept and its own record resends under the same key.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine

from sangsach.backend.db import make_engine
from sangsach.backend.notify import outbox
from sangsach.backend.notify.dispatcher import Dispatcher
from sangsach.backend.notify.outbox import Sms
from sangsach.backend.notify.providers import HttpProvider
from tests.carrier import REFUSED_NUMBER, Carrier
from tests.harness import wait_until

BODY_TEMPLATE = '{"to": "{to}", "text": "{body}", "reference": "{id}"}'
T0 = 1_780_000_000.0


@pytest.fixture
def engine(sql_url: str) -> Iterator[Engine]:
    engine = make_engine(sql_url)
    yield engine
    engine.dispose()


def provider(carrier: Carrier) -> HttpProvider:
    return HttpProvider(carrier.url, body_template=BODY_TEMPLATE, timeout=2.0)


def messages(count: int) -> list[Sms]:
    return [
        Sms(
            f"alert:{n}:new:0",
            f"+849120002{n:02d}",
            f"Den {n} khong sang. Ma {n}.",
            "gsm7",
            "lamp_fault",
            str(n),
        )
        for n in range(count)
    ]


def enqueue_all(engine: Engine, items: list[Sms], now: float = T0) -> None:
    with engine.begin() as conn:
        for message in items:
            assert outbox.enqueue(conn, message, now)


def statuses(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(entry.status for entry in outbox.list_messages(conn, limit=1000))


def test_enqueue_is_idempotent_and_a_claim_is_exclusive(engine: Engine) -> None:
    message = messages(1)[0]
    with engine.begin() as conn:
        assert outbox.enqueue(conn, message, T0)
        assert not outbox.enqueue(conn, message, T0 + 5)  # the caller retried: one row
        assert [e.sms for e in outbox.due(conn, T0, 10)] == [message]
        assert outbox.claim(conn, message.id, T0, T0 + 30)
        assert not outbox.claim(conn, message.id, T0, T0 + 30)  # a second dispatcher
        assert outbox.due(conn, T0 + 29, 10) == []
        assert outbox.sent_since(conn, message.to, T0 - 1) == 1


def test_carrier_busy_then_gone_then_back_delivers_each_sms_once(
    engine: Engine, carrier: Carrier
) -> None:
    sent = messages(20)
    enqueue_all(engine, sent)
    dispatcher = Dispatcher(engine, provider(carrier), time.time, retry_min_s=1, retry_max_s=8)
    now = T0
    carrier.mode = "busy"
    for _ in range(5):
        assert dispatcher.run_once(now) == 0
        now += 10
    carrier.stop()
    for _ in range(5):
        assert dispatcher.run_once(now) == 0
        now += 10
    # While it is down the carrier is probed with one message per round, not hammered.
    assert len(carrier.requests) == 5
    assert statuses(engine) == {"pending": 20}
    carrier.mode = "up"
    carrier.start()
    total = 0
    for _ in range(3):
        total += dispatcher.run_once(now)
        now += 10
    assert total == 20
    assert statuses(engine) == {"sent": 20}
    keys = {m.id for m in sent}
    assert carrier.delivered == Counter(dict.fromkeys(keys, 1))
    assert carrier.accepted == Counter(dict.fromkeys(keys, 1))  # nothing sent twice
    assert {k: (p["to"], p["text"]) for k, p in carrier.payloads.items()} == {
        m.id: (m.to, m.body) for m in sent
    }
    with engine.connect() as conn:
        retried = [e for e in outbox.list_messages(conn, limit=100) if e.attempts > 1]
    assert retried and all(e.last_error for e in retried)


def test_dispatcher_thread_rides_out_an_outage(engine: Engine, carrier: Carrier) -> None:
    carrier.stop()
    dispatcher = Dispatcher(
        engine, provider(carrier), time.time, retry_min_s=0.05, retry_max_s=0.2, poll_s=0.02
    )
    stop = threading.Event()
    worker = threading.Thread(target=dispatcher.run, args=(stop,))
    worker.start()
    try:
        enqueue_all(engine, messages(20), now=time.time())
        time.sleep(0.4)
        carrier.mode = "busy"
        carrier.start()
        time.sleep(0.4)
        carrier.mode = "up"
        wait_until(lambda: statuses(engine) == {"sent": 20}, 10, "all 20 SMS sent")
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
    assert len(carrier.requests) > 20  # the busy carrier was tried, and answered 503
    assert len(carrier.delivered) == 20
    assert set(carrier.delivered.values()) == {1} and set(carrier.accepted.values()) == {1}


def test_a_refused_number_stays_failed_with_the_reason(engine: Engine, carrier: Carrier) -> None:
    good = messages(2)
    bad = Sms("alert:9:new:0", REFUSED_NUMBER, "Den 9 khong sang.", "gsm7", "lamp_fault", "9")
    enqueue_all(engine, [*good, bad])
    dispatcher = Dispatcher(engine, provider(carrier), time.time, retry_min_s=1, retry_max_s=8)
    assert dispatcher.run_once(T0) == 2
    assert dispatcher.run_once(T0 + 100) == 0
    with engine.connect() as conn:
        [failed] = outbox.list_messages(conn, status="failed")
    assert failed.sms == bad and failed.attempts == 1
    assert failed.last_error is not None
    assert failed.last_error.startswith("HTTP 400") and "number not in service" in failed.last_error
    assert carrier.requests.count(bad.id) == 1  # never retried


class Crash(Exception):
    """The process dies here."""


def test_a_crash_after_the_carrier_accepted_resends_under_the_same_key(
    engine: Engine, carrier: Carrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    [message] = messages(1)
    enqueue_all(engine, [message])
    real_mark_sent = outbox.mark_sent

    def crash_once(conn: Connection, id: str, provider_ref: str, now: float) -> None:
        monkeypatch.setattr(outbox, "mark_sent", real_mark_sent)
        raise Crash

    monkeypatch.setattr(outbox, "mark_sent", crash_once)
    first = Dispatcher(engine, provider(carrier), time.time, retry_min_s=30, retry_max_s=60)
    with pytest.raises(Crash):
        first.run_once(T0)
    assert carrier.accepted[message.id] == 1
    assert statuses(engine) == {"pending": 1}  # not lost
    # The restarted dispatcher leaves it alone until the claim runs out, then sends it again.
    restarted = Dispatcher(engine, provider(carrier), time.time, retry_min_s=30, retry_max_s=60)
    assert restarted.run_once(T0 + 1) == 0
    assert restarted.run_once(T0 + 30) == 1
    assert carrier.requests == [message.id, message.id]
    assert carrier.accepted[message.id] == 2 and carrier.delivered[message.id] == 1
    with engine.connect() as conn:
        [entry] = outbox.list_messages(conn)
    assert (entry.status, entry.attempts, entry.provider_ref) == (
        "sent",
        2,
        f'HTTP 200: {{"id": "c-{message.id}"}}',
    )
