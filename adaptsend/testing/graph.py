"""The fake Microsoft Graph server and the answers it can be told to give::

from adaptsend.testing.graph import ACCESS_DENIED, FakeGraphServer

with FakeGraphServer(limit=4, answers=[ACCESS_DENIED]) as graph:
    ...
"""

from adaptsend.testing._graph_answers import (
    ACCESS_DENIED,
    ACCESS_POLICY_DENIED,
    DEFAULT_GRAPH_TOKEN,
    INVALID_BASE64,
    INVALID_TOKEN,
    SERVER_BUSY,
    SUBMISSION_QUOTA,
    TOO_LARGE,
    GraphAnswer,
    GraphFault,
    throttled,
)
from adaptsend.testing._graph_drafts import MAX_REQUEST_BYTES, MAX_UPLOAD_BYTES
from adaptsend.testing._graph_ledger import (
    GraphAttachment,
    GraphDelivery,
    GraphRequest,
    GraphStatistics,
)
from adaptsend.testing._graph_server import ON_THE_WAY_S, FakeGraphServer

__all__ = [
    "ACCESS_DENIED",
    "ACCESS_POLICY_DENIED",
    "DEFAULT_GRAPH_TOKEN",
    "INVALID_BASE64",
    "INVALID_TOKEN",
    "MAX_REQUEST_BYTES",
    "MAX_UPLOAD_BYTES",
    "ON_THE_WAY_S",
    "SERVER_BUSY",
    "SUBMISSION_QUOTA",
    "TOO_LARGE",
    "FakeGraphServer",
    "GraphAnswer",
    "GraphAttachment",
    "GraphDelivery",
    "GraphFault",
    "GraphRequest",
    "GraphStatistics",
    "throttled",
]
