"""A worker's calls into its transport: opening a connection and sending on
it, with every way they can fail turned into a result.

A transport reports SMTP and network failures in its results; anything else
it raises is a bug (or a message it cannot encode). Such a bug fails the one
attempt it hit and never ends the run, except an :class:`AdaptsendError`,
which says a person must act (a transport's own configuration) and stops it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import cast

import attrs
import trio

from adaptsend._errors import AdaptsendError
from adaptsend._models import ClaimedMessage, Outcome, Reply, Stage
from adaptsend.transports._contract import (
    BatchConnection,
    Connection,
    SendAttempt,
    SendResult,
    Transport,
    TransportError,
)

log = logging.getLogger("adaptsend.worker")

#: The rule recorded when a transport raised where it should have reported.
TRANSPORT_ERROR = "transport-error"


@attrs.frozen(kw_only=True)
class ConnectFailure:
    #: How opening failed. Its ``outcome`` is the verdict when the reply alone
    #: would mislead: FATAL when the server cannot do what the configuration
    #: asks, TRANSIENT for a transport's bug; None to classify the reply.
    result: SendResult


async def connect(transport: Transport) -> tuple[Connection | None, ConnectFailure | None]:
    """A new connection, or how opening one failed."""
    try:
        return await transport.connect(), None
    except TransportError as exc:
        result = SendResult(
            reply=exc.reply,
            connection_usable=False,
            outcome=exc.outcome,
            rule=exc.rule,
            retry_after_s=exc.retry_after_s,
        )
        return None, ConnectFailure(result=result)
    except AdaptsendError:
        raise
    except Exception as exc:
        # Not an outage either: the server was never asked.
        reply = _bug_reply(exc, Stage.CONNECT, "opening a connection")
        return None, ConnectFailure(result=_bug_result(reply))


async def send(
    connection: Connection,
    batch: Sequence[ClaimedMessage],
    *,
    budget_s: float | None,
    at: dt.datetime,
) -> list[SendAttempt]:
    """Send ``batch`` on ``connection``: all of it in one call of a
    :class:`BatchConnection` given ``budget_s``, else its first message.
    Returns at least one attempt; ``at`` is when the sending began."""
    try:
        if budget_s is not None:
            envelopes = [message.envelope for message in batch]
            batcher = cast(BatchConnection, connection)
            return await batcher.send_many(envelopes, budget_s=budget_s)
        start = trio.current_time()
        result = await connection.send(batch[0].envelope)
        return [SendAttempt(result=result, started_at=at, duration_s=trio.current_time() - start)]
    except AdaptsendError:
        raise
    except Exception as exc:
        failed = _bug_result(_bug_reply(exc, Stage.MAIL, "sending"))
        return [SendAttempt(result=failed, started_at=at, duration_s=0.0)]


def _bug_result(reply: Reply) -> SendResult:
    """A transport's bug fails the one attempt it hit, to be tried again."""
    return SendResult(
        reply=reply, connection_usable=False, outcome=Outcome.TRANSIENT, rule=TRANSPORT_ERROR
    )


def _bug_reply(exc: Exception, stage: Stage, doing: str) -> Reply:
    """A local error that stands for the reply a broken call never got."""
    log.warning("the transport failed while %s", doing, exc_info=exc)
    text = f"the transport failed while {doing}: {type(exc).__name__}: {exc}"
    return Reply(code=None, text=text, stage=stage)
