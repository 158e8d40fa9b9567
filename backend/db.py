"""SQL tables of the backend (SQLAlchemy Core): registry, device state and dead letters.

SQLite by default, PostgreSQL by URL. The registry tables are a copy of the registry file,
replaced whole at start-up; device state and dead letters are the backend's own.
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
    Column("ts", Integer, nullable=True),  # time of the latest reading
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
    Column("payload_bytes", Integer, nullable=False),
)

REGISTRY_TABLES = (team_members, teams, devices, places, villages)  # child tables first


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # type: ignore[no-untyped-def]
            cursor = conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    metadata.create_all(engine)
    return engine
