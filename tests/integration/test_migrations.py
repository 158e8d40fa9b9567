"""Schema migrations on real SQLite files and a real PostgreSQL: the code's tables and the
revisions agree on both, the previous release's database (SQLite: no release ran on anything
else) is upgraded at the backend's start with every row kept, and two processes starting at once
migrate once (SQLite's write lock, PostgreSQL's advisory lock)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text

from sangsach.backend import migrations
from sangsach.backend.app import create_app
from sangsach.backend.db import REGISTRY_TABLES, connect, make_engine
from sangsach.config import BackendSettings
from tests.services import PostgreSQL

PREVIOUS_RELEASE = Path(__file__).parent / "data" / "sangsach-ff04631.sql"
# The secret whose digest the fixture's operator token holds.
FIXTURE_OPERATOR = {"Authorization": "Bearer ss_previous-release-fixture-operator-token-00"}
SEEN_ALONE = (
    "from sangsach.backend import migrations; print(*sorted(migrations.target_metadata().tables))"
)
REGISTRY = {table.name for table in REGISTRY_TABLES}  # replaced at every start, on purpose
# What ``sangsach backend`` does at start: the migration in a forked child, then its own start.
APART = """
import os, sys
from sangsach.backend import migrations
from sangsach.backend.db import make_engine
url = os.environ["SANGSACH_TEST_URL"]
apart = migrations.upgrade_apart(url)
try:
    make_engine(url).dispose()
    said = "started"
except migrations.MigrationError:
    said = "refused"
print(apart, said, "alembic" in sys.modules)
"""


def drift(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return migrations.drift(conn)


def previous_release_database(folder: Path) -> Path:
    path = folder / "sangsach.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(PREVIOUS_RELEASE.read_text(encoding="utf-8"))
    db.close()
    return path


def every_row(path: Path) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Each table's columns and rows, read with the standard library, not the code under test."""
    db = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name != "alembic_version"
        ]
        found = {}
        for table in tables:
            columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
            rows = db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from sqlite_master)
            found[table] = (columns, sorted(rows, key=repr))
        return found
    finally:
        db.close()


