"""What a store must offer to count recipients against a daily limit per
sending key, for every agent on it (``[limiter] max_recipients_per_day``,
see ``adaptsend.limits._day_budget``).

Recipients are *charged*: a page of messages is charged to the day before
they are sent, and the recipients the server does not accept are given back
to their charge. A charge counts for :data:`COUNTED_S` from the last time
its agent *renewed* it, on the database's clock: an agent renews each charge
while its messages are being sent, and once more when the last of them has
been judged, so a charge counts for a day after its last message went out,
and a dead agent's charges for a day after it died.

Like the rest of the store, every method blocks and is one short
transaction; charges of one key are made one at a time (each locks the
key's row), so that agents charging at once never charge more than the
limit together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

#: How long a charge counts after its last renewal: a day, and a minute
#: more, since an agent renews its charges a few seconds after they change.
COUNTED_S = 24 * 3600.0 + 60.0


@attrs.frozen(kw_only=True)
class Settlement:
    """What an agent reports of its charges: recipients given back (by
    charge id), and the charges to renew (each counts for a day from now)."""

    given_back: Mapping[int, int] = attrs.field(factory=dict)
    renewed: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.renewed) or any(self.given_back.values())


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
        now; charge nothing when the first does not fit. A charge that no
        longer counts may be written over."""

    def settle_recipients(self, *, settlement: Settlement) -> None:
        """Give recipients back to their charges (never below none), and
        renew charges: each counts from the database's now."""

    def recipient_usage(self) -> list[DayUsage]:
        """The daily budget of every sending key that has one, by key."""
