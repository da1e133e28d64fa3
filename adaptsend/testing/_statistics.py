"""A snapshot of what a test server has seen."""

from __future__ import annotations

import json

import attrs


@attrs.frozen(kw_only=True)
class ServerStatistics:
    """What a :class:`ThrottlingSMTPServer` has seen since it was made.

    Counts accumulate across restarts of the same server object.
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
    #: The connection limit in force when the snapshot was taken (None: unlimited).
    limit: int | None

    def to_json(self) -> str:
        """One line of JSON, as ``python -m adaptsend.testing`` prints it."""
        return json.dumps(attrs.asdict(self), sort_keys=True)