def rows_of(path: Path, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        names = ", ".join(f'"{column}"' for column in columns)
        rows = db.execute(f'SELECT {names} FROM "{table}"')  # noqa: S608 (names from the file)
        return sorted(rows, key=repr)
    finally:
        db.close()


def test_a_new_database_gets_exactly_the_codes_tables(new_sql_url: str) -> None:
    engine = make_engine(new_sql_url)
    try:
        assert migrations.current(engine) == migrations.head()
        assert drift(engine) == [], "a table changed in the code needs a revision (docs/deploy.md)"
    finally:
        engine.dispose()


def test_the_drift_check_sees_a_column_the_revisions_lack(new_sql_url: str) -> None:
    engine = make_engine(new_sql_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE late_days DROP COLUMN marked_at"))
        added = [(op[2], op[3].name) for op in drift(engine) if op[0] == "add_column"]
        assert added == [("late_days", "marked_at")]
    finally:
        engine.dispose()


def test_the_migrations_see_every_table_of_the_backend() -> None:
    """``target_metadata`` imports every module that defines a table: what the running backend
    has (this process imported the app) is what ``sangsach db revision`` compares, alone."""
    alone = subprocess.run(
        [sys.executable, "-c", SEEN_ALONE], capture_output=True, text=True, check=True, timeout=60
    )
    assert alone.stdout.split() == sorted(migrations.target_metadata().tables)


def test_the_previous_releases_database_is_upgraded_at_start_and_keeps_every_row(
    tmp_path: Path,
) -> None:
    path = previous_release_database(tmp_path)
    before = every_row(path)
    assert {"alerts", "sms_outbox", "api_tokens", "census_entries", "dead_letters"} <= set(before)
    assert all(rows for table, (_, rows) in before.items() if table not in REGISTRY)

    app = create_app(BackendSettings(data_dir=tmp_path))  # the backend's start-up, migrations first

    engine = connect(f"sqlite:///{path}")
    try:
        assert migrations.current(engine) == migrations.head()
        assert drift(engine) == []
    finally:
        engine.dispose()
    for table, (columns, rows) in before.items():
        if table not in REGISTRY:
            assert rows_of(path, table, columns) == rows, table
    with TestClient(app, headers=FIXTURE_OPERATOR) as client:  # its tokens still sign in
        alert = client.get("/api/v1/alerts/1").raise_for_status().json()
        assert (alert["state"], alert["acked_by"], alert["assigned_to"]) == (
            "active_acknowledged",
            "+84912000002",
            "ve-sinh-1",
        )


def test_backends_starting_at_once_migrate_one_after_the_other(tmp_path: Path) -> None:
    path = previous_release_database(tmp_path)
    before = every_row(path)
    env = {**os.environ, "SANGSACH_DATA_DIR": str(tmp_path), "SANGSACH_DATABASE_URL": ""}
    starts = [
        subprocess.Popen(
            [sys.executable, "-m", "sangsach", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    said = [start.communicate(timeout=120) for start in starts]
    assert [start.returncode for start in starts] == [0, 0, 0], said
    head = migrations.head()
    # exactly one of them found the database unmigrated; the others found it done
    done = f"-> {head} (đã nâng cấp, upgraded)"
    assert sorted(out.strip() for out, _ in said) == [
        f"{head} {done}",
        f"{head} {done}",
        f"chưa có (none) {done}",
    ]
    for table, (columns, rows) in before.items():
        assert rows_of(path, table, columns) == rows, table


def test_backends_starting_at_once_on_postgresql_migrate_one_after_the_other(
    postgres: PostgreSQL, tmp_path: Path
) -> None:
    """Three ``sangsach db upgrade`` on one new PostgreSQL database: the advisory lock lets one
    migrate while the others wait, then find it done."""
    url = postgres.url(postgres.create_database())
    env = {**os.environ, "SANGSACH_DATA_DIR": str(tmp_path), "SANGSACH_DATABASE_URL": url}
    starts = [
        subprocess.Popen(
            [sys.executable, "-m", "sangsach", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    said = [start.communicate(timeout=120) for start in starts]
    assert [start.returncode for start in starts] == [0, 0, 0], said
    head = migrations.head()
    done = f"-> {head} (đã nâng cấp, upgraded)"
    assert sorted(out.strip() for out, _ in said) == [
        f"{head} {done}",
        f"{head} {done}",
        f"chưa có (none) {done}",
    ]
    engine = connect(url)
    try:
        assert drift(engine) == []
    finally:
        engine.dispose()


def test_a_database_a_newer_version_migrated_is_refused_naming_the_revision(
    new_sql_url: str,
) -> None:
    make_engine(new_sql_url).dispose()
    engine = connect(new_sql_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
        with pytest.raises(migrations.MigrationError, match=r"revision 0999.*a newer version"):
            migrations.upgrade(engine)
    finally:
        engine.dispose()


def test_the_backend_migrates_in_a_child_and_loads_no_alembic(new_sql_url: str) -> None:
    """The backend's process migrates in a forked child (``upgrade_apart``), then finds the
    database up to date without loading Alembic (10 MB of its memory). A child that cannot
    migrate leaves it to the backend's own upgrade, which says why."""

    def start() -> list[str]:
        env = {**os.environ, "SANGSACH_TEST_URL": new_sql_url}
        run = subprocess.run(
            [sys.executable, "-c", APART], env=env, capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.split()

    assert migrations.newest() == migrations.head()  # the fast path's newest is Alembic's
    assert start() == ["True", "started", "False"]
    engine = connect(new_sql_url)
    try:
        assert migrations.current(engine) == migrations.head()
        assert drift(engine) == []
        if new_sql_url.startswith("sqlite"):  # the child's failure is the same on both
            with engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    finally:
        engine.dispose()
    if new_sql_url.startswith("sqlite"):
        assert start() == ["False", "refused", "True"]


def test_every_revision_downgrades_and_upgrades_again(new_sql_url: str) -> None:
    engine = make_engine(new_sql_url)
    try:
        with engine.begin() as conn:
            command.downgrade(migrations.config(conn), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrations.upgrade(engine)
        assert migrations.current(engine) == migrations.head()
        assert drift(engine) == []
    finally:
        engine.dispose()
