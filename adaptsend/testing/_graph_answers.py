"""What the fake Graph server can answer, in Microsoft Graph's own words."""

from __future__ import annotations

import enum
import json

import attrs

#: The bearer token the fake server takes unless told others.
DEFAULT_GRAPH_TOKEN = "graph-test-token"


@attrs.frozen(kw_only=True)
class GraphAnswer:
    """One answer: an HTTP status with Graph's error body (when ``code`` is
    set) and a ``Retry-After`` header (when ``retry_after`` is set, as sent:
    Graph sends whole seconds)."""

    status: int
    code: str = ""
    message: str = ""
    retry_after: str | None = None
    #: Deliver the message before answering (a failure after the work was done).
    deliver: bool = False
    #: Only for a request whose path ends so (``"/createUploadSession"``);
    #: the requests before it are answered as usual.
    applies_to: str = ""

    def body(self) -> bytes:
        if not self.code:
            return b""
        return json.dumps({"error": {"code": self.code, "message": self.message}}).encode()


def throttled(retry_after: str) -> GraphAnswer:
    """The answer to a request over the mailbox's concurrency limit."""
    return GraphAnswer(
        status=429,
        code="ApplicationThrottled",
        message="Application is over its MailboxConcurrency limit.",
        retry_after=retry_after,
    )


#: No ``Mail.Send`` application permission (or no admin consent for it).
ACCESS_DENIED = GraphAnswer(
    status=403,
    code="ErrorAccessDenied",
    message="Access is denied. Check credentials and try again.",
)
#: An application access policy (or RBAC for Applications) leaves the mailbox out.
ACCESS_POLICY_DENIED = GraphAnswer(
    status=403,
    code="ErrorAccessDenied",
    message="Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly "
    "AccessPolicy settings.",
)
#: The body of a MIME send is not base64.
INVALID_BASE64 = GraphAnswer(
    status=400,
    code="ErrorMimeContentInvalidBase64String",
    message="Invalid base64 string for MIME content.",
)
#: The mailbox's daily sending limit is used up.
SUBMISSION_QUOTA = GraphAnswer(
    status=403,
    code="ErrorSubmissionQuotaExceeded",
    message="Cannot send mail: the sending quota of the mailbox is exceeded.",
)
SERVER_BUSY = GraphAnswer(
    status=503, code="ErrorServerBusy", message="The server is busy. Try again later."
)
INVALID_TOKEN = GraphAnswer(
    status=401,
    code="InvalidAuthenticationToken",
    message="Access token validation failure. Invalid audience.",
)
TOO_LARGE = GraphAnswer(
    status=413, code="RequestEntityTooLarge", message="The request body is too large."
)


class GraphFault(enum.Enum):
    """Ways a send of the fake server fails, each every N-th send (see
    ``fault_every``); the counting is over sends that were let in."""

    #: ``503`` before anything was done: not delivered.
    UNAVAILABLE = "unavailable"
    #: Delivered, then no answer at all for ``stall_s`` (the client times out).
    STALL = "stall"
    #: Delivered, then the connection is closed without an answer.
    RESET = "reset"
