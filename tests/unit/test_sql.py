"""The SQL helpers of ingest: rows of plain tuples give what SQLAlchemy's own executemany gives,
on SQLite and on a real PostgreSQL (the ``new_sql_url`` fixture)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    select,
)
from sqlalchemy.dialects import postgresql

from sangsach.backend.sql import ManyRows, insert_for, json_text, upsert
from tests.services import PostgreSQL

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("count", Integer),
    Column("weight", Float),
    Column("doc", JSON),
)
COLUMNS = ("id", "count", "weight", "doc")


def _upsert(conn: Connection) -> Any:
    return upsert(conn, things, ["id"], COLUMNS[1:])


ROWS = [
    {"id": "a", "count": 1, "weight": 0.5, "doc": {"on": True, "lux": None, "tags": ["x", "é"]}},
    {"id": "b", "count": None, "weight": 2.0, "doc": {"fill_pct": 80.5}},
]
CHANGED = [{"id": "a", "count": 2, "weight": 1.5, "doc": {"on": False}}]


def _table(url: str, rows_of: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as conn:
            rows_of(conn, ROWS)
            rows_of(conn, CHANGED)
        with engine.connect() as conn:
            # The JSON text as stored, parsed: the same document as SQLAlchemy's (the spacing
            # of the text may differ), and valid JSON (NaN would not be).
            raw = conn.exec_driver_sql(
                "SELECT id, count, weight, CAST(doc AS TEXT) FROM things ORDER BY id"
            )
            return [(*row[:3], json.loads(row[3], parse_constant=_refuse)) for row in raw]
    finally:
        engine.dispose()


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def test_many_rows_store_what_sqlalchemy_stores(new_sql_url: str) -> None:
    def ours(conn: Connection, rows: list[dict[str, Any]]) -> None:
        ManyRows(_upsert, COLUMNS).execute(
            conn, [(r["id"], r["count"], r["weight"], json_text(r["doc"])) for r in rows]
        )

    def sqlalchemys(conn: Connection, rows: list[dict[str, Any]]) -> None:
        conn.execute(_upsert(conn), rows)

    assert _table(new_sql_url, ours) == _table(new_sql_url, sqlalchemys)
    assert _table(new_sql_url, ours)[0] == ("a", 2, 1.5, {"on": False})


def test_many_rows_read_back_through_the_json_type(new_sql_url: str) -> None:
    engine = create_engine(new_sql_url)
    metadata.create_all(engine)
    doc = {"x": [1, 2.5], "on": True, "name": "Thôn Đông Hạ", "none": None}
    try:
        with engine.begin() as conn:
            ManyRows(_upsert, COLUMNS).execute(conn, [("a", 1, 0.5, json_text(doc))])
            ManyRows(_upsert, COLUMNS).execute(conn, [])  # nothing to do: no statement at all
        with engine.connect() as conn:
            assert conn.execute(select(things.c.doc)).scalar_one() == doc
    finally:
        engine.dispose()


@pytest.mark.parametrize("driver", ["psycopg2", "psycopg"])
def test_many_rows_give_postgresql_drivers_named_parameters(driver: str) -> None:
    # No PostgreSQL server here: the statement is compiled in the dialect, and the rows are
    # shaped for its paramstyle (pyformat: one dict per row, keyed as the SQL names them).
    conn = SimpleNamespace(dialect=getattr(postgresql, driver).dialect())
    sql, shape = ManyRows(_upsert, COLUMNS)._compile(conn)  # type: ignore[arg-type]
    assert "ON CONFLICT (id) DO UPDATE" in sql
    [row] = shape([("a", 1, 0.5, '{"on": true}')])
    assert row == {"id": "a", "count": 1, "weight": 0.5, "doc": '{"on": true}'}
    assert all(f"%({key})s" in sql for key in row)


def test_many_rows_refuse_a_statement_with_values_of_its_own() -> None:
    def capped(conn: Connection) -> Any:
        stmt = insert_for(conn, things)
        return stmt.on_conflict_do_update(
            index_elements=["id"], set_={"count": stmt.excluded.count}, where=things.c.count < 5
        )

    engine = create_engine("sqlite://")
    with engine.connect() as conn, pytest.raises(ValueError, match="binds"):
        ManyRows(capped, COLUMNS).execute(conn, [("a", 1, 0.5, "{}")])


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(_json)
def test_json_text_reads_back_as_the_value(value: Any) -> None:
    """What SQLAlchemy's JSON column gives back (``json.loads``) is the value written."""
    assert json.loads(json_text(value)) == value


def test_json_text_refuses_what_is_not_json() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_text({"when": object()})


def test_an_insert_that_does_nothing_says_so(new_sql_url: str) -> None:
    """The SMS outbox's idempotency reads the rowcount of INSERT ... ON CONFLICT DO NOTHING."""
    engine = create_engine(new_sql_url)
    metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            stmt = insert_for(conn, things).values(id="a", count=1).on_conflict_do_nothing()
            assert [conn.execute(stmt).rowcount for _ in range(2)] == [1, 0]
    finally:
        engine.dispose()


def test_a_missing_postgresql_server_fails_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tests on PostgreSQL fail, never skip, where its server is not installed."""
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"apt-get install postgresql"):
        PostgreSQL.binaries(tmp_path)
    (tmp_path / "15" / "bin").mkdir(parents=True)
    (tmp_path / "15" / "bin" / "postgres").touch()
    assert PostgreSQL.binaries(tmp_path) == tmp_path / "15" / "bin"


def test_a_database_given_back_comes_again_empty_at_the_newest_revision(
    postgres: PostgreSQL,
) -> None:
    """``sql_url``'s PostgreSQL databases are used again, emptied: nothing of one test leaks
    into the next, and its ids count from 1."""
    from sangsach.backend import migrations
    from sangsach.backend.db import late_days, make_engine, sms_inbound

    name = postgres.take_database()
    engine = make_engine(postgres.url(name))
    row = {"received_at": 1.0, "sender": "+84912000001", "text": "xong", "result": "ok",
           "detail": ""}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sms_inbound.insert(), [row, row])
        conn.execute(late_days.insert(), [{"day": 2**32, "marked_at": 1.0}])
    engine.dispose()
    postgres.give_back(name, migrations.head())
    assert postgres.take_database() == name
    engine = make_engine(postgres.url(name))
    try:
        with engine.begin() as conn:
            assert conn.execute(select(late_days)).all() == []
            assert conn.execute(sms_inbound.insert().values(row)).inserted_primary_key == (1,)
        assert migrations.current(engine) == migrations.head()
    finally:
        engine.dispose()
        postgres.drop_database(name)
