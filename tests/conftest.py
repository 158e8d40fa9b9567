"""Shared fixtures: real Mosquitto and influxd on free loopback ports, temporary data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sangsach.localbroker import LocalBroker
from tests.carrier import Carrier
from tests.services import InfluxD


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
