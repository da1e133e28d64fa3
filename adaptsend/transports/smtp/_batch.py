"""How a batch of SMTP sends is accounted, message by message, also when the
connection ends partway.

A batch is written ahead of its replies (with PIPELINING a message's content
goes out with the next message's commands; with CHUNKING the whole batch goes
out at once). When a write fails or the connection ends, every reply the
server sent before it went away is still read (it waits in our receive
buffer after the server's FIN, and usually after a reset), and each message
is judged by its own replies:

- a message whose final reply (to the end of DATA, or BDAT LAST) came has
  that reply's result;
- a 421 closes the session: the message that got it is reported with it,
  and nothing after it was acted on, so nothing after it is reported;
- the first message whose content was written in full and whose final reply
  never came (end of file, reset, timeout) is :attr:`Outcome.UNKNOWN`: it
  may have been delivered;
- a message whose content was not written in full cannot have been
  accepted: it stays untried, unless it is the batch's first (a batch
  reports at least one attempt), which is then an ordinary failure.

Nothing after the first message without a final reply is reported: the
server answers in order, so no later message can have been taken without
that one being answered first. The one risk left is a reset, which can
destroy replies that were already on their way to us; the message whose
reply was lost then counts as unknown, and those after it stay untried
although the server may have taken them.

The connection ends (``connection_usable`` False on the last attempt) once
a write has failed or a reply did not come.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import attrs

from adaptsend._models import Outcome, Reply, Stage, utcnow
from adaptsend.transports._contract import SendAttempt, SendResult
from adaptsend.transports.smtp._verdicts import NO_FINAL_REPLY
from adaptsend.transports.smtp._wire import RepliesEnded, describe

log = logging.getLogger("adaptsend.smtp")


class BatchLog:
    """The attempts of one batch in order, timed as their outcomes are read.

    The message being worked on is always the one after the last attempt:
    every earlier message has been reported.
    """

    def __init__(self, size: int) -> None:
        self.attempts: list[SendAttempt] = []
        #: How many messages of the batch have had their content written in full.
        self.complete = 0
        #: The write that failed, if one did: the clearest cause to report.
        self.write_error: OSError | None = None
        #: The connection broke under the batch (a write failed, a reply did
        #: not come, an error): it must be hung up, not told QUIT.
        self.broken = False
        self._size = size
        self._started_at = utcnow()
        self._start = self._last = time.perf_counter()

    def add(self, result: SendResult) -> None:
        """Report the next message's result."""
        now = time.perf_counter()
        at = self._started_at + dt.timedelta(seconds=self._last - self._start)
        self.attempts.append(SendAttempt(result=result, started_at=at, duration_s=now - self._last))
        self._last = now

    @property
    def done(self) -> bool:
        """Whether the message being worked on is past the batch's end."""
        return len(self.attempts) >= self._size

    def replies_ended(self, ended: RepliesEnded) -> None:
        """The server's replies stopped while the current message's were awaited."""
        if len(self.attempts) < self.complete:
            self.broken = True
            self.add(unknown(describe(ended.cause)))
        else:
            self.unsent(ended.cause, ended.stage)

    def unsent(self, cause: OSError | None, stage: Stage) -> None:
        """The connection broke before the current message's content was
        written in full: reported only as the batch's first."""
        self.broken = True
        if self.attempts:
            self.end_connection()
            return
        error = self.write_error or cause
        text = describe(error) if error is not None else "The connection broke."
        reply = Reply(code=None, text=text, stage=stage)
        self.add(SendResult(reply=reply, connection_usable=False))

    def crashed(self, exc: Exception) -> None:
        """An error that is no SMTP or network failure (a bug, data that
        cannot be encoded) stopped the current message: its failed attempt,
        unknown if its content had been written in full."""
        log.error("an SMTP send failed unexpectedly", exc_info=exc)
        self.broken = True
        if self.done or (self.attempts and not self.attempts[-1].result.connection_usable):
            # Nothing is left to blame it on: the batch had already ended.
            self.end_connection()
            return
        if len(self.attempts) < self.complete:
            self.add(unknown(f"then an unexpected {describe(exc)}"))
            return
        text = f"The send stopped on an unexpected {describe(exc)}."
        reply = Reply(code=None, text=text, stage=Stage.MAIL)
        self.add(SendResult(reply=reply, connection_usable=False))

    def replace(self, index: int, result: SendResult) -> None:
        """Report a new result for an attempt already reported (a message
        whose transaction went on in more transactions after the batch),
        counting the time since the last report to it."""
        now = time.perf_counter()
        attempt = self.attempts[index]
        duration_s = attempt.duration_s + now - self._last
        self.attempts[index] = attrs.evolve(attempt, result=result, duration_s=duration_s)
        self._last = now

    def end_connection(self) -> None:
        """Mark the last attempt's connection as gone."""
        if self.attempts:
            last = self.attempts[-1]
            ended = attrs.evolve(last.result, connection_usable=False)
            self.attempts[-1] = attrs.evolve(last, result=ended)


def untouched(reply: Reply) -> SendResult:
    """The result of a message that was never written: the connection was
    found ended before anything of its batch went out."""
    return SendResult(reply=reply, connection_usable=False, untouched=True)


def unknown(error: str) -> SendResult:
    """The result of a message written in full whose final reply never came."""
    text = (
        "The whole message was written and no final reply came, "
        f"so it may have been delivered ({error})."
    )
    reply = Reply(code=None, text=text, stage=Stage.DATA)
    return SendResult(
        reply=reply, connection_usable=False, outcome=Outcome.UNKNOWN, rule=NO_FINAL_REPLY
    )
