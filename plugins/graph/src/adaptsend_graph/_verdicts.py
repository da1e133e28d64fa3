"""What Graph's answers mean, as the transport contract's own verdicts.

An answer is recorded with its HTTP status as the reply code, Graph's error
code and message as the text (``429 ApplicationThrottled: Application is
over its MailboxConcurrency limit.``), no enhanced status, and the stage
``auth`` for ``401`` and ``403``, ``mail`` for a mailbox Graph does not
know, ``data`` otherwise. A request that got no answer has no code, and
``connect`` as its stage when nothing of it went out.
"""

from __future__ import annotations

import enum
import http
import re

from adaptsend import Outcome, Reply, SendResult, Stage
from adaptsend_graph._http import Answer, Failure, NetworkFailure
from adaptsend_graph._settings import OAUTH_TABLE, GraphSettings

#: Error codes of a quota that clears with time: the day's sending limit,
#: or a mailbox too full to keep what it sends.
QUOTA_CODES = frozenset({"ErrorSubmissionQuotaExceeded", "ErrorQuotaExceeded"})
#: Error codes that say the mailbox is not one Graph can send as.
MAILBOX_CODES = frozenset({"ErrorInvalidUser", "MailboxNotEnabledForRESTAPI", "MailboxNotFound"})
#: Graph names the limit a 429 is about: "over its MailboxConcurrency limit".
_OVER_ITS = re.compile(r"over its (\w+) limit", re.IGNORECASE)

#: The name each verdict is recorded with (the attempts' ``rule`` column),
#: and its outcome; docs/graph.md lists them, and a test holds the two together.
RULES = {
    "graph-accepted": Outcome.SENT,
    "graph-quota": Outcome.QUOTA,
    "graph-concurrency": Outcome.THROTTLED,
    "graph-rate": Outcome.RATE,
    "graph-send-as-denied": Outcome.FATAL,
    "graph-token-refused": Outcome.FATAL,
    "graph-forbidden": Outcome.FATAL,
    "graph-unknown-mailbox": Outcome.FATAL,
    "graph-server-error": Outcome.UNKNOWN,
    "graph-server-error-before-sending": Outcome.TRANSIENT,
    "graph-try-again": Outcome.TRANSIENT,
    "graph-refused": Outcome.PERMANENT,
    "graph-redirect": Outcome.FATAL,
    "graph-unreachable": Outcome.TRANSIENT,
    "graph-certificate": Outcome.FATAL,
    "graph-no-answer": Outcome.UNKNOWN,
    "graph-request-failed": Outcome.TRANSIENT,
    "graph-token-unavailable": Outcome.TRANSIENT,
    # The names adaptsend's SMTP transport gives the same verdicts.
    "configuration": Outcome.FATAL,
    "refused-before-sending": Outcome.PERMANENT,
}


class Step(enum.Enum):
    """Which request of a send an answer is to."""

    #: ``sendMail``: the whole message in one request.
    SEND = "send"
    #: Making the draft of a large message (needs ``Mail.ReadWrite``).
    DRAFT = "draft"
    #: Adding an attachment to the draft, or deleting it.
    ATTACH = "attach"
    #: The draft's ``send``.
    SEND_DRAFT = "send draft"

    @property
    def delivers(self) -> bool:
        """Whether this request may deliver the message."""
        return self in (Step.SEND, Step.SEND_DRAFT)

    @property
    def first(self) -> bool:
        """Whether this is a send's first request (nothing went before it)."""
        return self in (Step.SEND, Step.DRAFT)


def verdict(outcome: Answer | NetworkFailure, settings: GraphSettings, step: Step) -> SendResult:
    """The result of one send whose last request ended with ``outcome``."""
    if isinstance(outcome, NetworkFailure):
        return _network(outcome, step)
    return _answered(outcome, settings, step)


