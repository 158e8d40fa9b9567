"""Baseline: the schema of the last release without migrations, written out.

A new database gets every table and index below. A database that release (or an earlier one)
made has tables but no ``alembic_version``: the tables it lacks are created, and the columns
and indexes that ``create_all`` never added to an existing table (``dead_letters.messages``,
``gateway_states.intake_stalled``, ``census_entries.effective_from``, ...) are added, so that
every database leaves this revision in the same shape. Nothing is dropped or changed.

The tables are a frozen copy, not ``backend.db.metadata``: a later change to the code's tables
is a later revision, and never changes what this one does.

Revision ID: 0001
Revises:
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import CreateColumn

from sangsach.backend.migrations import MigrationError

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

baseline = sa.MetaData()

sa.Table(
    "villages",
    baseline,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(60), nullable=False),
    sa.Column("head_name", sa.String(60), nullable=False),
    sa.Column("head_phone", sa.String(16), nullable=False),
    sa.Column("households", sa.Integer, nullable=False),
    sa.Column("main_road_households", sa.Integer, nullable=False),
    sa.Column("main_road_standard_bins", sa.Integer, nullable=False),
    sa.Column("lighting", sa.JSON, nullable=True),
)
sa.Table(
    "places",
    baseline,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "village_id", sa.String(32), sa.ForeignKey("villages.id"), nullable=False, index=True
    ),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("name", sa.String(60), nullable=False),
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("households_served", sa.Integer, nullable=True),
)
sa.Table(
    "devices",
    baseline,
    sa.Column("id", sa.String(48), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column(
        "village_id", sa.String(32), sa.ForeignKey("villages.id"), nullable=False, index=True
    ),
    sa.Column("place_id", sa.String(32), sa.ForeignKey("places.id"), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("depth_cm", sa.Float, nullable=True),
    sa.Column("watts", sa.Integer, nullable=True),
)
sa.Table(
    "teams",
    baseline,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(60), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("villages", sa.JSON, nullable=False),
)
sa.Table(
    "team_members",
    baseline,
    sa.Column("team_id", sa.String(32), sa.ForeignKey("teams.id"), primary_key=True),
    sa.Column("phone", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(60), nullable=False),
)
sa.Table(
    "device_state",
    baseline,
    sa.Column("device_id", sa.String(48), primary_key=True),
    sa.Column("ts", sa.Integer, nullable=True),
    sa.Column("boot", sa.Integer, nullable=True),
    sa.Column("seq", sa.Integer, nullable=True),
    sa.Column("synced", sa.Boolean, nullable=True),
    sa.Column("values", sa.JSON, nullable=True),
    sa.Column("last_seen", sa.Float, nullable=True),
    sa.Column("online", sa.Boolean, nullable=True),
    sa.Column("status_at", sa.Float, nullable=True),
    sa.Column("fw", sa.String(32), nullable=True),
)
sa.Table(
    "dead_letters",
    baseline,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("received_at", sa.Float, nullable=False, index=True),
    sa.Column("gateway", sa.String(32), nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("device_id", sa.String(64), nullable=True, index=True),
    sa.Column("reason", sa.String(32), nullable=False, index=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("payload_bytes", sa.Integer, nullable=False),
    sa.Column("messages", sa.Integer, nullable=False, server_default="1"),
)
sa.Table(
    "sms_outbox",
    baseline,
    sa.Column("id", sa.String(160), primary_key=True),
    sa.Column("to", sa.String(16), nullable=False, index=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("encoding", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("alert_id", sa.String(32), nullable=True, index=True),
    sa.Column("status", sa.String(8), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.Float, nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("sent_at", sa.Float, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("provider_ref", sa.String(128), nullable=True),
)
sa.Table(
    "sms_inbound",
    baseline,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.Float, nullable=False, index=True),
    sa.Column("sender", sa.String(32), nullable=False, index=True),
    sa.Column("role", sa.String(8), nullable=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("action", sa.String(8), nullable=True),
    sa.Column("code", sa.String(8), nullable=True),
    sa.Column("result", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)
sa.Table(
    "census_entries",
    baseline,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("village_id", sa.String(32), nullable=False, index=True),
    sa.Column("households", sa.Integer, nullable=False),
    sa.Column("main_road_households", sa.Integer, nullable=False),
    sa.Column("main_road_standard_bins", sa.Integer, nullable=False),
    sa.Column("entered_at", sa.Float, nullable=False),
    sa.Column("entered_by", sa.String(64), nullable=False),
    sa.Column("source", sa.String(8), nullable=False),
    sa.Column("effective_from", sa.Integer, nullable=True),
)
sa.Table(
    "gateway_states",
    baseline,
    sa.Column("gateway_id", sa.String(32), primary_key=True),
    sa.Column("spool_full", sa.Text, nullable=False),
    sa.Column("spooled", sa.Integer, nullable=False),
    sa.Column("full_since", sa.Float, nullable=True),
    sa.Column("reported_at", sa.Float, nullable=False),
    sa.Column("intake_stalled", sa.Text, nullable=False, server_default=""),
)
sa.Table(
    "late_days",
    baseline,
    sa.Column("day", sa.Integer, primary_key=True),
    sa.Column("marked_at", sa.Float, nullable=False),
)
alerts = sa.Table(
    "alerts",
    baseline,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(48), nullable=False, index=True),
    sa.Column("type", sa.String(24), nullable=False),
    sa.Column("village_id", sa.String(32), nullable=False, index=True),
    sa.Column("state", sa.String(24), nullable=False, index=True),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("opened_at", sa.Float, nullable=False),
    sa.Column("raised_at", sa.Float, nullable=False),
    sa.Column("acked_at", sa.Float),
    sa.Column("acked_by", sa.String(64)),
    sa.Column("done_at", sa.Float),
    sa.Column("done_by", sa.String(64)),
    sa.Column("cleared_at", sa.Float),
    sa.Column("collected_at", sa.Float),
    sa.Column("notified_at", sa.Float),
    sa.Column("notified_level", sa.Integer),
    sa.Column("next_notice_at", sa.Float, index=True),
    sa.Column("reminders", sa.Integer, nullable=False),
    sa.Column("assigned_to", sa.String(64)),
    sa.Column("note", sa.Text),
)
sa.Index(
    "one_active_alert",
    alerts.c.device_id,
    alerts.c.type,
    unique=True,
    sqlite_where=alerts.c.state != "cleared",
    postgresql_where=alerts.c.state != "cleared",
)
sa.Table(
    "alert_tracks",
    baseline,
    sa.Column("device_id", sa.String(48), primary_key=True),
    sa.Column("track", sa.JSON, nullable=False),
)
sa.Table(
    "api_tokens",
    baseline,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
)


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for table in baseline.sorted_tables:
        if table.name in existing:
            _complete(bind, table)
        else:
            table.create(bind)  # with its indexes


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(baseline.sorted_tables):
        table.drop(bind)


def _complete(bind: sa.Connection, table: sa.Table) -> None:
    """Add to a table an earlier release made the columns and indexes it was given later."""
    inspector = sa.inspect(bind)
    have = {column["name"] for column in inspector.get_columns(table.name)}
    for column in table.columns:
        if column.name in have:
            continue
        if not column.nullable and column.server_default is None:
            raise MigrationError(
                f"{table.name}.{column.name} cannot be added to the rows of an existing table: "
                "it is NOT NULL without a default"
            )
        definition = CreateColumn(column).compile(dialect=bind.dialect)
        op.execute(
            f"ALTER TABLE {bind.dialect.identifier_preparer.format_table(table)} ADD COLUMN {definition}"
        )
    indexes = {index["name"] for index in inspector.get_indexes(table.name)}
    for index in table.indexes:
        if index.name not in indexes:
            index.create(bind)
