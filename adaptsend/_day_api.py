"""What a store must offer to count recipients against a daily limit per
sending key, for every agent on it (``[limiter] max_recipients_per_day``,
see ``adaptsend._day_budget``).

Recipients are *charged*: taken from the day's budget in grants, before the
messages that use them are sent, and the ones no message used (or that the
server did not accept) are given back to their charge. A charge counts for
:data:`COUNTED_S` after it was made, on the database's clock.

Like the rest of the store, every method blocks and is one short
transaction; charges of one key are made one at a time (each locks the key's
row), so that agents charging at once never grant more than the limit
together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import attrs

#: How long a charge counts: a day, and two minutes more, since the messages
#: of a grant are sent within a minute of it (and each takes a moment to be
#: accepted), and the provider counts each for a whole day from then.
COUNTED_S = 24 * 3600.0 + 120.0


@attrs.frozen(kw_only=True)
class RecipientGrant:
    """Recipients charged to a key's daily budget, or how long until they fit."""

    #: The charge to give unused recipients back to; None when none were granted.
    charge_id: int | None
    granted: int
    #: Recipients counted for the key now, this grant included.
    used: int
    #: When none were granted: seconds until the recipients asked for at
    #: least fit, as the oldest charges stop counting. 0 otherwise.
    wait_s: float = 0.0


@attrs.frozen(kw_only=True)
class DayUsage:
    """How much of a sending key's daily recipient budget is used."""

    sending_key: str
    #: Recipients counted now: accepted in the last day, and held by agents
    #: for the messages they are sending.
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
        least: int,
        most: int,
        give_back: Mapping[int, int],
    ) -> RecipientGrant:
        """Give ``give_back`` back first (recipients by charge id), then
        charge between ``least`` and ``most`` recipients to ``sending_key``
        if ``least`` fit in ``day_limit`` beside the recipients counted now;
        none otherwise. Forgets charges that no longer count."""

    def give_back_recipients(self, *, give_back: Mapping[int, int]) -> None:
        """Give recipients back to their charges (by charge id); a charge
        never goes below none."""

    def recipient_usage(self) -> list[DayUsage]:
        """The daily budget of every sending key that has one, by key."""
