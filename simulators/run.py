"""Play a simulated commune against an MQTT broker: what ``sangsach simulate`` runs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Final

from pydantic import BaseModel

from sangsach.contract import Status, topic
from sangsach.contract.limits import EARLIEST_SYNCED_TS
from sangsach.registry_file import Commune

from .clock import SimClock
from .fleet import Fleet, Will
from .invalid import BadMessage
from .ledger import Ledger
from .node import Birth, Crash, Send
from .scenario import Event, timeline

log = logging.getLogger(__name__)

# Messages queued or unacknowledged beyond which the simulation waits for the broker.
MAX_BACKLOG: Final = 20_000
MAX_POLL_S: Final = 0.05
PROGRESS_EVERY_S: Final = 10.0


def run_simulation(
    commune: Commune,
    *,
    host: str,
    port: int,
    speed: float = 60.0,
    seed: int = 1,
    hours: float | None = None,
    start: datetime | None = None,
    bad_rate: float = 0.0,
    ledger_path: Path | None = None,
    stop_event: threading.Event | None = None,
    username: str | None = None,
    password: str | None = None,
    keepalive_s: int = 60,
    tls_ca: Path | None = None,
) -> Ledger:
    """Simulate every device of ``commune`` and return what the broker acknowledged.

    Simulated time runs ``speed`` times faster than real time from ``start`` (by default
    ``hours`` ago, or now) but never ahead of the real clock. The run ends after ``hours`` of
    simulated time (None: when ``stop_event`` is set), then waits for every acknowledgement
    and disconnects. The same seed and start give the same messages.

    Raises ValueError for arguments out of range and FleetError when the broker cannot be
    reached, drops a connection, or does not acknowledge.
    """
    if hours is not None and hours <= 0:
        raise ValueError(f"hours must be positive, got {hours}")
    if start is None:
        start = datetime.now(UTC) - timedelta(hours=hours or 0)
    clock = SimClock(start, speed)
    begin = int(clock.start)
    if begin < EARLIEST_SYNCED_TS:
        raise ValueError(f"start {start.isoformat()} is before 2020: readings would be refused")
    end = begin + round(hours * 3600) if hours is not None else None
    events = timeline(
        commune, seed=seed, start=begin, end=end, bad_rate=bad_rate, wall=clock.real_now
    )
    with ExitStack() as stack:
        sink = stack.enter_context(ledger_path.open("w", encoding="utf-8")) if ledger_path else None
        ledger = Ledger(sink)
        fleet = stack.enter_context(
            Fleet(
                host,
                port,
                keepalive_s=keepalive_s,
                username=username,
                password=password,
                tls_ca=tls_ca,
            )
        )
        _play(events, clock, fleet, ledger, stop_event or threading.Event())
        fleet.drain()
    log.info("simulation done: %s", ledger.summary())
    return ledger


def _play(
    events: Iterator[Event],
    clock: SimClock,
    fleet: Fleet,
    ledger: Ledger,
    stop: threading.Event,
) -> None:
    """Hand each event to the fleet when simulated time reaches it, serving the sockets between."""
    pending = next(events, None)
    progress_at = time.monotonic() + PROGRESS_EVERY_S
    while pending is not None and not stop.is_set():
        now = clock.now()
        while pending is not None and pending.t <= now and fleet.backlog < MAX_BACKLOG:
            _dispatch(pending, fleet, ledger)
            pending = next(events, None)
        if pending is None:
            return
        if fleet.backlog >= MAX_BACKLOG:
            fleet.poll(MAX_POLL_S)  # returns as soon as acknowledgements arrive
        else:
            fleet.poll(min(clock.seconds_until(pending.t), MAX_POLL_S))
        if time.monotonic() >= progress_at:
            progress_at += PROGRESS_EVERY_S
            log.info(
                "simulated time %s: %d readings acknowledged, %d messages pending",
                datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
                ledger.reading_count,
                fleet.backlog,
            )


def _json(model: BaseModel) -> bytes:
    return model.model_dump_json(exclude_none=True).encode()


def _dispatch(event: Event, fleet: Fleet, ledger: Ledger) -> None:
    who, what = event.client_id, event.what
    if isinstance(what, Birth):
        status_topic = topic(who, "status")
        will = Will(status_topic, _json(Status(id=who, state="offline")))
        fleet.connect(who, will=will)
        on_ack = partial(ledger.add_birth, who, what.boot)
        fleet.publish(who, status_topic, _json(what.status), retain=True, on_ack=on_ack)
    elif isinstance(what, Send):
        on_ack = partial(ledger.add_telemetry, who, what.message)
        fleet.publish(who, topic(who, "telemetry"), _json(what.message), on_ack=on_ack)
    elif isinstance(what, Crash):
        fleet.drop(who, on_done=partial(ledger.add_offline, who, what.boot))
    else:
        _dispatch_bad(what, fleet, ledger)


def _dispatch_bad(message: BadMessage, fleet: Fleet, ledger: Ledger) -> None:
    if not fleet.knows(message.sender):
        # A device missing from the registry: it only publishes, with no birth and no will.
        fleet.connect(message.sender, will=None)
    on_ack = partial(ledger.add_invalid, message)
    fleet.publish(message.sender, message.topic, message.payload, on_ack=on_ack)
