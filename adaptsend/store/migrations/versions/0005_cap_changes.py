"""Every change of a sending key's connection cap and message rate.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

revision = "0005"
down_revision: str | None = "0004"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Time = sa.DateTime().with_variant(oracle.TIMESTAMP(), "oracle")


def upgrade() -> None:
    op.create_table(
        "cap_changes",
        sa.Column("id", _Id, sa.Identity(), nullable=False),
        sa.Column("sending_key", sa.String(255), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("changed_at", _Time, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("old_value", sa.Float(), nullable=True),
        sa.Column("new_value", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("ceiling", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cap_changes"),
        sa.CheckConstraint("kind IN ('connections', 'rate')", name="ck_cap_changes_kind"),
    )
    op.create_index("ix_cap_changes_changed_at", "cap_changes", ["changed_at"])
    op.create_index("ix_cap_changes_key_time", "cap_changes", ["sending_key", "changed_at"])


def downgrade() -> None:
    op.drop_index("ix_cap_changes_key_time", table_name="cap_changes")
    op.drop_index("ix_cap_changes_changed_at", table_name="cap_changes")
    op.drop_table("cap_changes")
