"""The limits of one sending key for one run, made before the run and handed
to its dispatcher.

Whoever starts a run (the agent) makes them, usually from the configuration
with :func:`make_key_limits`; a caller may hand in others instead (a limiter
with settings of its own, or one that composes several). The dispatcher
listens to their changes once it exists (``watch``, ``join_run``) and enters
their background for the run (:func:`~adaptsend.limits._choice.running`,
:func:`~adaptsend.limits._day_budget.day_running`). They serve one run: a
second run makes new ones, and a second dispatcher given the same ones
raises ValueError.
"""

from __future__ import annotations

import attrs

from adaptsend.config._settings import Config
from adaptsend.limits._choice import Limiter, make_limiter, make_message_rate
from adaptsend.limits._day_budget import RecipientBudget, make_day_budget
from adaptsend.limits._pauses import KeyPauses
from adaptsend.limits._rate_adapt import MessageRate
from adaptsend.limits._shared import SharedLimiter
from adaptsend.store._thread import StoreThread


@attrs.frozen(kw_only=True)
class KeyLimits:
    """What limits the sending of ``sending_key`` in one run of ``owner``."""

    sending_key: str
    #: The run's lease owner name: the shared limiter and the daily budget
    #: name the agent by it in the store, so the dispatcher takes it as its own.
    owner: str
    #: The connection cap.
    limiter: Limiter
    #: Messages a minute (unlimited until a "too fast" reply, or ``[limiter]
    #: max_per_minute``).
    rate: MessageRate
    #: An unreachable server, a quota, a ``Retry-After``, a full day.
    pauses: KeyPauses
    #: The daily recipient budget, if there is one.
    recipients: RecipientBudget | None = None


def make_key_limits(config: Config, store: StoreThread, sending_key: str, owner: str) -> KeyLimits:
    """The limits ``[limiter]`` asks for, for one run of ``owner`` sending as
    ``sending_key``. Raises ConfigError when the store cannot keep what the
    configuration asks it to share or count."""
    pauses = KeyPauses(config, store=store, sending_key=sending_key)
    limiter = make_limiter(config, store, sending_key, owner)
    if isinstance(limiter, SharedLimiter):
        # Agents that share the cap share the server's pauses: its requests
        # count against the same account.
        limiter.share_pause(pauses.retry_after)
    return KeyLimits(
        sending_key=sending_key,
        owner=owner,
        limiter=limiter,
        rate=make_message_rate(config, store, sending_key),
        pauses=pauses,
        recipients=make_day_budget(
            config, store, sending_key, owner, on_full=pauses.day_full, on_room=pauses.day_room
        ),
    )
