"""The rule that decided each attempt's outcome.

Revision ID: 0006
Revises: 0005

Attempts recorded before keep NULL: which rule decided them was not kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A nullable column without a default: every database adds it without
    # rewriting the attempts already there.
    op.add_column("attempts", sa.Column("rule", sa.String(255), nullable=True))


def downgrade() -> None:
    # A batch, so that SQLite versions without DROP COLUMN copy the table.
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("rule")
