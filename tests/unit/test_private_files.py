"""Data folders 0700 and SQLite files 0600, whatever the umask of the process that makes them."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from sangsach.backend.db import make_engine
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.broker.passwords import write_atomically
from sangsach.gateway.spool import Spool
from sangsach.private_files import PRIVATE_UMASK, private_dir, private_sqlite_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_a_new_folder_is_0700_with_its_parents(tmp_path: Path) -> None:
    folder = private_dir(tmp_path / "var" / "data")
    assert mode(folder) == 0o700


@pytest.mark.usefixtures("permissive_umask")
def test_an_existing_folder_of_ours_is_tightened_a_shared_sticky_one_is_not(
    tmp_path: Path,
) -> None:
    ours = tmp_path / "data"
    ours.mkdir(mode=0o755)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp
    private_dir(ours)
    private_dir(shared)
    assert mode(ours) == 0o700
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


@pytest.mark.usefixtures("permissive_umask")
def test_sqlite_gives_its_wal_and_shm_files_the_private_mode(tmp_path: Path) -> None:
    path = private_sqlite_file(tmp_path / "data" / "x.sqlite")
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
        db.commit()
        files = sorted(p.name for p in path.parent.iterdir())
        assert files == ["x.sqlite", "x.sqlite-shm", "x.sqlite-wal"]
        assert {name: mode(path.parent / name) for name in files} == dict.fromkeys(files, 0o600)
    finally:
        db.close()


@pytest.mark.usefixtures("permissive_umask")
def test_an_existing_database_and_its_leftover_wal_are_tightened(tmp_path: Path) -> None:
    """An installation from before: its files were made 0644."""
    path = tmp_path / "sangsach.sqlite"
    sqlite3.connect(path).close()
    wal = path.with_name("sangsach.sqlite-wal")
    wal.write_bytes(b"")
    path.chmod(0o644)
    wal.chmod(0o644)
    private_sqlite_file(path)
    assert (mode(path), mode(wal)) == (0o600, 0o600)


@pytest.mark.usefixtures("permissive_umask")
def test_the_registry_database_the_time_series_and_the_spool_are_private(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'backend' / 'sangsach.sqlite'}")
    store = SqliteStore(tmp_path / "backend" / "timeseries.sqlite")
    spool = Spool(tmp_path / "spool" / "spool-gw-1.sqlite")
    try:
        with engine.connect():
            store.ensure_ready()
            spool.append([("reading", {"id": "lamp-dong-ha-001"})])
            for folder in (tmp_path / "backend", tmp_path / "spool"):
                assert mode(folder) == 0o700, folder
                files = list(folder.iterdir())
                assert len(files) >= 3, files  # each database with its -wal and -shm
                assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        spool.close()
        store.close()
        engine.dispose()


def test_the_broker_accounts_folder_stays_open_to_the_brokers_group(tmp_path: Path) -> None:
    """The command runs with the umask 077; Mosquitto, another account of the group, reads."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        write_atomically(tmp_path / "broker" / "passwd", "")
    finally:
        os.umask(previous)
    assert (mode(tmp_path / "broker"), mode(tmp_path / "broker" / "passwd")) == (0o750, 0o640)
