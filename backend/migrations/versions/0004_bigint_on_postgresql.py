"""Whole numbers past 2**31 on PostgreSQL: BIGINT for Unix times, sizes and row ids.

PostgreSQL's INTEGER stops at 2**31 - 1, and the backend stores larger numbers: a reading's time
(the contract takes it to 2**32 - 1), a dead letter's size and count (to 2**31), and looks rows
up by the ids the API takes (to 2**62), which PostgreSQL refused with "integer out of range"
before it could answer "not found". The tables' code uses ``backend.sql.BigInt``; the sequences
of the row ids are widened too. SQLite's INTEGER is 64 bits already: nothing changes there.

Revision ID: 0004
Revises: 0003
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

WIDENED = (
    ("device_state", "ts"),
    ("dead_letters", "payload_bytes"),
    ("dead_letters", "messages"),
    ("census_entries", "effective_from"),
    ("late_days", "day"),
    ("alerts", "id"),
    ("sms_inbound", "id"),
    ("census_entries", "id"),
    ("api_tokens", "id"),
)
# Integer primary keys that revision 0001 made SERIAL; only these count up by themselves.
COUNTED = ("alerts", "sms_inbound", "census_entries", "api_tokens")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in WIDENED:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())
    for table in COUNTED:
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS bigint")
    # late_days.day is a day's time, given, never counted: 0001 made it SERIAL all the same
    op.execute("ALTER TABLE late_days ALTER COLUMN day DROP DEFAULT")
    op.execute("DROP SEQUENCE IF EXISTS late_days_day_seq")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE SEQUENCE late_days_day_seq AS integer OWNED BY late_days.day")
    op.execute("ALTER TABLE late_days ALTER COLUMN day SET DEFAULT nextval('late_days_day_seq')")
    for table in COUNTED:
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS integer")
    for table, column in WIDENED:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
