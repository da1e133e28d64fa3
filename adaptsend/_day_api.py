"""What a store must offer to count recipients against a daily limit per
sending key, for every agent on it (``[limiter] max_recipients_per_day``,
see ``adaptsend._day_budget``).

Recipients are *charged*: a page of messages is charged to the day before
they are sent, the recipients the server does not accept are given back to
their charge, and once every message of a charge has been judged it is
*finished*: it counts from then. A charge counts for :data:`COUNTED_S`
after it was made or finished, on the database's clock.

Like the rest of the store, every method blocks and is one short
transaction; charges of one key are made one at a time (each locks the
key's row), so that agents charging at once never charge more than the
limit together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

#: How long a charge counts: a day from its last message's judgement, and a
#: minute more, since the agent says a charge is finished a few seconds
#: after that.
COUNTED_S = 24 * 3600.0 + 60.0


@attrs.frozen(kw_only=True)
class Settlement:
    """What an agent reports of its charges: recipients given back (by
    charge id), and charges whose messages have all been judged."""

    given_back: Mapping[int, int] = attrs.field(factory=dict)
    finished: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.finished) or any(self.given_back.values())


@attrs.frozen(kw_only=True)
class RecipientGrant:
    """A charge for the first messages of a page, or how long until one fits."""

    #: The charge to give recipients back to; None when no message fit.
    charge_id: int | None
    #: How many messages, from the first, the charge covers.
    messages: int
    #: Their recipients.
    granted: int
    #: Recipients counted for the key now, this charge included.
    used: int
    #: When no message fit: seconds until the first one does, as the oldest
    #: charges stop counting. 0 otherwise.
    wait_s: float = 0.0


@attrs.frozen(kw_only=True)
class DayUsage:
    """How much of a sending key's daily recipient budget is used."""

    sending_key: str
    #: Recipients counted now: accepted in the last day, and charged for
    #: the messages agents are sending.
    used: int
    #: The limit the latest agent to charge was given.
    day_limit: int


@runtime_checkable
class RecipientStore(Protocol):
    def charge_recipients(
        self,
        *,
        sending_key: str,
        day_limit: int,
        sizes: Sequence[int],
        settlement: Settlement,
    ) -> RecipientGrant:
        """Apply ``settlement`` first, then charge the recipients of the
        longest run of messages, from the first, whose recipients (``sizes``,
        each at most ``day_limit``) fit in ``day_limit`` beside those counted
        now; charge nothing when the first does not fit. Forgets charges
        that no longer count."""

    def settle_recipients(self, *, settlement: Settlement) -> None:
        """Give recipients back to their charges (never below none), and
        finish charges: each counts from the database's now."""

    def recipient_usage(self) -> list[DayUsage]:
        """The daily budget of every sending key that has one, by key."""
