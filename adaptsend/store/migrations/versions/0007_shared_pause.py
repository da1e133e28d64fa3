"""A sending key's Retry-After pause, shared by the agents on the store.

Revision ID: 0007
Revises: 0006

Budgets made before keep NULL in both: no pause, no probes held back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

revision = "0007"
down_revision: str | None = "0006"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

_COLUMNS = ("paused_until", "probes_held_until")
# As the store's other times: TIMESTAMP on Oracle, whose DATE has no fractions.
_Time = sa.DateTime().with_variant(oracle.TIMESTAMP(), "oracle")


def upgrade() -> None:
    # Nullable columns without a default: every database adds them without
    # rewriting the rows already there.
    for name in _COLUMNS:
        op.add_column("sending_budgets", sa.Column(name, _Time, nullable=True))


def downgrade() -> None:
    # A batch, so that SQLite versions without DROP COLUMN copy the table.
    with op.batch_alter_table("sending_budgets") as batch:
        for name in _COLUMNS:
            batch.drop_column(name)
