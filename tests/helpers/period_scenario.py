"""A store with attempts before, inside and after one period, for the tests
of a report whose period ended in the past (``--until``).

The period is [``SINCE``, ``UNTIL``): from T0 + 100 s to T0 + 200 s. Each
message's attempts, when it was queued and when its row last changed:

====  ===================================  ==========  ======================
msg   attempts (s after T0: outcome, cap)   queued      row now
====  ===================================  ==========  ======================
0     40 quota 8, 50 throttled 8, 60 sent   -50         sent at 60
1     110 quota 2, 120 throttled 2,         90          failed at 150
      150 permanent 3
2     130 transient 3, 205 quota 5,         90          sent at 260
      260 sent 5
3     190 quota 3, 210 throttled 5,         90          sent at 250
      250 sent 5
4     none                                  80          queued, unchanged
5     none                                  300         queued, unchanged
====  ===================================  ==========  ======================

At ``UNTIL``: message 1 had failed in the period, message 0 had ended
before it, messages 2 and 3 (which ended later) and 4 waited, and 5 was
not queued yet. Message 2 was ``retry`` then (its transient attempt
counted), message 3 ``queued`` (a quota reply sends a message back
untouched), message 4 ``queued``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from adaptsend._models import Outcome, Reply, Status
from adaptsend.store import SQLStore
from adaptsend.store._schema import messages
from tests.helpers.store_builders import (
    KEY,
    LATER,
    NO_USER,
    OK,
    attempt,
    claim_ids,
    decision,
    enqueue,
    envelope,
)

T0 = dt.datetime(2026, 3, 1, 22, 0, 0)
SINCE = T0 + dt.timedelta(seconds=100)
UNTIL = T0 + dt.timedelta(seconds=200)
THROTTLE = Reply(code=432, text="Concurrent connections limit exceeded", enhanced="4.3.2")
QUOTA = Reply(code=550, text="Daily user sending quota exceeded", enhanced="5.4.5")
_REPLIES = {
    Outcome.THROTTLED: THROTTLE,
    Outcome.QUOTA: QUOTA,
    Outcome.TRANSIENT: LATER,
    Outcome.PERMANENT: NO_USER,
}
#: Per message: (seconds after T0, outcome, cap) of each attempt.
ATTEMPTS = (
    ((40, Outcome.QUOTA, 8), (50, Outcome.THROTTLED, 8), (60, Outcome.SENT, 8)),
    ((110, Outcome.QUOTA, 2), (120, Outcome.THROTTLED, 2), (150, Outcome.PERMANENT, 3)),
    ((130, Outcome.TRANSIENT, 3), (205, Outcome.QUOTA, 5), (260, Outcome.SENT, 5)),
    ((190, Outcome.QUOTA, 3), (210, Outcome.THROTTLED, 5), (250, Outcome.SENT, 5)),
)
#: Per message: (queued, row last changed), in seconds after T0.
TIMES = ((-50, 60), (90, 150), (90, 260), (90, 250), (80, 80), (300, 300))


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def write_period(store: SQLStore) -> list[int]:
    """Write the messages and attempts of the table above; their ids in order."""
    ended = enqueue(store, 4)
    claim_ids(store, limit=4)
    store.record(
        [
            attempt(pk, _REPLIES.get(outcome, OK), outcome, started_at=at(s), cap=cap)
            for pk, tries in zip(ended, ATTEMPTS, strict=True)
            for s, outcome, cap in tries
        ],
        [
            decision(ended[0]),
            decision(ended[1], Status.FAILED, last_reply=NO_USER),
            decision(ended[2]),
            decision(ended[3]),
        ],
        owner="a",
    )
    ids = ended + store.enqueue([envelope(4), envelope(5)], sending_key=KEY)
    with store.engine.begin() as conn:
        for pk, (queued, changed) in zip(ids, TIMES, strict=True):
            conn.execute(
                update(messages)
                .where(messages.c.id == pk)
                .values(created_at=at(queued), updated_at=at(changed))
            )
    return ids
