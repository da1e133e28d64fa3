"""What the dispatcher asks of a transport. Transports are plugins; this is their contract."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from adaptsend._models import Envelope, Outcome, Reply

if TYPE_CHECKING:
    from adaptsend.oauth._tokens import TokenCache

#: The rule recorded for a transport's own verdict when it names none.
TRANSPORT_RULE = "transport"


@attrs.frozen(kw_only=True)
class SendResult:
    """The end of one transaction on a connection.

    ``reply`` is the transaction's own answer (the end-of-DATA reply when the
    message was accepted). ``refused`` holds the recipients the server turned
    down inside a transaction that it otherwise accepted. ``connection_usable``
    is False when the connection is gone or must not be used again.

    ``outcome`` is the transport's own verdict where it knows more than the
    reply says: :attr:`Outcome.UNKNOWN` when the whole content was written and
    no final reply came (the message may have been delivered), or the verdict
    of a transport whose protocol has no SMTP replies. None: classify the reply
    (:class:`ClassifiesReplies`), as every refused recipient's reply is.
    ``rule`` names that verdict in the attempt's record, short and stable
    (``no-final-reply``); :data:`TRANSPORT_RULE` when it is None.

    ``untouched`` says that nothing of this message reached a server that could
    act on it (the connection was found closed before its first command): it
    may go again on a new connection without counting as an attempt. When the
    reply's stage is ``connect`` or ``tls`` and the verdict is transient, the
    server could not be reached at all: the key's messages wait, uncharged,
    as when a connection cannot be opened (an HTTP transport connects inside
    its sends).

    ``retry_after_s`` is the server's own word on when to come back (HTTP's
    ``Retry-After``): nothing more is sent to this sending key, by any
    connection, until that many seconds have passed. Sends already under way
    finish.
    """

    reply: Reply
    refused: Mapping[str, Reply] = attrs.field(factory=dict)
    connection_usable: bool = True
    outcome: Outcome | None = None
    untouched: bool = False
    retry_after_s: float | None = None
    rule: str | None = None


@attrs.frozen(kw_only=True)
class SendAttempt:
    """One send of a batch: its result, when it started and how long it took."""

    result: SendResult
    started_at: dt.datetime
    duration_s: float

    @property
    def clean(self) -> bool:
        """Accepted for every recipient on a connection that can go on: the
        only result after which a batch may carry on without a judgement."""
        result = self.result
        code = result.reply.code
        return (
            code is not None
            and 200 <= code < 300
            and not result.refused
            and result.connection_usable
        )


class TransportError(Exception):
    """Opening a connection failed; ``reply`` says how (code None for a local error).

    ``outcome`` is the transport's own verdict, as in :class:`SendResult`
    (None: classify the reply; :attr:`Outcome.FATAL` when a person must act),
    and ``rule`` names it, as :attr:`SendResult.rule` does.
    ``retry_after_s``: the server refused the connection (or request slot) and
    said when to come back; nothing is sent to the sending key until then.
    """

    def __init__(
        self,
        reply: Reply,
        *,
        outcome: Outcome | None = None,
        rule: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(reply.describe())
        self.reply = reply
        self.outcome = outcome
        self.retry_after_s = retry_after_s
        self.rule = rule


class Ruling(Protocol):
    """What a reply means: the outcome, and the name of the rule that decided
    it, which the attempt's record keeps (short and stable)."""

    @property
    def outcome(self) -> Outcome: ...

    @property
    def rule(self) -> str: ...


#: What a reply means to one transport.
Classify = Callable[[Reply], Ruling]


@runtime_checkable
class ClassifiesReplies(Protocol):
    """A transport that says what its replies mean.

    Its ``classify`` judges every reply that comes without a verdict: a
    transaction's, each refused recipient's, a failed connect's. It is called
    for every message, so it allocates nothing it need not (a rule's verdict
    made once). The built-in SMTP transport is one: it judges with the reply
    classifier and the site's ``[classifier]`` patterns. A transport that is
    not has its replies judged by that same classifier, as SMTP replies.
    """

    def classify(self, reply: Reply) -> Ruling: ...


@runtime_checkable
class UsesTokens(Protocol):
    """A transport that logs in with the OAuth access tokens of ``[smtp.oauth]``:
    the agent hands it the token cache made from the configured provider. (A
    transport with token settings of its own is a ``TokenUser``.)"""

    def use_tokens(self, tokens: TokenCache) -> None: ...


@runtime_checkable
class HoldsResources(Protocol):
    """A transport that holds something besides its connections (an HTTP
    client's pool of sockets): the agent that made it calls :meth:`release`
    once, when the agent closes. Never raises. (Not ``close``: a transport
    may double as its own connection, whose ``close`` is async.)"""

    def release(self) -> None: ...


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


@runtime_checkable
class BatchConnection(Connection, Protocol):
    """A connection that can send several messages in one go.

    Transports that hand each send to a thread implement it so that a fast
    server does not pay one thread hand-over per message."""

    async def send_many(
        self, envelopes: Sequence[Envelope], *, budget_s: float
    ) -> list[SendAttempt]:
        """Send ``envelopes`` in order, stopping after the first attempt that
        is not :attr:`SendAttempt.clean` or once ``budget_s`` seconds have passed.
        A transport that writes the whole batch before reading any reply
        cannot stop early: it reports every attempt whose outcome it read.

        Returns the attempts made, in order, at least one; the envelopes after
        them were not tried. Never raises for an SMTP or network failure, and like
        :meth:`Connection.send` runs to its end when the caller is cancelled."""
        ...


class Transport(Protocol):
    #: Account and host this transport sends as; one limiter exists per key.
    sending_key: str

    async def connect(self) -> Connection:
        """Open and authenticate a connection; raise :class:`TransportError`."""
        ...
