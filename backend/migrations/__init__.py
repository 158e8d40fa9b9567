"""Schema migrations of the backend's SQL database (Alembic), run at every start.

The migration environment lives in this package (``env.py``, ``versions/``) and is configured
here, in code: an installed wheel needs no ``alembic.ini``. ``make_engine`` calls ``upgrade``, so
the backend, the ``sangsach`` command and the tests always work on a database at the newest
revision. A database of a release before migrations (its tables, no ``alembic_version``) is
completed to the baseline by revision 0001 and carried on from there. How to add a revision:
docs/deploy.md, "Schema migrations".
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, MetaData, inspect, text

# Alembic is imported where a migration is made or compared, not with this module: a backend
# started on a database at the newest revision never loads it (docs/decisions.md).
if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

HERE = Path(__file__).parent
# Any constant will do: PostgreSQL's advisory lock that makes two starting backends migrate one
# after the other.
PG_LOCK_KEY = 0x5A_5A_DB_01
# Alembic's ``context`` is one global per process: one migration at a time in a process.
_in_process = threading.Lock()


class MigrationError(RuntimeError):
    """The database cannot be brought to the newest revision; the message says why."""


def target_metadata() -> MetaData:
    """The backend's tables as the code defines them: ``backend.db.metadata`` with every module
    that adds a table to it imported. A module with a new table is imported here too."""
    from .. import campaigns as _campaigns  # noqa: F401
    from ..alerts import tables as _alerts  # noqa: F401
    from ..auth import sessions as _sessions  # noqa: F401
    from ..auth import tokens as _tokens  # noqa: F401
    from ..citizens import store as _citizens  # noqa: F401
    from ..db import metadata
    from ..firmware import store as _firmware  # noqa: F401
    from ..worklists import store as _worklists  # noqa: F401

    return metadata


def drift(connection: Connection) -> list[Any]:
    """What the code's tables and the database disagree on, as ``sangsach db revision`` would
    write it (alembic's autogenerate comparison): empty for a database at the newest revision."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(connection, opts=dict(COMPARE))
    differences: list[Any] = compare_metadata(context, target_metadata())
    return differences


def _defaults_differ(  # type: ignore[no-untyped-def]
    migration, _inspected, _column, inspected_default, _default, rendered_default
) -> bool | None:
    """Alembic's SQLite comparison takes an empty text default, reflected as ``('')``, for a
    change (its pattern wants a character between the quotes): compared here without the
    brackets and quotes. None: alembic decides."""
    if migration.dialect.name != "sqlite" or inspected_default is None:
        return None
    return _bare(inspected_default) != _bare(rendered_default or "")


def _bare(default: str) -> str:
    while default.startswith("(") and default.endswith(")"):
        default = default[1:-1]
    return default.strip("'")


# How the code's tables are compared with a database: by ``drift`` and by autogenerate.
COMPARE: Mapping[str, Any] = {"compare_type": True, "compare_server_default": _defaults_differ}


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, made in code; ``env.py`` migrates ``connection``."""
    from alembic.config import Config

    cfg = Config()
    # configparser interpolates "%": a path holding one is escaped
    cfg.set_main_option("script_location", str(HERE).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision of the code."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None, f"no revision in {HERE / 'versions'}"
    return revision


def current(engine: Engine) -> str | None:
    """The database's revision; None for a database never migrated (empty, or made by a
    release before migrations)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def newest() -> str:
    """The newest revision, from the revisions' file names (``0008_province_scopes.py``), without
    Alembic: they are numbered in order (``new_revision``), and a test holds this to ``head``."""
    return max(path.name[:4] for path in (HERE / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _up_to_date(engine: Engine) -> str | None:
    """The database's revision when it is the newest, read with plain SQL; else None."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return found[0] if found == [newest()] else None


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the database to ``revision`` (the newest by default), in one transaction; returns
    the revision it was at.

    Two processes starting at once migrate one after the other: SQLite's write lock is taken
    before anything is read (``BEGIN IMMEDIATE``; the other waits up to its busy timeout),
    PostgreSQL's advisory lock likewise. The second then finds the database up to date.
    A database at the newest revision is left as it is without loading Alembic.
    """
    if revision == "head" and (at := _up_to_date(engine)) is not None:
        return at
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    with _in_process, engine.connect() as conn, _exclusive(conn):
        cfg = config(conn)
        was = MigrationContext.configure(conn).get_current_revision()
        _known(ScriptDirectory.from_config(cfg), was)
        try:
            command.upgrade(cfg, revision)
        except CommandError as err:
            raise MigrationError(str(err)) from err
        return was


def upgrade_apart(url: str) -> bool:
    """``upgrade`` of the database at ``url`` in a child process forked for it, so that Alembic
    (10 MB with what it loads) is not left in a long-running backend; the backend's own
    ``upgrade`` then finds the database up to date and loads none of it (docs/decisions.md).

    True when the child brought the database to the newest revision. False when it could not,
    or there is no ``fork`` (or the database is SQLite in memory, which a child cannot share):
    the caller's own ``upgrade`` then migrates, or raises the error and says it, as without
    this. Call it before the process starts any thread."""
    from ..db import sqlite_file

    if not hasattr(os, "fork") or (url.startswith("sqlite") and sqlite_file(url) is None):
        return False
    pid = os.fork()
    if pid == 0:
        code = 1  # an error is left unsaid: the parent's own upgrade meets it again and says it
        try:
            from ..db import connect

            engine = connect(url)
            try:
                upgrade(engine)
                code = 0
            finally:
                engine.dispose()
        finally:
            os._exit(code)  # not the parent's exit handlers, nor its buffers flushed twice
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _known(scripts: ScriptDirectory, at: str | None) -> None:
    """Refuse a database a newer version of sangsach migrated: this one cannot read it."""
    from alembic.util import CommandError

    if at is None:
        return
    try:
        scripts.get_revision(at)
    except CommandError as err:
        raise MigrationError(
            f"the database is at revision {at}, which this version of sangsach does not know "
            f"(its newest is {scripts.get_current_head()}): a newer version upgraded it; run that "
            "version, or restore the backup taken before the upgrade"
        ) from err


def new_revision(message: str) -> Path:
    """Write the next revision (0002, 0003, ...) into ``versions/``: what the code's tables have
    that a database at the newest revision lacks (alembic's autogenerate), formatted by ruff.

    A draft for a person to read and finish: autogenerate sees no renames and moves no data.
    """
    from alembic import command
    from alembic.script import Script

    from ..db import connect

    with tempfile.TemporaryDirectory() as folder:
        engine = connect(f"sqlite:///{Path(folder) / 'head.sqlite'}")
        try:
            upgrade(engine)
            with engine.connect() as conn:
                cfg = config(conn)
                _format_with_ruff(cfg)
                number = f"{int(head()) + 1:04d}"
                script = command.revision(cfg, message, autogenerate=True, rev_id=number)
        finally:
            engine.dispose()
    assert isinstance(script, Script)
    return Path(script.path)


def _format_with_ruff(cfg: Config) -> None:
    hooks = {"ruff_fix": "check --fix --exit-zero", "ruff_format": "format"}
    cfg.set_section_option("post_write_hooks", "hooks", ", ".join(hooks))
    for name, options in hooks.items():
        cfg.set_section_option("post_write_hooks", f"{name}.type", "module")
        cfg.set_section_option("post_write_hooks", f"{name}.module", "ruff")
        cfg.set_section_option(
            "post_write_hooks", f"{name}.options", f"{options} REVISION_SCRIPT_FILENAME"
        )


@contextmanager
def _exclusive(conn: Connection) -> Iterator[None]:
    """One transaction, held alone, committed when the block ends without an error."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        # A table rebuilt in batch mode must not cascade or fail on its references halfway; the
        # pragma works only outside a transaction. The references are checked before the commit.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        if dialect == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif dialect == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})")
        yield
        if dialect == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise MigrationError(f"the migration broke foreign keys: {broken[:5]}")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        if dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
