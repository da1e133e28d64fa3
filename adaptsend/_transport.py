"""What the dispatcher asks of a transport. Transports are plugins; this is their contract."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs

from adaptsend._models import Envelope, Reply


@attrs.frozen(kw_only=True)
class SendResult:
    """The end of one transaction on a connection.

    ``reply`` is the transaction's own answer (the end-of-DATA reply when the
    message was accepted). ``refused`` holds the recipients the server turned
    down inside a transaction that it otherwise accepted. ``connection_usable``
    is False when the connection is gone or must not be used again.
    """

    reply: Reply
    refused: Mapping[str, Reply] = attrs.field(factory=dict)
    connection_usable: bool = True


class TransportError(Exception):
    """Opening a connection failed; ``reply`` says how (code None for a local error)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.describe())
        self.reply = reply


class Connection(Protocol):
    async def send(self, envelope: Envelope) -> SendResult:
        """Send one message on this connection.

        Never raises for an SMTP or network failure: it reports it in the
        result. If the calling task is cancelled the send still runs to its
        end (it has side effects), so the message may have been sent or not."""
        ...

    async def close(self) -> None:
        """Say goodbye and close. Never raises."""
        ...


class Transport(Protocol):
    #: Account and host this transport sends as; one limiter exists per key.
    sending_key: str

    async def connect(self) -> Connection:
        """Open and authenticate a connection; raise :class:`TransportError`."""
        ...
