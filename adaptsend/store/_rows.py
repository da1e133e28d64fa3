"""Conversions between adaptsend's values and the store's rows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from itertools import islice
from json.encoder import encode_basestring_ascii
from typing import Any, TypeVar

from adaptsend._models import (
    FINAL_STATUSES,
    AttemptRecord,
    ClaimedMessage,
    Decision,
    Envelope,
    Reply,
    Stage,
    Status,
)
from adaptsend.store import _schema as s

_QUEUED = Status.QUEUED.value

T = TypeVar("T")
#: Ids per IN list; Oracle refuses more than 1000.
IN_CHUNK = 500
Params = dict[str, Any]
#: A result row. Row's type parameters differ between SQLAlchemy 2.0 and 2.1,
#: and its columns are reached by name anyway.
AnyRow = Any
#: A time as a statement binds it: a datetime, or on the SQLite fast path
#: (``_sqlite_fast``) the text SQLAlchemy would have stored for it.
Stamp = dt.datetime | str

#: The columns of a newly queued message, in the order of ``envelope_row``.
MESSAGE_COLUMNS = (
    "message_id",
    "sending_key",
    "sender",
    "recipients",
    "status",
    "attempts",
    "throttles",
    "next_attempt_at",
    "created_at",
    "updated_at",
)
#: The columns of an attempt row, in the order of ``attempt_row``.
ATTEMPT_COLUMNS = (
    "message_pk",
    "started_at",
    "duration_s",
    "outcome",
    "stage",
    "reply_code",
    "enhanced_code",
    "reply_text",
    "recipient",
    "cap",
    "in_flight",
    "rule",
)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items, so big batches stay bounded."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def clip(text: str | None, length: int) -> str | None:
    """``text`` cut to ``length`` characters: a long reply must not fail a commit."""
    if text is None or len(text) <= length:
        return text
    return text[: length - 1] + "\u2026"


def _check_len(what: str, value: str, length: int) -> None:
    # Truncating these would change where the mail goes, so refuse instead.
    if len(value) > length:
        raise ValueError(f"The {what} {value[:40]!r}... is longer than {length} characters.")


def recipients_json(recipients: Iterable[str]) -> str:
    """The stored form of a list of addresses: what ``json.dumps`` writes for
    it, made without the encoder's set-up, which costs more than the list."""
    return "[" + ", ".join(map(encode_basestring_ascii, recipients)) + "]"


def envelope_row(env: Envelope, *, sending_key: str, now: Stamp) -> tuple[Any, ...]:
    """The row for a newly queued message, due now, in ``MESSAGE_COLUMNS`` order."""
    _check_len("Message-ID", env.message_id, s.MESSAGE_ID_LEN)
    _check_len("sender", env.sender, s.ADDRESS_LEN)
    return (
        env.message_id,
        sending_key,
        env.sender,
        recipients_json(env.recipients),
        _QUEUED,
        0,
        0,
        now,
        now,
        now,
    )


def envelope_params(env: Envelope, *, sending_key: str, now: dt.datetime) -> Params:
    """The row for a newly queued message, due now."""
    row = envelope_row(env, sending_key=sending_key, now=now)
    return dict(zip(MESSAGE_COLUMNS, row, strict=True))


def claimed(row: AnyRow, content: bytes) -> ClaimedMessage:
    """A leased row (id, Message-ID, sender, recipients, attempts, throttles,
    queued at) and its content as the core sees them."""
    pk, message_id, sender, recipients, attempts, throttles, queued_at = row
    envelope = Envelope(
        message_id=message_id,
        sender=sender,
        recipients=tuple(json.loads(recipients)),
        content=content,
    )
    return ClaimedMessage(
        id=pk, envelope=envelope, attempts=attempts, throttles=throttles, queued_at=queued_at
    )


def attempt_row(rec: AttemptRecord, *, started_at: Stamp) -> tuple[Any, ...]:
    """The row for one attempt in ``ATTEMPT_COLUMNS`` order, with over-long
    texts cut to fit; ``started_at`` is ``rec.started_at`` as the statement binds it."""
    reply = rec.reply
    return (
        rec.message_pk,
        started_at,
        rec.duration_s,
        rec.outcome.value,
        reply.stage.value,
        reply.code,
        clip(reply.enhanced, s.CODE_LEN),
        clip(reply.text, s.REPLY_TEXT_LEN),
        clip(rec.recipient, s.ADDRESS_LEN),
        rec.cap,
        rec.in_flight,
        clip(rec.rule, s.RULE_LEN),
    )


def attempt_params(rec: AttemptRecord) -> Params:
    """The row for one attempt, with over-long texts cut to fit."""
    return dict(zip(ATTEMPT_COLUMNS, attempt_row(rec, started_at=rec.started_at), strict=True))


def reply_columns(reply: Reply) -> Params:
    """The ``last_*`` columns of a message for its latest reply."""
    return {
        "last_code": reply.code,
        "last_enhanced": clip(reply.enhanced, s.CODE_LEN),
        "last_text": clip(reply.text, s.REPLY_TEXT_LEN),
        "last_stage": reply.stage.value,
    }


def decision_values(d: Decision, *, now: dt.datetime) -> Params:
    """The columns a decision sets; which ones depends on what it carries."""
    final = d.status in FINAL_STATUSES
    values: Params = {
        "status": d.status.value,
        "attempts": d.attempts,
        "throttles": d.throttles,
        # Final rows have no due time, which keeps them out of the claim index range.
        "next_attempt_at": None if final else (d.next_attempt_at or now),
        "updated_at": now,
        "lease_owner": None,
        "lease_expires_at": None,
    }
    if d.recipients is not None:
        values["recipients"] = recipients_json(d.recipients)
    if d.last_reply is not None:
        values.update(reply_columns(d.last_reply))
    return values


def reply_from(code: int | None, enhanced: str | None, text: str | None, stage: str) -> Reply:
    """A stored reply back as a Reply (some databases store "" as NULL)."""
    return Reply(code=code, enhanced=enhanced or None, text=text or "", stage=Stage(stage))


def last_reply(row: AnyRow) -> Reply | None:
    """The message row's latest reply, if it has had one."""
    if row.last_stage is None:
        return None
    return reply_from(row.last_code, row.last_enhanced, row.last_text, row.last_stage)
