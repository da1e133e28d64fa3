"""Conversions between adaptsend's values and the store's rows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from itertools import islice
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

T = TypeVar("T")
#: Ids per IN list; Oracle refuses more than 1000.
IN_CHUNK = 500
Params = dict[str, Any]
#: A result row. Row's type parameters differ between SQLAlchemy 2.0 and 2.1,
#: and its columns are reached by name anyway.
AnyRow = Any


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


def envelope_params(env: Envelope, *, sending_key: str, now: dt.datetime) -> Params:
    """The row for a newly queued message, due now."""
    _check_len("Message-ID", env.message_id, s.MESSAGE_ID_LEN)
    _check_len("sender", env.sender, s.ADDRESS_LEN)
    return {
        "message_id": env.message_id,
        "sending_key": sending_key,
        "sender": env.sender,
        "recipients": json.dumps(list(env.recipients)),
        "status": Status.QUEUED.value,
        "attempts": 0,
        "throttles": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def claimed(row: AnyRow, content: bytes) -> ClaimedMessage:
    """A leased row and its content as the core sees them."""
    envelope = Envelope(
        message_id=row.message_id,
        sender=row.sender,
        recipients=tuple(json.loads(row.recipients)),
        content=content,
    )
    return ClaimedMessage(
        id=row.id, envelope=envelope, attempts=row.attempts, throttles=row.throttles
    )


def attempt_params(rec: AttemptRecord) -> Params:
    """The row for one attempt, with over-long texts cut to fit."""
    return {
        "message_pk": rec.message_pk,
        "started_at": rec.started_at,
        "duration_s": rec.duration_s,
        "outcome": rec.outcome.value,
        "stage": rec.reply.stage.value,
        "reply_code": rec.reply.code,
        "enhanced_code": clip(rec.reply.enhanced, s.CODE_LEN),
        "reply_text": clip(rec.reply.text, s.REPLY_TEXT_LEN),
        "recipient": clip(rec.recipient, s.ADDRESS_LEN),
        "cap": rec.cap,
        "in_flight": rec.in_flight,
    }


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
        values["recipients"] = json.dumps(list(d.recipients))
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
