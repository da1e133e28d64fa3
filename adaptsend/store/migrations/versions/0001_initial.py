"""The initial tables: messages, their contents, and every attempt.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

revision = "0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

# SQLite only makes an INTEGER PRIMARY KEY an auto-numbered rowid alias.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Oracle's DATE drops fractions of a second.
_Time = sa.DateTime().with_variant(oracle.TIMESTAMP(), "oracle")
_STATUSES = "'queued', 'sending', 'retry', 'sent', 'failed', 'dead'"


def upgrade() -> None:
    _messages()
    op.create_table(
        "message_contents",
        sa.Column("message_pk", _Id, nullable=False, autoincrement=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("message_pk", name="pk_message_contents"),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name="fk_message_contents_message_pk"
        ),
    )
    _attempts()


def _messages() -> None:
    op.create_table(
        "messages",
        sa.Column("id", _Id, sa.Identity(), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("sending_key", sa.String(255), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("throttles", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _Time, nullable=True),
        sa.Column("created_at", _Time, nullable=False),
        sa.Column("updated_at", _Time, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", _Time, nullable=True),
        sa.Column("last_code", sa.Integer(), nullable=True),
        sa.Column("last_enhanced", sa.String(16), nullable=True),
        sa.Column("last_text", sa.String(1000), nullable=True),
        sa.Column("last_stage", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name="ck_messages_status"),
    )
    op.create_index("ix_messages_due", "messages", ["sending_key", "next_attempt_at", "id"])
    op.create_index("ix_messages_lease_owner", "messages", ["lease_owner"])
    op.create_index("ix_messages_status", "messages", ["status", "updated_at"])


def _attempts() -> None:
    op.create_table(
        "attempts",
        sa.Column("id", _Id, sa.Identity(), nullable=False),
        sa.Column("message_pk", _Id, nullable=False),
        sa.Column("started_at", _Time, nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("reply_code", sa.Integer(), nullable=True),
        sa.Column("enhanced_code", sa.String(16), nullable=True),
        sa.Column("reply_text", sa.String(1000), nullable=True),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column("cap", sa.Integer(), nullable=False),
        sa.Column("in_flight", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_attempts"),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], name="fk_attempts_message_pk"),
    )
    op.create_index("ix_attempts_message_pk", "attempts", ["message_pk"])
    op.create_index("ix_attempts_started_at", "attempts", ["started_at"])


def downgrade() -> None:
    op.drop_table("attempts")
    op.drop_table("message_contents")
    op.drop_table("messages")
