"""SQL tables of the backend (SQLAlchemy Core): registry, device state and dead letters.

SQLite by default, PostgreSQL by URL. The registry tables are a copy of the registry file,
replaced whole at start-up; device state and dead letters are the backend's own. The schema is
made and changed by the migrations in ``backend/migrations``: a change to a table here is a new
revision there (docs/deploy.md, "Schema migrations"); a test fails while they disagree.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)

from sangsach.private_files import private_sqlite_file

from .migrations import upgrade
from .sql import BigInt

metadata = MetaData()

villages = Table(
    "villages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(60), nullable=False),
    Column("head_name", String(60), nullable=False),
    Column("head_phone", String(16), nullable=False),
    Column("households", Integer, nullable=False),
    Column("main_road_households", Integer, nullable=False),
    Column("main_road_standard_bins", Integer, nullable=False),
    Column("lighting", JSON, nullable=True),
    # its commune's id in the province file (sangsach/province_file.py); a lone commune's too
    Column("commune_id", String(32), nullable=True, index=True),
)

places = Table(
    "places",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("village_id", String(32), ForeignKey("villages.id"), nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # "lane" or "point"
    Column("name", String(60), nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("households_served", Integer, nullable=True),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("village_id", String(32), ForeignKey("villages.id"), nullable=False, index=True),
    Column("place_id", String(32), ForeignKey("places.id"), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("depth_cm", Float, nullable=True),
    Column("watts", Integer, nullable=True),
)

teams = Table(
    "teams",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(60), nullable=False),
    Column("role", String(16), nullable=False),
    Column("villages", JSON, nullable=False),
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_id", String(32), ForeignKey("teams.id"), primary_key=True),
    Column("phone", String(16), primary_key=True),
    Column("name", String(60), nullable=False),
)

device_state = Table(
    "device_state",
    metadata,
    Column("device_id", String(48), primary_key=True),
    Column("ts", BigInt, nullable=True),  # time of the latest reading
    Column("boot", Integer, nullable=True),
    Column("seq", Integer, nullable=True),
    Column("synced", Boolean, nullable=True),
    Column("values", JSON, nullable=True),
    Column("last_seen", Float, nullable=True),  # gateway receive time of the latest message
    Column("online", Boolean, nullable=True),  # from birth and last will; None: never heard
    Column("status_at", Float, nullable=True),
    Column("fw", String(32), nullable=True),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("received_at", Float, nullable=False, index=True),
    Column("gateway", String(32), nullable=False),
    Column("topic", Text, nullable=False),
    Column("device_id", String(64), nullable=True, index=True),
    Column("reason", String(32), nullable=False, index=True),
    Column("detail", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("payload_bytes", BigInt, nullable=False),
    # how many messages it stands for: a flood letter folds many; added later
    Column("messages", BigInt, nullable=False, server_default="1"),
)

# The SMS outbox: one row per message, keyed by the caller's idempotency key. Rows are never
# deleted: a message is pending, sent, or failed with its reason (backend/notify/outbox.py).
sms_outbox = Table(
    "sms_outbox",
    metadata,
    Column("id", String(160), primary_key=True),
    Column("to", String(16), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("encoding", String(8), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("alert_id", String(32), nullable=True, index=True),
    Column("status", String(8), nullable=False, index=True),  # pending, sent or failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False, index=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("sent_at", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("provider_ref", String(128), nullable=True),
)

# Every SMS received on the webhook, answered or refused, with what was done with it.
sms_inbound = Table(
    "sms_inbound",
    metadata,
    Column("id", BigInt, primary_key=True, autoincrement=True),
    Column("received_at", Float, nullable=False, index=True),
    Column("sender", String(32), nullable=False, index=True),
    Column("role", String(8), nullable=True),  # team, head or office; None: unknown sender
    Column("text", Text, nullable=False),
    Column("action", String(8), nullable=True),  # ack or done, when the text parsed
    Column("code", String(8), nullable=True),
    Column("result", String(16), nullable=False),
    Column("detail", Text, nullable=False),
)

# Census figures entered by the commune office (API or CSV); the latest per village wins over
# the registry file's. Not a registry table: the registry's reload at start-up keeps them.
census_entries = Table(
    "census_entries",
    metadata,
    Column("id", BigInt, primary_key=True, autoincrement=True),
    Column("village_id", String(32), nullable=False, index=True),
    Column("households", Integer, nullable=False),
    Column("main_road_households", Integer, nullable=False),
    Column("main_road_standard_bins", Integer, nullable=False),
    Column("entered_at", Float, nullable=False),
    Column("entered_by", String(64), nullable=False),
    Column("source", String(8), nullable=False),  # "api" or "csv"
    # Local midnight of the day the figures take effect; NULL (entries of the first wave):
    # the day they were entered.
    Column("effective_from", BigInt, nullable=True),
)

# What each gateway last said about itself (backend/gateways.py): its spool's disk full or not.
gateway_states = Table(
    "gateway_states",
    metadata,
    Column("gateway_id", String(32), primary_key=True),
    Column("spool_full", Text, nullable=False),  # why intake is paused, or empty
    Column("spooled", Integer, nullable=False),
    Column("full_since", Float, nullable=True),  # start of the current full episode
    Column("reported_at", Float, nullable=False),
    # why intake looks stuck (messages wait, nothing committed), or empty; added later
    Column("intake_stalled", Text, nullable=False, server_default=""),
)

# Local days that received readings after they were over (a replayed spool, a node's buffer):
# their stored score parts are recomputed (backend/scores/late.py). ``marked_at`` orders a new
# mark after a recompute that had already read the day.
late_days = Table(
    "late_days",
    metadata,
    Column("day", BigInt, primary_key=True, autoincrement=False),  # Unix time of the local midnight
    Column("marked_at", Float, nullable=False),
)

REGISTRY_TABLES = (team_members, teams, devices, places, villages)  # child tables first


class MissingDatabase(FileNotFoundError):
    """A command that reads found no database where the settings point."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no database at {path}")
        self.path = path


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database, or SQLite in memory."""
    database = url.removeprefix("sqlite:///")
    return Path(database) if database not in (url, ":memory:") else None


def make_engine(url: str) -> Engine:
    """An engine on the backend's database, its schema brought to the newest revision
    (``backend/migrations``): every caller, the backend's start first, finds every table."""
    engine = connect(url)
    upgrade(engine)
    return engine


def open_existing(url: str) -> Engine:
    """``make_engine`` on a database that exists already, or ``MissingDatabase``: a command that
    reads (a report, a roll-up) run from the wrong folder must stop, not read a new empty
    database and answer zeros. A server database that does not exist fails to connect."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise MissingDatabase(path)
    return make_engine(url)


def connect(url: str) -> Engine:
    """An engine on the backend's database, as it is (``sangsach db current`` reads it so)."""
    database = sqlite_file(url)
    if database is not None:
        private_sqlite_file(database)  # names, phone numbers, SMS: 0600 in a 0700 folder
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # type: ignore[no-untyped-def]
            cursor = conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine
