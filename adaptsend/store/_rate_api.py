"""What a store must offer so that the agents sending as one key share one
message rate: the token bucket of ``[limiter] max_per_minute``, kept in the
store (see ``adaptsend.limits._shared_rate``).

Like the rest of the store, the method blocks and is one short transaction.
The bucket is refilled on the database's clock, not the agent's: agents whose
clocks disagree still take no more tokens together than the rate allows.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs


@attrs.frozen(kw_only=True)
class TokenGrant:
    """Tokens taken from a shared bucket, or how long until there are enough."""

    granted: int
    #: When none were granted: seconds until the bucket holds the tokens
    #: asked for at least, at its rate. 0 otherwise.
    wait_s: float = 0.0


@runtime_checkable
class RateStore(Protocol):
    def take_tokens(
        self, *, sending_key: str, per_minute: float, least: int, most: int
    ) -> TokenGrant:
        """Refill the bucket of ``sending_key`` up to the database's now, then
        take between ``least`` and ``most`` tokens if it holds ``least``; take
        none otherwise. A bucket not made yet is made full. It refills at the
        ``per_minute`` of the take before (agents sharing a key should be
        given the same figure), and holds
        :func:`adaptsend.limits._rate.bucket_capacity` tokens of this take's
        figure; ``least`` must not be more."""
