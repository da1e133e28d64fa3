"""A snapshot of what a test server has seen."""

from __future__ import annotations

import json

import attrs


@attrs.frozen(kw_only=True)
class ServerStatistics:
    """What a :class:`ThrottlingSMTPServer` has seen since it was made.

    Counts accumulate across restarts and outages of the same server object.
    The counts of injected faults default to 0, for servers that inject none.
    """

    #: TCP connections accepted.
    connections: int
    #: Connections open when the snapshot was taken.
    open_connections: int
    #: The most connections ever open at the same time.
    max_concurrent: int
    #: Messages accepted (answered with a 2xx at end of DATA).
    delivered: int
    #: Distinct Message-IDs among the accepted messages.
    unique_messages: int
    #: Accepted messages whose Message-ID had already been accepted before.
    duplicate_deliveries: int
    #: Throttle replies sent.
    rejections: int
    #: Connections dropped without a reply at end of DATA.
    drops: int
    #: Connections hung up on at the command after their N-th message.
    hangups: int = 0
    #: Connections reset in the middle of a message's content (not delivered).
    content_cuts: int = 0
    #: Messages delivered whose reply was never sent.
    replies_lost: int = 0
    #: Connections whose greeting was refused.
    greeting_refusals: int = 0
    #: Connections reset after 220 to STARTTLS, before the TLS handshake.
    tls_resets: int = 0
    #: The connection limit in force when the snapshot was taken (None: unlimited).
    limit: int | None

    def to_json(self) -> str:
        """One line of JSON, as ``python -m adaptsend.testing`` prints it."""
        return json.dumps(attrs.asdict(self), sort_keys=True)
