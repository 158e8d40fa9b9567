"""The backup and restore commands of docs/deploy.md, run as written on real databases
(SQLite, influxd, PostgreSQL).

Only the container paths, the database name and the address of influxd are changed.
"""

from __future__ import annotations

import re
import shlex
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import delete, func, insert, select

from sangsach.backend import migrations
from sangsach.backend.alerts.tables import alerts
from sangsach.backend.db import census_entries, connect, make_engine
from sangsach.backend.domain.readings import DailyScore, StoredReading
from sangsach.backend.timeseries.influx import InfluxStore
from tests.services import InfluxD, PostgreSQL

pytestmark = pytest.mark.integration

DOC = (Path(__file__).parents[2] / "docs" / "deploy.md").read_text(encoding="utf-8")


def doc_lines(prefix: str) -> list[str]:
    found = [line for line in DOC.splitlines() if line.startswith(prefix)]
    assert found, f"docs/deploy.md has no line starting with {prefix!r}"
    return found


def test_sqlite_online_backup_gives_a_consistent_copy(tmp_path: Path) -> None:
    [line] = doc_lines('docker compose exec backend python -c "')
    code = shlex.split(line)[-1].replace("/data/", f"{tmp_path}/")
    live = tmp_path / "sangsach.sqlite"
    db = sqlite3.connect(live, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE alert (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")
    db.commit()
    stop = threading.Event()

    def write() -> None:  # the backend at work: one transaction after another
        while not stop.is_set():
            db.executemany("INSERT INTO alert (note) VALUES (?)", [("đèn hỏng",)] * 50)
            db.commit()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    finally:
        stop.set()
        writer.join()
    copy = sqlite3.connect(tmp_path / "backup.sqlite")
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    count, top = copy.execute("SELECT count(*), max(id) FROM alert").fetchone()
    assert count > 0 and count == top and count % 50 == 0  # whole transactions only
    copy.close()
    db.close()


def test_influxdb_portable_backup_and_restore(influxd: InfluxD, tmp_path: Path) -> None:
    conf = (influxd.root / "influxdb.conf").read_text(encoding="utf-8")
    rpc = re.search(r'^bind-address = "(\S+)"', conf, re.M)
    assert rpc is not None
    name = f"backup_{uuid4().hex[:12]}"
    with InfluxStore(influxd.url, name) as store:
        store.ensure_ready()
        store.write([StoredReading("lamp-1", "lamp", "thon-1", "l-1", 1, seq, 1_780_000_000 + seq,
                                   True, {"on": True}) for seq in range(30)])  # fmt: skip
        store.write_daily_scores([DailyScore("thon-1", 1_780_000_000, {"sang_pct": 97.5})])

    def run(line: str) -> None:
        args = shlex.split(line.replace("docker compose exec influxdb ", ""))
        args = [a.replace("sangsach", name) for a in args]
        args = [str(tmp_path / "backup") if a.startswith("/") else a for a in args]
        subprocess.run([*args[:3], "-host", rpc[1], *args[3:]], check=True, timeout=60,
                       capture_output=True)  # fmt: skip

    [backup] = doc_lines("docker compose exec influxdb influxd backup ")
    [restore] = doc_lines("docker compose exec influxdb influxd restore ")
    run(backup)
    influxd.query(f'DROP DATABASE "{name}"', name)
    assert name not in str(influxd.query("SHOW DATABASES", name))
    run(restore)
    with InfluxStore(influxd.url, name) as store:
        assert store.count() == 30
        assert [s.values["sang_pct"] for s in store.daily_scores()] == [97.5]
    influxd.query(f'DROP DATABASE "{name}"', name)


def test_postgresql_dump_and_restore(postgres: PostgreSQL, tmp_path: Path) -> None:
    """The pg_dump and pg_restore lines, run by a shell as written (only the dump's date in the
    restore line is the one just made): a restore over the database brings back what was
    dumped, schema and rows, at the newest revision."""
    [dump] = doc_lines("pg_dump ")
    [restore] = doc_lines("pg_restore ")
    name = postgres.create_database()
    url = postgres.url(name)
    engine = make_engine(url)
    entry = {"village_id": "dong-ha", "households": 120, "main_road_households": 40,
             "main_road_standard_bins": 20, "entered_at": 1.0, "entered_by": "test",
             "source": "api", "effective_from": 4_070_908_800}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(census_entries), [entry, {**entry, "households": 130}])
    env = {
        "PATH": f"{PostgreSQL.binaries()}:/usr/bin:/bin",
        "DATABASE_URL": f"postgresql://{PostgreSQL.USER}@127.0.0.1:{postgres.port}/{name}",
    }
    subprocess.run(["bash", "-c", dump], cwd=tmp_path, env=env, check=True, timeout=60)
    [made] = tmp_path.glob("sangsach-*.dump")
    with engine.begin() as conn:  # after the backup: a row lost, a table gone
        conn.execute(delete(census_entries).where(census_entries.c.households == 130))
        conn.exec_driver_sql("DROP TABLE alerts")
    engine.dispose()
    restore = restore.replace("sangsach-2026-11-29.dump", made.name)
    subprocess.run(["bash", "-c", restore], cwd=tmp_path, env=env, check=True, timeout=60)
    engine = connect(url)
    try:
        with engine.connect() as conn:
            kept = conn.execute(
                select(census_entries.c.households, census_entries.c.effective_from)
            ).all()
            assert sorted(kept) == [(120, 4_070_908_800), (130, 4_070_908_800)]
            assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 0
            assert migrations.drift(conn) == []
        assert migrations.current(engine) == migrations.head()
        with engine.begin() as conn:  # the ids count on after a restore
            conn.execute(insert(census_entries), [entry])
            assert conn.execute(select(func.max(census_entries.c.id))).scalar_one() == 3
    finally:
        engine.dispose()
