"""A real SMTP server for tests, demos and benchmarks that misbehaves on purpose.

:class:`ThrottlingSMTPServer` listens on 127.0.0.1 and answers the connection
over its concurrency limit the way Microsoft 365 does, with
``432 4.3.2 Concurrent connections limit exceeded``; it can also refuse
recipients, fail AUTH, stall, drop connections and offer STARTTLS, and inject
the faults exactly-once delivery must survive (hang-ups, cut content, lost
replies, refused greetings, TLS resets, outages), every N-th time, counted.
Run it in its own process with ``python -m adaptsend.testing --help``.

For plugin authors there is also :class:`HTTPReceiver`, a real HTTP server on
127.0.0.1 that records requests (for webhook sinks), and :class:`RecordingSink`,
an alert sink that keeps what it is given.

:class:`FakeGraphServer` is Microsoft Graph's mail sending on 127.0.0.1: it
checks the bearer token, decodes the MIME, throttles over a concurrency
limit with ``429`` and ``Retry-After``, can answer ``503`` or stall, and
counts deliveries per Message-ID (``adaptsend.testing.graph`` has the
answers it can be told to give).
"""

from adaptsend.testing._graph_answers import DEFAULT_GRAPH_TOKEN, GraphAnswer, GraphFault
from adaptsend.testing._graph_server import FakeGraphServer
from adaptsend.testing._http import HTTPReceiver, ReceivedRequest
from adaptsend.testing._instant import InstantTransport, InstantTransportPlugin
from adaptsend.testing._ledger import ReceivedMessage
from adaptsend.testing._options import (
    DEFAULT_GREETING_REFUSAL,
    DEFAULT_THROTTLE_REPLY,
    HOOK_STAGES,
    ServerOptions,
)
from adaptsend.testing._server import ThrottlingSMTPServer
from adaptsend.testing._sinks import RecordingSink
from adaptsend.testing._statistics import ServerStatistics

__all__ = [
    "DEFAULT_GRAPH_TOKEN",
    "DEFAULT_GREETING_REFUSAL",
    "DEFAULT_THROTTLE_REPLY",
    "HOOK_STAGES",
    "FakeGraphServer",
    "GraphAnswer",
    "GraphFault",
    "HTTPReceiver",
    "InstantTransport",
    "InstantTransportPlugin",
    "ReceivedMessage",
    "ReceivedRequest",
    "RecordingSink",
    "ServerOptions",
    "ServerStatistics",
    "ThrottlingSMTPServer",
]
