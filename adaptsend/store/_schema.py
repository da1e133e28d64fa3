"""The log store's tables, written once for SQLite, PostgreSQL and Oracle.

Names avoid Oracle's reserved words and stay within its 30-character limit,
every string has a length, and primary keys use ``Identity()`` so that each
database makes them its own way.

``messages.next_attempt_at`` is the moment a row may next be claimed: the
retry time for ``queued``/``retry`` rows, the lease expiry for ``sending``
rows, and NULL once a message is final. Keeping that one column up to date
lets a claim be a single range scan of ``ix_messages_due`` in due order, however
many rows are already final.

These definitions describe the newest revision; a database gets there through
the Alembic revisions in ``adaptsend/store/migrations``, which spell out each
change as it was made. A change here therefore needs a new revision too (a test
compares the two).

The message bytes live in ``message_contents``, apart from the row that
changes on every claim and decision: databases rewrite a whole row when it
changes size, and rewriting the content twice per send would make large
messages the bottleneck.

``sending_budgets`` and ``connection_slots`` let several agents share one
connection cap per sending key (see ``adaptsend.limits._shared``): the cap
and what the limiter learned, and one row per connection an agent may hold.
Both are small (one row per key, ``max_cap`` rows per key) and every query of
them goes through their primary keys.

``cap_changes`` is the history of the limits: one row per decision to change a
sending key's connection cap or message rate, written by the agent that made
it. Decisions are rare, so the table stays small; ``db purge`` trims it.

``message_rates`` is the token bucket of ``[limiter] max_per_minute`` that
those agents share (see ``adaptsend.limits._shared_rate``); ``day_budgets`` and
``recipient_charges`` count recipients against ``[limiter]
max_recipients_per_day`` (see ``adaptsend.limits._day_budget``): one row per key,
and one per grant of recipients, kept for a day.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import oracle

from adaptsend._models import Status
from adaptsend.store._cap_change_api import LimitKind
from adaptsend.store._source_api import MAX_KEY_LEN

#: Longest stored reply text; longer ones are cut rather than refused.
REPLY_TEXT_LEN = 1000
ADDRESS_LEN = 320
MESSAGE_ID_LEN = 255
SENDING_KEY_LEN = 255
OWNER_LEN = 64
CODE_LEN = 16
SOURCE_NAME_LEN = 64
SOURCE_KEY_LEN = MAX_KEY_LEN
#: Longest stored rule name; a site pattern's name holds the pattern, and a
#: longer one is cut.
RULE_LEN = 255

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
    }
)

# SQLite only makes an INTEGER PRIMARY KEY an auto-numbered rowid alias.
_Id = BigInteger().with_variant(Integer(), "sqlite")
# Oracle's DATE, its default for DateTime, drops fractions of a second.
_Time = DateTime().with_variant(oracle.TIMESTAMP(), "oracle")

_status_values = ", ".join(f"'{s.value}'" for s in Status)

messages = Table(
    "messages",
    metadata,
    Column("id", _Id, Identity(), primary_key=True),
    Column("message_id", String(MESSAGE_ID_LEN), nullable=False),
    Column("sending_key", String(SENDING_KEY_LEN), nullable=False),
    Column("sender", String(ADDRESS_LEN), nullable=False),
    # A JSON list: the recipients still to be tried.
    Column("recipients", Text(), nullable=False),
    Column("status", String(CODE_LEN), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("throttles", Integer(), nullable=False),
    Column("next_attempt_at", _Time, nullable=True),
    Column("created_at", _Time, nullable=False),
    Column("updated_at", _Time, nullable=False),
    Column("lease_owner", String(OWNER_LEN), nullable=True),
    Column("lease_expires_at", _Time, nullable=True),
    Column("last_code", Integer(), nullable=True),
    Column("last_enhanced", String(CODE_LEN), nullable=True),
    Column("last_text", String(REPLY_TEXT_LEN), nullable=True),
    Column("last_stage", String(CODE_LEN), nullable=True),
    CheckConstraint(f"status IN ({_status_values})", name="status"),
)

# The claim: equality on the key, then a range on the due time, in due order.
Index("ix_messages_due", messages.c.sending_key, messages.c.next_attempt_at, messages.c.id)
# Releasing all of one agent's leases.
Index("ix_messages_lease_owner", messages.c.lease_owner)
# Counts per status and requeueing final messages changed since a time.
Index("ix_messages_status", messages.c.status, messages.c.updated_at)

#: The RFC 5322 bytes of each message, fixed when it is queued.
message_contents = Table(
    "message_contents",
    metadata,
    # Not auto-numbered: it is the id of the message row.
    Column("message_pk", _Id, ForeignKey("messages.id"), primary_key=True, autoincrement=False),
    Column("content", LargeBinary(), nullable=False),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", _Id, Identity(), primary_key=True),
    Column("message_pk", _Id, ForeignKey("messages.id"), nullable=False),
    Column("started_at", _Time, nullable=False),
    Column("duration_s", Float(), nullable=False),
    Column("outcome", String(CODE_LEN), nullable=False),
    Column("stage", String(CODE_LEN), nullable=False),
    Column("reply_code", Integer(), nullable=True),
    Column("enhanced_code", String(CODE_LEN), nullable=True),
    Column("reply_text", String(REPLY_TEXT_LEN), nullable=True),
    # Set when one recipient was refused inside an accepted transaction.
    Column("recipient", String(ADDRESS_LEN), nullable=True),
    Column("cap", Integer(), nullable=False),
    Column("in_flight", Integer(), nullable=False),
    # The rule that decided the outcome (docs/replies.md); NULL for attempts
    # recorded before revision 0006.
    Column("rule", String(RULE_LEN), nullable=True),
)

Index("ix_attempts_message_pk", attempts.c.message_pk)
Index("ix_attempts_started_at", attempts.c.started_at)

#: Which row of a site's table each message came from, so that a row is queued
#: once however often the site's query returns it, and whether its outcome has
#: been written back to the site.
source_rows = Table(
    "source_rows",
    metadata,
    Column("message_pk", _Id, ForeignKey("messages.id"), primary_key=True, autoincrement=False),
    Column("source_name", String(SOURCE_NAME_LEN), nullable=False),
    # The site's key as JSON, so that 7 and "7" stay different keys.
    Column("source_key", String(SOURCE_KEY_LEN), nullable=False),
    Column("queued_at", _Time, nullable=False),
    Column("reported_at", _Time, nullable=True),
    UniqueConstraint("source_name", "source_key"),
)

# Outcomes not yet written back, per source.
Index("ix_source_rows_reported", source_rows.c.source_name, source_rows.c.reported_at)

#: The connection cap that the agents sending as one key share, and what the
#: limiter has learned about the provider's limit (see ``adaptsend.limits._policy``).
sending_budgets = Table(
    "sending_budgets",
    metadata,
    Column("sending_key", String(SENDING_KEY_LEN), primary_key=True),
    Column("cap", Integer(), nullable=False),
    Column("ceiling", Integer(), nullable=True),
    # A cut starts a new epoch; a throttle from an older epoch is not counted.
    Column("epoch", Integer(), nullable=False),
    # Bumped by every change: writers compare it and set it, so that two
    # agents deciding from the same state cannot both apply their decision.
    Column("version", Integer(), nullable=False),
    Column("probe_interval_s", Float(), nullable=False),
    Column("last_cut_at", _Time, nullable=True),
    # The latest decision, so that every agent can report it as its maker did.
    Column("last_reason", String(CODE_LEN), nullable=True),
    Column("last_observed", Integer(), nullable=True),
    Column("updated_at", _Time, nullable=False),
    # The latest agent that found no free slot, and how many it held then:
    # agents holding more give one back, so that no agent waits for long.
    Column("wanted_by", String(OWNER_LEN), nullable=True),
    Column("wanted_held", Integer(), nullable=True),
    Column("wanted_at", _Time, nullable=True),
    # The key's pause at the server's word (``Retry-After``), for every agent,
    # and the probes held back after it. Each only ever moves later, written
    # by a statement of its own: never by a decision's write of the row.
    Column("paused_until", _Time, nullable=True),
    Column("probes_held_until", _Time, nullable=True),
)

#: The right to hold one connection of a sending key: slot ``n`` may be used
#: while ``n`` is below the shared cap. A free slot has no holder; a holder's
#: lease runs out at ``expires_at`` unless renewed, so a dead agent's slots
#: come back. ``proven_at`` is set once the slot's connection has delivered.
connection_slots = Table(
    "connection_slots",
    metadata,
    Column("sending_key", String(SENDING_KEY_LEN), primary_key=True),
    Column("slot_no", Integer(), primary_key=True, autoincrement=False),
    Column("holder", String(OWNER_LEN), nullable=True),
    Column("expires_at", _Time, nullable=True),
    Column("proven_at", _Time, nullable=True),
)

_limit_kinds = ", ".join(f"'{k.value}'" for k in LimitKind)

#: Every decision to change a limit (see ``adaptsend.store._cap_change_api``).
cap_changes = Table(
    "cap_changes",
    metadata,
    Column("id", _Id, Identity(), primary_key=True),
    Column("sending_key", String(SENDING_KEY_LEN), nullable=False),
    Column("agent", String(OWNER_LEN), nullable=False),
    Column("changed_at", _Time, nullable=False),
    Column("kind", String(CODE_LEN), nullable=False),
    # Connections, or messages a minute; NULL for a rate that was unlimited.
    Column("old_value", Float(), nullable=True),
    Column("new_value", Float(), nullable=False),
    Column("reason", String(CODE_LEN), nullable=False),
    Column("ceiling", Float(), nullable=True),
    CheckConstraint(f"kind IN ({_limit_kinds})", name="kind"),
)

# A period of every key (and the purge), and a period of one key.
Index("ix_cap_changes_changed_at", cap_changes.c.changed_at)
Index("ix_cap_changes_key_time", cap_changes.c.sending_key, cap_changes.c.changed_at)

#: The message-rate token bucket that the agents sending as one key share:
#: ``tokens`` as they were at ``refilled_at`` (the database's time), refilled
#: at ``per_minute / 60`` a second up to half a second's worth.
message_rates = Table(
    "message_rates",
    metadata,
    Column("sending_key", String(SENDING_KEY_LEN), primary_key=True),
    Column("per_minute", Float(), nullable=False),
    Column("tokens", Float(), nullable=False),
    Column("refilled_at", _Time, nullable=False),
    # Bumped by every take: the first statement of a take locks the row.
    Column("version", Integer(), nullable=False),
)

#: The daily recipient budget of a sending key: the limit the latest agent
#: was given, and a row that each charge locks, so that agents charging at
#: once see each other's charges.
day_budgets = Table(
    "day_budgets",
    metadata,
    Column("sending_key", String(SENDING_KEY_LEN), primary_key=True),
    Column("day_limit", Integer(), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("updated_at", _Time, nullable=False),
)

#: Recipients taken from a key's daily budget, one row per grant (a few
#: dozen recipients at a time), less those given back; a row counts for a
#: day after ``charged_at`` (the database's time).
recipient_charges = Table(
    "recipient_charges",
    metadata,
    Column("id", _Id, Identity(), primary_key=True),
    Column("sending_key", String(SENDING_KEY_LEN), nullable=False),
    Column("charged_at", _Time, nullable=False),
    Column("recipients", Integer(), nullable=False),
)

# The charges of one key in the last day.
Index(
    "ix_recipient_charges_key",
    recipient_charges.c.sending_key,
    recipient_charges.c.charged_at,
)
