"""The spool keeps entries in order across reopening, and refuses to grow past its maximum."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sangsach.gateway.spool import Origin, Spool, SpoolFull


def test_entries_survive_reopening_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append([("reading", {"seq": i}) for i in range(5)])
    spool.append([("rejection", {"id": "x"})])
    spool.close()

    again = Spool(tmp_path / "spool.sqlite")
    entries = again.peek(10)
    assert [e.kind for e in entries] == ["reading"] * 5 + ["rejection"]
    assert [e.body.get("seq") for e in entries[:5]] == [0, 1, 2, 3, 4]
    again.remove_through(entries[2].id)
    assert [e.body.get("seq") for e in again.peek(2)] == [3, 4]
    assert len(again) == 3


def test_full_spool_refuses_the_whole_append(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite", max_rows=1000)
    spool.append([("reading", {"seq": i}) for i in range(990)])
    with pytest.raises(SpoolFull, match="990 of 1000"):
        spool.append([("reading", {"seq": i}) for i in range(20)])
    assert len(spool) == 990
    spool.remove_through(spool.peek(100)[-1].id)
    spool.append([("reading", {"seq": i}) for i in range(20)])
    assert len(spool) == 910


def test_an_empty_spool_takes_an_append_larger_than_its_maximum(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite", max_rows=1000)
    spool.append([("reading", {"seq": i}) for i in range(1500)])
    assert len(spool) == 1500
    with pytest.raises(SpoolFull):
        spool.append([("reading", {"seq": 0})])


def test_a_nearly_full_disk_refuses_the_append_and_keeps_what_is_spooled(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append([("reading", {"seq": 1})])
    spool.close()
    reserve_beyond_any_disk = 10**18
    strict = Spool(tmp_path / "spool.sqlite", min_free_bytes=reserve_beyond_any_disk)
    with pytest.raises(SpoolFull, match=r"nearly full: .* KiB kept in reserve; 1 entries kept"):
        strict.append([("reading", {"seq": 2})])
    assert [entry.body for entry in strict.peek(10)] == [{"seq": 1}]


def test_a_spool_from_before_origins_gains_their_columns(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    with sqlite3.connect(path) as db:  # the table as the version before made it
        db.execute(
            "CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
            " body TEXT NOT NULL)"
        )
        db.execute("""INSERT INTO spool (kind, body) VALUES ('reading', '{"seq":1}')""")
    db.close()
    spool = Spool(path)
    spool.append([("reading", {"seq": 2}, Origin("abc", b"{}"))])
    old, new = spool.peek(10)
    assert (old.body, new.body) == ({"seq": 1}, {"seq": 2})
    assert spool.origins([old.id, new.id]) == {new.id: ("abc", b"{}")}
    spool.replace(new.id, "rejection", {"id": "x"})
    assert spool.origins([new.id]) == {}


class _FullOnCheckpoint:
    """A connection whose disk is full to the last byte: the checkpoint itself is refused."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if "wal_checkpoint" in sql:
            err = sqlite3.OperationalError("database or disk is full")
            err.sqlite_errorcode = sqlite3.SQLITE_FULL
            raise err
        return self.real.execute(sql, *args)


def test_a_checkpoint_refused_by_a_full_disk_refuses_the_append_not_intake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the reserve the spool folds its log back before counting the room; on a disk full
    to the last byte that checkpoint fails too. The append is refused as full (intake waits and
    tries again), instead of an error that stopped the gateway's intake (seen in the fault
    campaign's nearly-full-disk test)."""
    spool = Spool(tmp_path / "spool.sqlite", min_free_bytes=2**62)  # always under the reserve
    real = spool._db()
    monkeypatch.setattr(spool, "_db", lambda: _FullOnCheckpoint(real))
    with pytest.raises(SpoolFull, match="is full"):
        spool.append([("reading", {"id": "lamp-1", "seq": 1})])
    assert len(spool) == 0
