"""Citizens' reports: one ticket per report by SMS or the public form
(``backend/citizens/store.py``).

Revision ID: 0006
Revises: 0005
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizen_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=True),
        sa.Column("device_id", sa.String(length=48), nullable=True),
        sa.Column("place_id", sa.String(length=32), nullable=True),
        sa.Column("village_id", sa.String(length=32), nullable=True),
        sa.Column("alert_id", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("closed_at", sa.Float(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_citizen_reports_created_at", "citizen_reports", ["created_at"])
    op.create_index("ix_citizen_reports_phone", "citizen_reports", ["phone"])
    op.create_index("ix_citizen_reports_village_id", "citizen_reports", ["village_id"])
    op.create_index(
        "ix_citizen_reports_status_created", "citizen_reports", ["status", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_citizen_reports_status_created", table_name="citizen_reports")
    op.drop_index("ix_citizen_reports_village_id", table_name="citizen_reports")
    op.drop_index("ix_citizen_reports_phone", table_name="citizen_reports")
    op.drop_index("ix_citizen_reports_created_at", table_name="citizen_reports")
    op.drop_table("citizen_reports")
