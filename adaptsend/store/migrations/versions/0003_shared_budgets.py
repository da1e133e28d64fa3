"""The connection cap that several agents sending as one key share.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

revision = "0003"
down_revision: str | None = "0002"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

_Time = sa.DateTime().with_variant(oracle.TIMESTAMP(), "oracle")


def upgrade() -> None:
    op.create_table(
        "sending_budgets",
        sa.Column("sending_key", sa.String(255), nullable=False),
        sa.Column("cap", sa.Integer(), nullable=False),
        sa.Column("ceiling", sa.Integer(), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("probe_interval_s", sa.Float(), nullable=False),
        sa.Column("last_cut_at", _Time, nullable=True),
        sa.Column("last_reason", sa.String(16), nullable=True),
        sa.Column("last_observed", sa.Integer(), nullable=True),
        sa.Column("updated_at", _Time, nullable=False),
        sa.Column("wanted_by", sa.String(64), nullable=True),
        sa.Column("wanted_held", sa.Integer(), nullable=True),
        sa.Column("wanted_at", _Time, nullable=True),
        sa.PrimaryKeyConstraint("sending_key", name="pk_sending_budgets"),
    )
    op.create_table(
        "connection_slots",
        sa.Column("sending_key", sa.String(255), nullable=False),
        sa.Column("slot_no", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("expires_at", _Time, nullable=True),
        sa.Column("proven_at", _Time, nullable=True),
        sa.PrimaryKeyConstraint("sending_key", "slot_no", name="pk_connection_slots"),
    )


def downgrade() -> None:
    op.drop_table("connection_slots")
    op.drop_table("sending_budgets")
