"""What the API needs, built once at start-up: settings, stores, ingest, alerts and SMS."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from sangsach.config import BackendSettings
from sangsach.registry_file import Commune, load_registry

from . import deadletters
from .alerts.engine import AlertEngine
from .alerts.model import Policy
from .alerts.sms import SmsOutbox, SmsReplies
from .bin_forecasts import BinForecasts
from .citizens.service import CitizenReports
from .db import MissingDatabase, make_engine, open_existing
from .ingest import Ingest
from .mapfeed import MapFeed
from .notify.dispatcher import Dispatcher
from .notify.inbound import AlertActions
from .notify.providers import make_provider
from .notify.webhook import ReplayCache
from .registry.load import load_commune
from .replicas import Leases
from .scores.schedule import DailyRollups
from .scores.service import Scores
from .timeseries.influx import InfluxStore
from .timeseries.port import TimeSeriesStore
from .timeseries.sqlite import SqliteStore
from .worklists.service import WorklistReplies, Worklists

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0  # dead letters beyond their retention or size cap
REFIT_EVERY_S = 60.0  # a slice of the bins' forecast models refitted (bin_forecasts.refit_some)


@dataclass
class Services:
    settings: BackendSettings
    engine: Engine
    store: TimeSeriesStore
    ingest: Ingest
    alerts: AlertEngine
    alert_actions: AlertActions
    dispatcher: Dispatcher
    commune: Commune
    scores: Scores
    forecasts: BinForecasts
    worklists: Worklists
    clock: Callable[[], float] = time.time
    citizens: CitizenReports | None = None  # set by bootstrap: citizens' reports (tickets)
    # Signatures of the SMS webhook already used (per process: see notify/webhook.py).
    webhook_replays: ReplayCache = field(default_factory=ReplayCache)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _leases: Leases | None = None

    def start_background(self) -> None:
        """Alert tick, SMS dispatcher, daily rollups, device map feed, work lists' texting and
        the dead letters' retention, each in a thread; on PostgreSQL each runs only while this
        backend holds its lease (backend/replicas.py), which a thread of its own keeps. The
        bins' forecast models are refitted by every backend, a slice a minute."""
        every = self.settings.alert_tick_s
        leases = self._leases = Leases(self.engine)
        leases.check()  # the first backend to start owns the jobs from their first run
        rollups = DailyRollups(
            self.scores,
            catch_up_days=self.settings.rollup_catch_up_days,
            delay_s=self.settings.rollup_delay_s,
            clock=self.clock,
            draining=lambda: self.ingest.draining,
        )
        feed = MapFeed(self.engine, self.store, self.commune, self.clock)
        stop = self._stop

        def owns(job: str) -> Callable[[], bool]:
            return lambda: leases.owns(job)

        for name, target in (
            ("leases", lambda: leases.run(stop)),
            ("alert-tick", lambda: _every(every, self.alerts.tick, stop, owns("alert-tick"))),
            ("sms-dispatcher", lambda: self.dispatcher.run(stop, owns("sms-dispatcher"))),
            ("daily-rollups", lambda: rollups.run(stop, owns("daily-rollups"))),
            ("device-map", lambda: _every(every, feed.tick, stop, owns("device-map"), first=True)),
            (
                "work-lists",
                lambda: _every(every, self.worklists.send_due, stop, owns("work-lists")),
            ),
            (
                "dead-letters",
                lambda: _every(PURGE_EVERY_S, self.purge, stop, owns("dead-letters"), first=True),
            ),
            # every backend its own: the models are kept in each one's memory
            (
                "forecast-models",
                lambda: _every(
                    REFIT_EVERY_S, lambda: self.forecasts.refit_some(REFIT_EVERY_S), stop
                ),
            ),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def purge(self) -> int:
        """Dead letters beyond their retention or the size cap deleted; how many."""
        keep_s = self.settings.dead_letter_retention_days * 86_400
        max_bytes = int(self.settings.dead_letter_max_mb * 1024 * 1024)
        with self.engine.begin() as conn:
            return deadletters.purge(conn, self.clock(), keep_s, max_bytes)

    def close(self) -> None:
        self._stop.set()
        self.dispatcher.wake()
        for thread in self._threads:
            thread.join(10)
        if self._leases is not None:
            self._leases.close()  # another backend takes the jobs at its next check
        self.ingest.close()
        self.store.close()
        self.engine.dispose()


def _every(
    seconds: float,
    work: Callable[[], object],
    stop: threading.Event,
    owns: Callable[[], bool] = lambda: True,
    *,
    first: bool = False,
) -> None:
    """``work`` every ``seconds`` while this backend ``owns`` it (``first``: at once too). A
    backend that takes a job over from a dead one runs it at its next period."""
    if first and not stop.is_set() and owns():
        _run(work, seconds)
    while not stop.wait(seconds):
        if owns():
            _run(work, seconds)


def _run(work: Callable[[], object], seconds: float) -> None:
    try:
        work()
    except Exception:
        # The store or the database may be down for a while: judge again next time.
        log.exception("%s failed; trying again in %.0f s", work, seconds)


def make_store(settings: BackendSettings) -> TimeSeriesStore:
    if settings.timeseries == "influxdb":
        password = settings.influx_password.get_secret_value() if settings.influx_password else None
        return InfluxStore(
            str(settings.influx_url), settings.influx_db, settings.influx_username, password
        )
    return SqliteStore(sqlite_timeseries_file(settings))


def sqlite_timeseries_file(settings: BackendSettings) -> Path:
    """Where the embedded time-series store keeps its readings (``SANGSACH_TIMESERIES=sqlite``)."""
    return settings.data_dir / "timeseries.sqlite"


def policy(settings: BackendSettings) -> Policy:
    quiet = settings.alert_quiet_hours
    start, end = quiet.split("-") if quiet else ("00:00", "00:00")
    return Policy(
        reminder_s=settings.alert_reminder_s,
        escalate_to_head_s=settings.alert_escalate_head_s,
        escalate_to_office_s=settings.alert_escalate_office_s,
        quiet_start_min=_minutes(start),
        quiet_end_min=_minutes(end),
        max_sms_per_hour=settings.alert_max_sms_per_hour,
    )


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def bootstrap(
    settings: BackendSettings,
    store: TimeSeriesStore | None = None,
    clock: Callable[[], float] = time.time,
    *,
    existing: bool = False,
) -> Services:
    """Load the registry file into SQL and connect the stores. Raises on a bad registry file;
    ``existing``: on databases that exist already, or ``MissingDatabase`` (a command that reads)."""
    commune = load_registry(settings.registry_file)
    engine = (open_existing if existing else make_engine)(settings.sql_url)
    if existing and store is None and settings.timeseries == "sqlite":
        readings = sqlite_timeseries_file(settings)
        if not readings.is_file():
            engine.dispose()
            raise MissingDatabase(readings)
    load_commune(engine, commune)
    store = store or make_store(settings)
    store.ensure_ready()
    alerts = AlertEngine(
        engine,
        store,
        commune,
        SmsOutbox(settings.sms_encoding, clock),
        policy=policy(settings),
        office_phones=settings.sms_office_phones,
        clock=clock,
    )
    dispatcher = Dispatcher(
        engine,
        make_provider(settings),
        clock,
        retry_min_s=settings.sms_retry_min_s,
        retry_max_s=settings.sms_retry_max_s,
    )
    alerts.on_queued = dispatcher.wake  # an alert's SMS leaves as soon as it is committed
    forecasts = BinForecasts(engine, store, commune, clock)
    worklists = Worklists(
        engine,
        commune,
        forecasts,
        clock,
        send_time=settings.worklist_time,
        public_url=settings.public_url,
        time_limit_s=settings.worklist_route_time_limit_s,
        on_queued=dispatcher.wake,
    )
    services = Services(
        settings,
        engine,
        store,
        Ingest(engine, store, alerts),
        alerts,
        WorklistReplies(SmsReplies(alerts), worklists),  # "XONG P12" ticks a work list
        dispatcher,
        commune,
        Scores(store, engine, commune, clock),
        forecasts,
        worklists,
        clock,
    )
    services.citizens = CitizenReports(
        engine, commune, clock, held_until=alerts.policy.quiet_ends, on_queued=dispatcher.wake
    )
    return services
