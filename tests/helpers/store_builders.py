"""Small builders shared by the store tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from adaptsend._models import (
    AttemptRecord,
    Decision,
    Envelope,
    Outcome,
    Reply,
    Stage,
    Status,
    utcnow,
)
from adaptsend.store import SQLStore, _clock
from adaptsend.store._cap_change_api import CapChangeRecord, LimitKind
from adaptsend.store._schema import attempts, connection_slots, messages

#: Long enough ago that no database's clock, however far off, is before it.
LONG_AGO = dt.datetime(2000, 1, 1)

KEY = "smtp.example.net:587"
OK = Reply(code=250, text="2.0.0 Ok: queued as 4Bf3", enhanced="2.0.0")
LATER = Reply(code=451, text="4.7.1 Try again later", enhanced="4.7.1", stage=Stage.RCPT)
NO_USER = Reply(code=550, text="5.1.1 No such user", enhanced="5.1.1", stage=Stage.RCPT)


def envelope(i: int, *, recipients: tuple[str, ...] = ("to@example.org",)) -> Envelope:
    return Envelope(
        message_id=f"<{i}@adaptsend.test>",
        sender="news@example.com",
        recipients=recipients,
        content=f"Subject: {i}\r\n\r\nHello {i}\r\n".encode(),
    )


def enqueue(store: SQLStore, n: int, *, key: str = KEY) -> list[int]:
    return store.enqueue([envelope(i) for i in range(n)], sending_key=key)


def later(seconds: float, *, since: dt.datetime | None = None) -> dt.datetime:
    return (since or utcnow()) + dt.timedelta(seconds=seconds)


def attempt(
    pk: int, reply: Reply = OK, outcome: Outcome = Outcome.SENT, **kw: Any
) -> AttemptRecord:
    return AttemptRecord(
        message_pk=pk,
        started_at=kw.pop("started_at", utcnow()),
        duration_s=0.25,
        outcome=outcome,
        reply=reply,
        cap=kw.pop("cap", 4),
        in_flight=kw.pop("in_flight", 2),
        **kw,
    )


def decision(pk: int, status: Status = Status.SENT, **kw: Any) -> Decision:
    return Decision(
        message_pk=pk,
        status=status,
        attempts=kw.pop("attempts", 1),
        throttles=kw.pop("throttles", 0),
        **kw,
    )


def claim_ids(store: SQLStore, *, owner: str = "a", limit: int = 100, **kw: Any) -> list[int]:
    kw.setdefault("lease_s", 60.0)
    kw.setdefault("sending_key", KEY)
    return [c.id for c in store.claim(owner=owner, limit=limit, **kw)]


def message_row(store: SQLStore, pk: int) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(select(messages).where(messages.c.id == pk)).one()


def attempt_rows(store: SQLStore) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(attempts).order_by(attempts.c.id)))


def set_due(store: SQLStore, pk: int, when: dt.datetime) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == pk).values(next_attempt_at=when))


def expire_leases(store: SQLStore, owner: str) -> None:
    """Let ``owner``'s leases run out, as when it died long ago: leases are
    judged on the database's clock, which a test cannot move."""
    mine = (messages.c.lease_owner == owner) & (messages.c.status == "sending")
    with store.engine.begin() as conn:
        conn.execute(
            update(messages).where(mine).values(lease_expires_at=LONG_AGO, next_attempt_at=LONG_AGO)
        )


def expire_slots(store: SQLStore, holder: str, *, key: str = KEY) -> None:
    """Let ``holder``'s slot leases of ``key`` run out (see :func:`expire_leases`)."""
    cs = connection_slots
    with store.engine.begin() as conn:
        conn.execute(
            update(cs)
            .where(cs.c.sending_key == key, cs.c.holder == holder)
            .values(expires_at=LONG_AGO)
        )


def db_now(store: SQLStore) -> dt.datetime:
    """The database's time, as the store judges leases by it."""
    with store.engine.connect() as conn:
        now: dt.datetime = conn.execute(select(_clock.now())).scalar_one()
    return now


def cap_change(
    changed_at: dt.datetime,
    *,
    old: float | None,
    new: float,
    reason: str,
    agent: str = "host:1:a",
    key: str = KEY,
    kind: LimitKind = LimitKind.CONNECTIONS,
    ceiling: float | None = None,
) -> CapChangeRecord:
    """One row of the limits' history, as a limiter records it."""
    return CapChangeRecord(
        sending_key=key,
        agent=agent,
        changed_at=changed_at,
        kind=kind,
        old_value=old,
        new_value=new,
        reason=reason,
        ceiling=ceiling,
    )
