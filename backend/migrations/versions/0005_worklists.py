"""The crews' daily work lists and their stops (``backend/worklists/store.py``).

Revision ID: 0005
Revises: 0004
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worklists",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("team_name", sa.String(length=60), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("made_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.Column("depot_lat", sa.Float(), nullable=False),
        sa.Column("depot_lon", sa.Float(), nullable=False),
        sa.Column("points_total", sa.Integer(), nullable=False),
        sa.Column("points_known", sa.Integer(), nullable=False),
        sa.Column("route_m", sa.Integer(), nullable=False),
        sa.Column("reference_m", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "day", name="uq_worklists_team_day"),
    )
    op.create_table(
        "worklist_stops",
        sa.Column("worklist_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("place_id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("village_name", sa.String(length=40), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=12), nullable=False),
        sa.Column("fill_pct", sa.Float(), nullable=True),
        sa.Column("full_at", sa.Float(), nullable=True),
        sa.Column("done_at", sa.Float(), nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["worklist_id"], ["worklists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("worklist_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("worklist_stops")
    op.drop_table("worklists")
