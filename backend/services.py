"""What the API needs, built once at start-up: settings, stores, ingest, alerts and SMS."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from sqlalchemy import Engine

from sangsach.config import BackendSettings
from sangsach.province_file import Province, load_installation
from sangsach.registry_file import Commune

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
from .registry.load import load_province
from .replicas import Leases
from .scores.schedule import LIVE_FIRST_AFTER_S, DailyRollups, run_all
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
    """What the routes and the background jobs use. In a province of several communes
    (``sangsach/province_file.py``) the readings, device states, alerts, SMS and forecasts are
    the installation's, one of each; the commune, its scores, work lists and citizens' reports
    are one commune's: ``view(commune_id)`` is the same services seen from that commune."""

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
    province: Province | None = None  # set by bootstrap
    commune_id: str = "xa"  # the commune in view, by its id in the province file
    _views: dict[str, Services] = field(default_factory=dict)

    def view(self, commune_id: str) -> Services:
        """The services seen from one commune of the installation; KeyError for an unknown id."""
        return self._views[commune_id] if self._views else self

    @property
    def village_ids(self) -> list[str]:
        """The villages of the commune in view: what its pages list, and nothing else."""
        return [village.id for village in self.commune.villages]

    def sees(self, village_id: str | None) -> bool:
        """Whether the commune in view may see what belongs to ``village_id``."""
        return village_id is not None and (
            not self._views
            or self.province is None
            or self.province.commune_of(village_id) == self.commune_id
        )

    def views(self) -> list[Services]:
        """Each commune's view, in the province file's order (a lone commune: itself)."""
        return list(self._views.values()) or [self]

    def start_background(self) -> None:
        """Alert tick, SMS dispatcher, daily rollups, device map feed, work lists' texting and
        the dead letters' retention, each in a thread; on PostgreSQL each runs only while this
        backend holds its lease (backend/replicas.py), which a thread of its own keeps. The
        bins' forecast models are refitted by every backend, a slice a minute."""
        every = self.settings.alert_tick_s
        leases = self._leases = Leases(self.engine)
        leases.check()  # the first backend to start owns the jobs from their first run
        rollups = [
            DailyRollups(
                view.scores,
                catch_up_days=self.settings.rollup_catch_up_days,
                delay_s=self.settings.rollup_delay_s,
                clock=self.clock,
                draining=lambda: self.ingest.draining,
                live_after_s=LIVE_FIRST_AFTER_S,
            )
            for view in self.views()
        ]
        feed = MapFeed(self.engine, self.store, self.province or self.commune, self.clock)
        stop = self._stop

        def owns(job: str) -> Callable[[], bool]:
            return lambda: leases.owns(job)

        jobs: list[tuple[str, Callable[[], object]]] = [
            ("leases", lambda: leases.run(stop)),
            ("alert-tick", lambda: _every(every, self.alerts.tick, stop, owns("alert-tick"))),
            ("sms-dispatcher", lambda: self.dispatcher.run(stop, owns("sms-dispatcher"))),
            ("device-map", lambda: _every(every, feed.tick, stop, owns("device-map"), first=True)),
            (
                "work-lists",
                lambda: _every(every, self.send_work_lists, stop, owns("work-lists")),
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
        ]
        jobs.append(("daily-rollups", partial(run_all, rollups, stop, owns("daily-rollups"))))
        for name, target in jobs:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def send_work_lists(self) -> None:
        for view in self.views():
            view.worklists.send_due()

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
    """Load the registry file (a commune's or a province's) into SQL and connect the stores.
    Raises on a bad registry file; ``existing``: on databases that exist already, or
    ``MissingDatabase`` (a command that reads)."""
    province = load_installation(settings.registry_file)
    engine = (open_existing if existing else make_engine)(settings.sql_url)
    if existing and store is None and settings.timeseries == "sqlite":
        readings = sqlite_timeseries_file(settings)
        if not readings.is_file():
            engine.dispose()
            raise MissingDatabase(readings)
    load_province(engine, province)
    store = store or make_store(settings)
    store.ensure_ready()
    alerts = AlertEngine(
        engine,
        store,
        province,
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
    forecasts = BinForecasts(engine, store, province, clock)

    def worklists_of(commune: Commune) -> Worklists:
        return Worklists(
            engine,
            commune,
            forecasts,
            clock,
            send_time=settings.worklist_time,
            public_url=settings.public_url,
            time_limit_s=settings.worklist_route_time_limit_s,
            on_queued=dispatcher.wake,
        )

    def citizens_of(commune: Commune) -> CitizenReports:
        return CitizenReports(
            engine, commune, clock, held_until=alerts.policy.quiet_ends, on_queued=dispatcher.wake
        )

    first_id, first = province.first()
    each = {cid: worklists_of(c) for cid, c in province.communes.items()}
    services = Services(
        settings,
        engine,
        store,
        Ingest(engine, store, alerts),
        alerts,
        # "XONG P12" ticks a work list: of the crew's own commune
        WorklistReplies(SmsReplies(alerts), list(each.values())),
        dispatcher,
        first,
        Scores(store, engine, first, clock),
        forecasts,
        each[first_id],
        clock,
        citizens=citizens_of(first),
        province=province,
        commune_id=first_id,
    )
    if province.several:
        for commune_id, commune in province.communes.items():
            services._views[commune_id] = (
                services
                if commune_id == first_id
                else replace(
                    services,
                    commune=commune,
                    scores=Scores(store, engine, commune, clock),
                    worklists=each[commune_id],
                    citizens=citizens_of(commune),
                    commune_id=commune_id,
                )
            )
    return services
