"""What the API needs, built once at start-up: settings, SQL engine, time-series store, ingest."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from sangsach.config import BackendSettings
from sangsach.registry_file import load_registry

from .db import make_engine
from .ingest import Ingest
from .registry.load import load_commune
from .timeseries.influx import InfluxStore
from .timeseries.port import TimeSeriesStore
from .timeseries.sqlite import SqliteStore


@dataclass
class Services:
    settings: BackendSettings
    engine: Engine
    store: TimeSeriesStore
    ingest: Ingest

    def close(self) -> None:
        self.store.close()
        self.engine.dispose()


def make_store(settings: BackendSettings) -> TimeSeriesStore:
    if settings.timeseries == "influxdb":
        password = settings.influx_password.get_secret_value() if settings.influx_password else None
        return InfluxStore(
            str(settings.influx_url), settings.influx_db, settings.influx_username, password
        )
    return SqliteStore(settings.data_dir / "timeseries.sqlite")


def bootstrap(settings: BackendSettings, store: TimeSeriesStore | None = None) -> Services:
    """Load the registry file into SQL and connect the stores. Raises on a bad registry file."""
    commune = load_registry(settings.registry_file)
    engine = make_engine(settings.sql_url)
    load_commune(engine, commune)
    store = store or make_store(settings)
    store.ensure_ready()
    return Services(settings, engine, store, Ingest(engine, store))
