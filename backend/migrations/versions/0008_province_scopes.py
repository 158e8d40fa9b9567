"""A province of communes in one installation: each village names its commune, and a token or a
web session may be scoped to one commune (``sangsach/province_file.py``, docs/province.md).

NULL scope: the whole installation (the province's office, or a lone commune's).

Revision ID: 0008
Revises: 0007
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("villages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commune_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_villages_commune_id"), ["commune_id"], unique=False)
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=32), nullable=True))
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("scope")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("scope")
    with op.batch_alter_table("villages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_villages_commune_id"))
        batch_op.drop_column("commune_id")
