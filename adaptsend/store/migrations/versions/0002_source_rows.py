"""Rows queued from a site's own table, and whether their outcome went back.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

revision = "0002"
down_revision: str | None = "0001"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Time = sa.DateTime().with_variant(oracle.TIMESTAMP(), "oracle")


def upgrade() -> None:
    op.create_table(
        "source_rows",
        sa.Column("message_pk", _Id, nullable=False, autoincrement=False),
        sa.Column("source_name", sa.String(64), nullable=False),
        sa.Column("source_key", sa.String(255), nullable=False),
        sa.Column("queued_at", _Time, nullable=False),
        sa.Column("reported_at", _Time, nullable=True),
        sa.PrimaryKeyConstraint("message_pk", name="pk_source_rows"),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], name="fk_source_rows_message_pk"),
        sa.UniqueConstraint("source_name", "source_key", name="uq_source_rows_source_name"),
    )
    op.create_index("ix_source_rows_reported", "source_rows", ["source_name", "reported_at"])


def downgrade() -> None:
    op.drop_table("source_rows")
