"""The graph transport: ``POST /users/{mailbox}/sendMail`` with the message
as base64 MIME, an app-only token, and Graph's answers turned into verdicts.

A *connection* is a request slot: adaptsend's limiter, which learns how many
SMTP connections a provider takes, learns here how many requests Graph
takes at once for the mailbox (four, by Microsoft's documentation). Opening
one costs nothing on the wire; each send is one request (a large message:
the requests of its draft, one after the other).
"""

from __future__ import annotations

import base64

import trio

from adaptsend import (
    Envelope,
    Outcome,
    Reply,
    SendResult,
    Stage,
    TokenCache,
    TokenError,
    TransportError,
)
from adaptsend_graph._http import Answer, GraphHTTP
from adaptsend_graph._large import LargeSend
from adaptsend_graph._logs import protect_logs
from adaptsend_graph._recipients import RecipientsDiffer, graph_mime
from adaptsend_graph._settings import GraphSettings
from adaptsend_graph._split import ONE_REQUEST_BYTES, TooLarge, split
from adaptsend_graph._verdicts import RULES, Step, verdict


class GraphTransport:
    """Sends as ``[plugin.graph] mailbox``; one sending key per mailbox and host."""

    def __init__(self, settings: GraphSettings, *, threads: trio.CapacityLimiter) -> None:
        self.settings = settings
        self.sending_key = f"graph:{settings.mailbox}@{settings.root.netloc}"
        #: Read by adaptsend, which hands over the tokens (:meth:`use_tokens`).
        self.token_settings = settings.token_settings
        self.http = GraphHTTP(settings)
        self._threads = threads
        self._tokens: TokenCache | None = None
        protect_logs()

    def use_tokens(self, tokens: TokenCache) -> None:
        self._tokens = tokens

    def release(self) -> None:
        """Close the HTTP client's pooled connections; the agent calls this
        when it closes."""
        self.http.close()

    async def connect(self) -> GraphConnection:
        """A request slot, once a token is at hand; after the server was out
        of reach, once it can be reached again."""
        tokens = self._tokens
        if tokens is None:
            text = "the graph transport was given no token provider (it runs inside an Agent)"
            raise TransportError(
                Reply(code=None, text=text, stage=Stage.AUTH),
                outcome=Outcome.FATAL,
                rule="configuration",
            )
        await trio.to_thread.run_sync(self._ready, tokens, limiter=self._threads)
        return GraphConnection(self, tokens)

    def _ready(self, tokens: TokenCache) -> None:
        try:
            tokens.token()
        except TokenError as exc:
            reply = Reply(code=None, text=str(exc), stage=Stage.AUTH)
            rule = _token_rule(exc)
            raise TransportError(reply, outcome=RULES[rule], rule=rule) from None
        if self.http.unreachable and (why := self.http.reachable()) is not None:
            # No verdict of its own: a failure to connect is an outage, as SMTP's is.
            raise TransportError(Reply(code=None, text=why, stage=Stage.CONNECT))


class GraphConnection:
    """One request slot of a :class:`GraphTransport`."""

    def __init__(self, transport: GraphTransport, tokens: TokenCache) -> None:
        self._transport = transport
        self._tokens = tokens

    async def send(self, envelope: Envelope) -> SendResult:
        """Send one message in a worker thread. A cancelled send still runs to
        its end: Graph may have taken the message or not, and the result says which."""
        transport = self._transport
        return await trio.to_thread.run_sync(self._send, envelope, limiter=transport._threads)

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()

    def _send(self, envelope: Envelope) -> SendResult:
        settings = self._transport.settings
        size = len(envelope.content)
        if size > settings.max_message_bytes:
            return _refused(
                f"the message is {size} bytes, over [plugin.graph] max_message_bytes "
                f"({settings.max_message_bytes}, Exchange Online's default limit is 35 MB)"
            )
        try:
            mime = graph_mime(envelope)
            if len(mime) <= ONE_REQUEST_BYTES:
                result = self._send_mail(mime)
                if result is not None:
                    return result
            return LargeSend(self._transport.http, self._tokens, envelope).send(split(mime))
        except (RecipientsDiffer, TooLarge) as exc:
            return _refused(str(exc))
        except TokenError as exc:
            # As when SMTP cannot log in for want of a token: the attempt counts.
            reply = Reply(code=None, text=str(exc), stage=Stage.AUTH)
            rule = _token_rule(exc)
            return SendResult(reply=reply, outcome=RULES[rule], connection_usable=False, rule=rule)

    def _send_mail(self, mime: bytes) -> SendResult | None:
        """``sendMail`` with the whole message; None when Graph finds it too
        large for one request after all (it then goes through a draft)."""
        http = self._transport.http
        answer = http.call(
            "POST",
            f"{http.settings.users_url}/sendMail",
            tokens=self._tokens,
            body=base64.b64encode(mime),
            headers={"Content-Type": "text/plain"},
        )
        if isinstance(answer, Answer) and answer.status == 413:
            return None
        return verdict(answer, http.settings, Step.SEND)


def _refused(text: str) -> SendResult:
    """A message this transport cannot send, before anything went out."""
    reply = Reply(code=None, text=text, stage=Stage.DATA)
    return SendResult(reply=reply, outcome=Outcome.PERMANENT, rule="refused-before-sending")


def _token_rule(error: TokenError) -> str:
    """A person must act (the configuration), or the token issuer may answer later."""
    return "configuration" if error.fatal else "graph-token-unavailable"
