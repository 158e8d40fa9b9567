"""Alembic's environment: migrates the connection that ``sangsach.backend.migrations`` passes.

There is no ``alembic.ini`` and no offline (SQL script) mode: the backend migrates its own
database at start (``make_engine``), and ``sangsach db`` does it on request.
"""

from __future__ import annotations

from alembic import context

from sangsach.backend.migrations import COMPARE, MigrationError, target_metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise MigrationError(
        "migrations run on a connection: use `sangsach db upgrade`, or start the backend"
    )
context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    # SQLite cannot alter most of a table in place: batch mode rebuilds it (copy, drop, rename)
    render_as_batch=True,
    **COMPARE,
)
with context.begin_transaction():
    context.run_migrations()
