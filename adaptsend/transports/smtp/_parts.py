"""One message's recipients over as many SMTP transactions as they need, and
what those transactions come to as the message's one result.

A message goes in transactions of at most ``[smtp] max_recipients``
recipients. A server that takes fewer per transaction refuses the rest with
``452 4.5.3 Too many recipients`` (RFC 5321 4.5.3.1.10): that is no failure,
the accepted recipients' transaction goes on and the refused ones go in the
next transaction, on the same connection, as an MTA does. Recipients refused
for any other reason are reported as refused and judged as ever.

The message's one :class:`SendResult`, in the terms of the transport
contract:

- once a transaction was accepted, ``reply`` is the last accepted
  transaction's end-of-data reply, and ``refused`` the union of every
  recipient not delivered: those refused at RCPT with their own reply, and
  those of a transaction that failed, or never started, with that failure's
  reply. ``connection_usable`` is the last transaction's;
- before any transaction was accepted, it is the last transaction's result
  with the refusals of the earlier ones;
- a transaction whose content went out and whose final reply never came
  makes the whole message :attr:`Outcome.UNKNOWN`, as for a message of one
  transaction: its retry goes to every recipient again, and counts as a
  possible repeat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from adaptsend._models import Outcome, Reply, Stage
from adaptsend.transports._contract import SendResult

#: RFC 5321's "too many recipients" reply, by enhanced status or by its words.
_TOO_MANY = re.compile(r"too many recipients", re.IGNORECASE)

#: For recipients whose transaction could not start after an accepted one.
_NOT_STARTED = Reply(
    code=None,
    text="The connection ended before a transaction for this recipient could start.",
    stage=Stage.RCPT,
)


def too_many(reply: Reply) -> bool:
    """Whether ``reply`` refuses a recipient only for this transaction's
    count of recipients: worth another transaction at once."""
    return reply.code == 452 and (
        reply.enhanced == "4.5.3" or _TOO_MANY.search(reply.text) is not None
    )


def _accepted(result: SendResult) -> bool:
    code = result.reply.code
    return result.outcome is None and code is not None and 200 <= code < 300


def needs_more(result: SendResult) -> bool:
    """Whether a transaction's ``result`` left recipients for another one."""
    return _accepted(result) and any(too_many(reply) for reply in result.refused.values())


class Parts:
    """The transactions of one message, taken one after another: which
    recipients go next, and the message's result so far."""

    def __init__(self, recipients: Sequence[str], limit: int) -> None:
        self._pending = list(recipients)
        self._limit = limit
        self._part: tuple[str, ...] = ()
        self._last: SendResult | None = None
        #: The last accepted transaction's reply.
        self._accepted: Reply | None = None
        self._refused: dict[str, Reply] = {}
        #: A transaction failed (or made no progress): no more are due.
        self._failed = False

    @property
    def delivered(self) -> bool:
        """Whether a transaction of the message was accepted."""
        return self._accepted is not None

    def next_part(self) -> tuple[str, ...] | None:
        """The recipients of the next transaction, or None when none is due."""
        last = self._last
        if self._failed or not self._pending or (last is not None and not last.connection_usable):
            return None
        self._part = tuple(self._pending[: self._limit])
        del self._pending[: self._limit]
        return self._part

    def take(self, result: SendResult) -> None:
        """Account the end of the transaction of the last part given out."""
        self._last = result
        overflow = [r for r, reply in result.refused.items() if too_many(reply)]
        settled = {r: reply for r, reply in result.refused.items() if not too_many(reply)}
        if _accepted(result):
            self._accepted = result.reply
            self._refused.update(settled)
            self._pending[:0] = overflow
            return
        every_one = result.outcome is None and len(result.refused) >= len(self._part)
        if every_one and settled:
            # Nobody accepted, but some were settled for good: go on.
            self._refused.update(settled)
            self._pending[:0] = overflow
            return
        # A failed transaction, or one refused only for its size: the end.
        self._failed = True

    def result(self) -> SendResult:
        """The message's result, once :meth:`next_part` gives None."""
        last = self._last
        assert last is not None, "no transaction was taken"
        if last.outcome is Outcome.UNKNOWN or (self._failed and self._accepted is None):
            if not self._refused:
                return last
            return attrs.evolve(last, refused={**self._refused, **last.refused})
        refused = {**self._refused}
        if self._failed:
            refused.update(last.refused)
            untaken = (*self._part, *self._pending)
            refused.update((r, last.reply) for r in untaken if r not in refused)
        else:
            # The connection ended between transactions.
            refused.update((r, _NOT_STARTED) for r in self._pending)
        if self._accepted is None:
            return attrs.evolve(last, refused=refused)
        return SendResult(
            reply=self._accepted, refused=refused, connection_usable=last.connection_usable
        )
