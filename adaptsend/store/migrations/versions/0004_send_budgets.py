"""Budgets besides the connection cap: a shared message rate per sending key,
and recipients counted against a daily limit.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

revision = "0004"
down_revision: str | None = "0003"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Time = sa.DateTime().with_variant(oracle.TIMESTAMP(), "oracle")


def upgrade() -> None:
    op.create_table(
        "message_rates",
        sa.Column("sending_key", sa.String(255), nullable=False),
        sa.Column("per_minute", sa.Float(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("refilled_at", _Time, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sending_key", name="pk_message_rates"),
    )
    op.create_table(
        "day_budgets",
        sa.Column("sending_key", sa.String(255), nullable=False),
        sa.Column("day_limit", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _Time, nullable=False),
        sa.PrimaryKeyConstraint("sending_key", name="pk_day_budgets"),
    )
    op.create_table(
        "recipient_charges",
        sa.Column("id", _Id, sa.Identity(), nullable=False),
        sa.Column("sending_key", sa.String(255), nullable=False),
        sa.Column("charged_at", _Time, nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recipient_charges"),
    )
    op.create_index("ix_recipient_charges_key", "recipient_charges", ["sending_key", "charged_at"])


def downgrade() -> None:
    op.drop_index("ix_recipient_charges_key", table_name="recipient_charges")
    op.drop_table("recipient_charges")
    op.drop_table("day_budgets")
    op.drop_table("message_rates")
