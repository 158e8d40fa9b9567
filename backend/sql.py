"""Small SQL helpers shared by the backend: inserts that may conflict, on SQLite or PostgreSQL."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any, cast

import orjson
from sqlalchemy import BigInteger, Connection, Integer, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

Row = tuple[Any, ...]

# A whole number that may pass 2**31: a Unix time (the contract takes readings to 2**32 - 1), a
# size, a row id (the API takes ids to 2**62). BIGINT on PostgreSQL, whose INTEGER stops at
# 2**31 - 1 ("integer out of range"); INTEGER on SQLite, whose INTEGER holds 64 bits already and
# whose INTEGER PRIMARY KEY must stay INTEGER to be the rowid. Revision 0004 widened the columns.
BigInt = BigInteger().with_variant(Integer(), "sqlite")


def insert_for(conn: Connection, table: Table) -> Any:
    """An INSERT that knows ON CONFLICT, in the dialect of the connection.

    Its result's ``rowcount`` says whether a row went in (0 after ``DO NOTHING``, the SMS
    outbox's idempotency): SQLAlchemy gives an INSERT's rowcount as -1 on PostgreSQL (psycopg)
    unless asked to keep the driver's.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).execution_options(preserve_rowcount=True)


def upsert(conn: Connection, table: Table, keys: Sequence[str], columns: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET columns = the new values."""
    stmt = insert_for(conn, table)
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: stmt.excluded[name] for name in columns}
    )


class ManyRows:
    """One statement run for many rows of plain tuples, compiled once per dialect.

    Ingest writes a row per device of every batch, and SQLAlchemy's per-row work
    (``construct_params``, a bind processor per value) cost more than the database's own. Here
    the statement is compiled once in the connection's dialect and its paramstyle, and the rows
    go to the driver as they are: the caller gives each value as the driver takes it (a JSON
    column as its text: :func:`json_text`).
    """

    def __init__(
        self, build: Callable[[Connection], ClauseElement], columns: Sequence[str]
    ) -> None:
        self._build = build
        self.columns = tuple(columns)
        self._compiled: weakref.WeakKeyDictionary[
            Dialect, tuple[str, Callable[[list[Row]], list[Any]]]
        ] = weakref.WeakKeyDictionary()

    def execute(self, conn: Connection, rows: list[Row]) -> None:
        """Run the statement once per row; each row holds the values of ``columns`` in order."""
        if not rows:
            return
        found = self._compiled.get(conn.dialect)
        if found is None:
            found = self._compiled[conn.dialect] = self._compile(conn)
        sql, shape = found
        conn.exec_driver_sql(sql, shape(rows))

    def _compile(self, conn: Connection) -> tuple[str, Callable[[list[Row]], list[Any]]]:
        statement = self._build(conn)
        compiled = cast(
            SQLCompiler, statement.compile(dialect=conn.dialect, column_keys=list(self.columns))
        )
        names = list(compiled.params)
        if sorted(names) != sorted(self.columns):
            raise ValueError(f"the statement binds {names}, not the columns {self.columns}")
        sequence = conn.dialect.execute_sequence_format
        if compiled.positional:
            order = [self.columns.index(name) for name in compiled.positiontup or ()]
            if order == list(range(len(self.columns))) and sequence is tuple:
                return compiled.string, _as_given
            return compiled.string, lambda rows: [sequence(row[i] for i in order) for row in rows]
        escaped = compiled.escaped_bind_names
        keys = [escaped.get(name, name) for name in self.columns]
        return compiled.string, lambda rows: [dict(zip(keys, row, strict=True)) for row in rows]


def _as_given(rows: list[Row]) -> list[Any]:
    return rows


def json_text(value: Any) -> str:
    """A JSON column's text, as the driver takes it: orjson, about five times faster than
    ``json.dumps`` for a reading's values or a track (ingest writes two per device and batch).
    Read back with ``json.loads`` as SQLAlchemy reads any JSON column."""
    return orjson.dumps(value).decode()
