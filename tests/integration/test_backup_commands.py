"""The backup and restore commands of docs/deploy.md, run as written on real databases.

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

from sangsach.backend.domain.readings import DailyScore, StoredReading
from sangsach.backend.timeseries.influx import InfluxStore
from tests.services import InfluxD

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
