"""Shared fixtures: real Mosquitto, influxd and PostgreSQL on free loopback ports, temporary data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sangsach.localbroker import LocalBroker
from tests.carrier import Carrier
from tests.services import InfluxD, PostgreSQL


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A fresh Mosquitto per test, with the project's broker policy."""
    with LocalBroker(tmp_path / "mosquitto") as running:
        yield running


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxD]:
    """One influxd for the session; tests use their own database names."""
    server = InfluxD(tmp_path_factory.mktemp("influxd")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgreSQL]:
    """One PostgreSQL server for the session, started at the first test that needs it; each
    test gets a database of its own (``sql_url``, ``new_sql_url``). Missing binaries fail the
    test, naming the package: they are never skipped."""
    server = PostgreSQL().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with no rows for the backend's SQL store: a test that takes it
    runs twice, on a new SQLite file and on a database of its own on the session's PostgreSQL
    (one an earlier test gave back, emptied, at the newest revision; or a new one). Which
    tests do, and why not all: docs/deploy.md, "PostgreSQL"."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sangsach.sqlite'}"
        return
    from sangsach.backend.migrations import head  # alembic: only for the tests that use it

    server: PostgreSQL = request.getfixturevalue("postgres")
    name = server.take_database()
    yield server.url(name)
    server.give_back(name, head())


@pytest.fixture(params=["sqlite", "postgresql"])
def new_sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """``sql_url``, always a new, empty database (no tables): for the migrations' tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sangsach.sqlite'}"
        return
    server: PostgreSQL = request.getfixturevalue("postgres")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def carrier() -> Iterator[Carrier]:
    """A local HTTP server standing in for the SMS carrier."""
    running = Carrier()
    running.start()
    yield running
    if running._server is not None:
        running.stop()


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The umask most processes get from a shell or a service manager (022): files 0644 and
    folders 0755 unless the code says otherwise. Children inherit it."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)