def _answered(answer: Answer, settings: GraphSettings, step: Step) -> SendResult:
    status, code = answer.status, answer.code
    text = describe(answer)
    if 200 <= status < 300:
        reply = Reply(code=status, text=text)
        return SendResult(reply=reply, outcome=Outcome.SENT, rule="graph-accepted")
    if code in QUOTA_CODES:
        return _result(status, text, "graph-quota", answer)
    if status == 429:
        return _result(status, text, _throttle(answer), answer)
    if code == "ErrorSendAsDenied":
        sentence = (
            f"{settings.mailbox} may not send as the message's From address: send from "
            f"{settings.mailbox}, or give it Send As on that address"
        )
        return _result(
            status, f"{text} ({sentence})", "graph-send-as-denied", answer, stage=Stage.MAIL
        )
    if status in (401, 403):
        sentence = _refusal(answer, settings, step)
        rule = "graph-token-refused" if status == 401 else "graph-forbidden"
        return _result(status, f"{text} ({sentence})", rule, answer, stage=Stage.AUTH)
    if status == 404 and code in MAILBOX_CODES:
        sentence = f"[plugin.graph] mailbox {settings.mailbox} is not a mailbox Graph can send as"
        return _result(
            status, f"{text} ({sentence})", "graph-unknown-mailbox", answer, stage=Stage.MAIL
        )
    if status >= 500:
        # After the whole request: a send may have gone through.
        rule = "graph-server-error" if step.delivers else "graph-server-error-before-sending"
        return _result(status, text, rule, answer)
    if status in (408, 409) or (status == 404 and step is Step.ATTACH):
        # Not acted on (a timeout, a conflict, a draft gone meanwhile): again later.
        return _result(status, text, "graph-try-again", answer)
    if status >= 400:
        return _result(status, text, "graph-refused", answer)
    sentence = "set [plugin.graph] base_url to Graph itself, which answers without redirects"
    return _result(status, f"{text} ({sentence})", "graph-redirect", answer)


def describe(answer: Answer) -> str:
    """``ApplicationThrottled: Application is over its ... limit. (Retry-After: 2 s)``."""
    if answer.code:
        text = f"{answer.code}: {answer.message}" if answer.message else answer.code
    else:
        try:
            text = http.HTTPStatus(answer.status).phrase
        except ValueError:
            text = "HTTP status without a name"
    if answer.retry_after_s is not None:
        text += f" (Retry-After: {answer.retry_after_s:g} s)"
    return text


def _result(
    status: int, text: str, rule: str, answer: Answer, *, stage: Stage = Stage.DATA
) -> SendResult:
    retry_after = answer.retry_after_s if answer.retry_after_s else None
    outcome = RULES[rule]
    return SendResult(
        reply=Reply(code=status, text=text, stage=stage),
        outcome=outcome,
        connection_usable=outcome is not Outcome.FATAL,
        retry_after_s=retry_after,
        rule=rule,
    )


def _throttle(answer: Answer) -> str:
    """Throttled (cut the concurrency) for the concurrency limit, and for a
    429 that does not say; rate (cut the pace) for a limit on requests or
    bytes over time."""
    named = _OVER_ITS.search(answer.message)
    if named is None or "concurrency" in named.group(1).lower():
        return "graph-concurrency"
    return "graph-rate"


def _refusal(answer: Answer, settings: GraphSettings, step: Step) -> str:
    """What a person must do about a 401 or 403, in one sentence."""
    mailbox = settings.mailbox
    if answer.status == 401:
        return (
            "Graph refused a freshly fetched token too: check the tenant and client of "
            f"[{OAUTH_TABLE}] and its scope, {settings.oauth.scope}"
        )
    said = f"{answer.code} {answer.message}".lower()
    if "accesspolicy" in said or "raop" in said:
        return (
            f"an application access policy (or RBAC for Applications) of the tenant "
            f"does not let this application send as {mailbox}"
        )
    if not step.delivers:
        return (
            f"a message over 3 MB goes through a draft in {mailbox}, which needs the "
            "Mail.ReadWrite application permission (with admin consent) besides Mail.Send"
        )
    return (
        "the application needs the Mail.Send application permission, with admin consent, "
        f"to send as {mailbox}"
    )


def _network(failure: NetworkFailure, step: Step) -> SendResult:
    kind = failure.kind
    if kind is Failure.UNREACHABLE:
        reply = Reply(code=None, text=failure.text, stage=Stage.CONNECT)
        # Nothing of this request went out; for a send's first request,
        # nothing of the message did.
        return _unanswered(reply, "graph-unreachable", untouched=step.first)
    if kind is Failure.CERTIFICATE:
        reply = Reply(code=None, text=failure.text, stage=Stage.TLS)
        return _unanswered(reply, "graph-certificate")
    if kind is Failure.NO_ANSWER and step.delivers:
        text = f"{failure.text}, so the message may have been sent"
        return _unanswered(Reply(code=None, text=text, stage=Stage.DATA), "graph-no-answer")
    reply = Reply(code=None, text=failure.text, stage=Stage.DATA)
    return _unanswered(reply, "graph-request-failed")


def _unanswered(reply: Reply, rule: str, *, untouched: bool = False) -> SendResult:
    return SendResult(
        reply=reply,
        outcome=RULES[rule],
        connection_usable=False,
        untouched=untouched,
        rule=rule,
    )
