"""How long a message waits before its next try."""

from __future__ import annotations

import random

from adaptsend._models import Outcome

#: A throttled message's delay grows at most this many times over the base:
#: the limiter has already cut the cap, so the message should come back soon,
#: but a provider that keeps refusing deserves a little more room.
THROTTLE_MAX_FACTOR = 4

# Past this, 2**n exceeds any sane delay; the cap at max_delay_s applies anyway
# and float powers would overflow.
_MAX_EXPONENT = 64


def retry_delay(
    outcome: Outcome,
    attempts: int,
    *,
    base_delay_s: float,
    max_delay_s: float,
    rng: random.Random,
) -> float:
    """Seconds to wait before trying a message again.

    ``attempts`` counts the tries of this kind so far (1 after the first
    failure). A TRANSIENT failure waits between half and all of
    ``base_delay_s * 2 ** (attempts - 1)``, capped at ``max_delay_s``. A
    message's first THROTTLED try is retried at once (0.0); each later one
    waits between half and one and a half times the base delay, the base
    growing from the second throttle on to at most :data:`THROTTLE_MAX_FACTOR`
    times, also capped at ``max_delay_s``. Other outcomes are never retried and
    raise ValueError.
    """
    _check(attempts, base_delay_s, max_delay_s)
    if outcome is Outcome.TRANSIENT:
        ceiling = min(max_delay_s, base_delay_s * 2.0 ** min(attempts - 1, _MAX_EXPONENT))
        # "Equal" jitter: the lower half is fixed, the upper half random. Full
        # jitter (0 to ceiling) spreads more but sometimes retries at once,
        # hammering a server that just failed; this keeps both spread and a floor.
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)
    if outcome is Outcome.THROTTLED:
        if attempts == 1:
            # The limiter's cut is already the back-off: it lowers the number of
            # connections, and the message did nothing wrong. A wait would only
            # delay it, and in a short batch that wait is the whole run's tail.
            return 0.0
        # Refused again: the provider may keep refusing (a rate limit, or an
        # over-shoot that is not over yet), so from now on the message waits.
        center = base_delay_s * min(2 ** min(attempts - 2, _MAX_EXPONENT), THROTTLE_MAX_FACTOR)
        # Wide jitter around the center so messages refused together by one
        # over-shoot do not come back together and over-shoot again.
        return min(max_delay_s, rng.uniform(center / 2, center * 1.5))
    raise ValueError(f"A {outcome.value} outcome is never retried, so it has no retry delay.")


def _check(attempts: int, base_delay_s: float, max_delay_s: float) -> None:
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}.")
    if not 0.0 < base_delay_s <= max_delay_s:
        raise ValueError(
            f"The delays must satisfy 0 < base_delay_s <= max_delay_s, "
            f"not {base_delay_s} and {max_delay_s}."
        )
