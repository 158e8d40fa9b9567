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


def test_a_batch_ending_inside_a_chunk_leaves_the_rest_of_it(tmp_path: Path) -> None:
    """Each append is one chunk; the forwarder's batches need not end where a chunk ends. What
    it removed of a chunk stays removed when the spool is opened again."""
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append([("reading", {"seq": i}) for i in range(5)])
    spool.append([("status", {"seq": i}) for i in range(5, 8)])
    spool.append([("reading", {"seq": 8})])
    first = spool.peek(3)
    second = spool.peek(4, after=first[-1].id)  # crosses into the second chunk
    assert [e.body["seq"] for e in first + second] == list(range(7))
    assert [e.kind for e in second] == ["reading", "reading", "status", "status"]
    assert all(a.id < b.id for a, b in zip(first + second, (first + second)[1:], strict=False))
    spool.remove_through(first[-1].id)
    assert len(spool) == 6
    spool.remove_through(second[-1].id)
    spool.close()
    again = Spool(tmp_path / "spool.sqlite")
    assert [e.body["seq"] for e in again.peek(10)] == [7, 8]
    assert len(again) == 2
    again.remove_through(again.peek(10)[-1].id)
    assert len(again) == 0 and again.peek(10) == []
    again.append([("reading", {"seq": 9})])
    [entry] = again.peek(10)
    assert entry.body == {"seq": 9} and entry.id > second[-1].id  # ids never go back


def test_replacing_entries_keeps_their_places_and_drops_their_origins(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append([("reading", {"seq": i}, Origin(f"m{i}", b"{}" if i % 2 else None))
                  for i in range(6)])  # fmt: skip
    entries = spool.peek(10)
    ids = [e.id for e in entries]
    assert spool.origins(ids) == {e.id: (f"m{i}", b"{}" if i % 2 else None)
                                  for i, e in enumerate(entries)}  # fmt: skip
    spool.replace_many([(ids[1], "rejection", {"id": "x1"}), (ids[4], "rejection", {"id": "x4"})])
    after = spool.peek(10)
    assert [e.id for e in after] == ids
    assert [e.kind for e in after] == ["reading", "rejection", "reading", "reading",
                                       "rejection", "reading"]  # fmt: skip
    assert after[4].body == {"id": "x4"} and after[5].body == {"seq": 5}
    assert set(spool.origins(ids)) == set(ids) - {ids[1], ids[4]}


def test_a_spool_of_a_row_per_entry_moves_into_chunks_in_order(tmp_path: Path) -> None:
    """The spool as gateways before kept it: a row per entry, with its origin. Opened now, its
    25,000 entries come out in their order, with their kinds and origins, and none twice."""
    path = tmp_path / "spool.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
            " body TEXT NOT NULL, raw_id TEXT, raw BLOB)"
        )
        db.executemany(
            "INSERT INTO spool (kind, body, raw_id, raw) VALUES (?, ?, ?, ?)",
            [("status" if i % 7 == 0 else "reading", f'{{"seq":{i}}}', f"m{i}",
              b"raw" if i % 3 == 0 else None) for i in range(25_000)],
        )  # fmt: skip
        db.execute("DELETE FROM spool WHERE id <= 10")  # a forwarder had sent the first ten
    db.close()
    spool = Spool(path)
    assert len(spool) == 24_990
    entries = spool.peek(30_000)
    assert [e.body["seq"] for e in entries] == list(range(10, 25_000))
    assert [e.kind for e in entries[:5]] == ["reading", "reading", "reading", "reading", "status"]
    probe = entries[20_000]  # seq 20,010
    assert spool.origins([probe.id]) == {probe.id: ("m20010", b"raw")}
    spool.close()
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert "spool" not in tables
