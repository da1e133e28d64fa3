"""The values that flow through adaptsend: messages, replies, attempts and outcomes."""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
from collections.abc import Iterable, Mapping

import attrs


def utcnow() -> dt.datetime:
    """The current time as a naive UTC datetime, the form every store column uses."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Status(enum.StrEnum):
    """Where a message is in its life. It only moves forward, except that a
    released or expired claim goes back to ``queued`` or ``retry``."""

    QUEUED = "queued"
    SENDING = "sending"
    RETRY = "retry"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"


FINAL_STATUSES = frozenset({Status.SENT, Status.FAILED, Status.DEAD})


class Outcome(enum.StrEnum):
    """What one reply (or error) means for the message and for the run."""

    SENT = "sent"
    #: The provider is over its concurrency budget: cut the connection cap,
    #: retry soon.
    THROTTLED = "throttled"
    #: The provider says too many messages per unit of time: cut the message
    #: rate, retry soon. The message's fate is a throttle's (not charged).
    RATE = "rate"
    #: Try this message again later, with backoff.
    TRANSIENT = "transient"
    #: The content went out and no final reply came (a timeout after the final
    #: dot, a reset, a hang-up): the message may have been delivered. Retried
    #: with backoff and the same Message-ID, and counted as a possible duplicate.
    UNKNOWN = "unknown"
    #: A quota that clears with time (a daily sending limit): the message is
    #: not charged, and the sending key pauses for ``[limiter] quota_pause_s``.
    QUOTA = "quota"
    #: This message will never be accepted: stop retrying it.
    PERMANENT = "permanent"
    #: Authentication or configuration is wrong: stop the whole run.
    FATAL = "fatal"


class Stage(enum.StrEnum):
    """The SMTP step at which a reply was given."""

    CONNECT = "connect"
    TLS = "tls"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"


@attrs.frozen(kw_only=True)
class Reply:
    """A server's answer, or a local error that stands for one (``code`` is None).

    ``enhanced`` is the RFC 3463 status such as ``"4.3.2"`` when the server gave one.
    """

    code: int | None
    text: str
    enhanced: str | None = None
    stage: Stage = Stage.DATA

    def describe(self) -> str:
        """One line for logs: ``432 4.3.2 Concurrent connections limit exceeded``."""
        parts = [str(self.code) if self.code is not None else "no reply"]
        if self.enhanced:
            parts.append(self.enhanced)
        parts.append(self.text)
        return " ".join(p for p in parts if p)

    def to_json(self) -> dict[str, object]:
        """The reply as the ``--json`` outputs write it."""
        return {
            "code": self.code,
            "enhanced": self.enhanced,
            "text": self.text,
            "stage": self.stage.value,
        }


def split_addresses(value: str) -> tuple[str, ...]:
    """``"a@x.example, B <b@y.example>"`` as ``("a@x.example", "B <b@y.example>")``:
    one string is an address list, never cut to its first address. A string
    that does not parse as one stays whole, for the check at enqueue to name."""
    if not value.strip():
        return ()
    pairs = email.utils.getaddresses([value])
    if len(pairs) < 2 or any(not address for _, address in pairs):
        return (value,)
    return tuple(header_form(name, address) for name, address in pairs)


def header_form(name: str, address: str) -> str:
    """``Name <address>`` as a header lists it, quoted where needed."""
    if not name:
        return address
    if name.isascii() and address.isascii():
        return email.utils.formataddr((name, address))
    # formataddr refuses a non-ASCII address; the header's own encoding
    # (RFC 2047, or UTF-8 under SMTPUTF8) takes care of a non-ASCII name.
    return f'"{email.utils.quote(name)}" <{address}>'


def _addresses(value: str | Iterable[str]) -> tuple[str, ...]:
    """One address or several, as a tuple: ``to="a@example.com"``,
    ``to="a@example.com, B <b@example.com>"`` (an address list in one string,
    never cut to its first address) and ``to=["a@example.com"]`` all mean
    what they say. The addresses are checked when the message is queued."""
    if isinstance(value, str):
        return split_addresses(value)
    return tuple(value)


@attrs.frozen(kw_only=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")


@attrs.frozen(kw_only=True)
class Message:
    """A message as the application hands it over, before it is queued."""

    sender: str
    to: tuple[str, ...] = attrs.field(default=(), converter=_addresses)
    cc: tuple[str, ...] = attrs.field(default=(), converter=_addresses)
    bcc: tuple[str, ...] = attrs.field(default=(), converter=_addresses)
    subject: str = ""
    text: str | None = None
    html: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    attachments: tuple[Attachment, ...] = ()
    #: Kept across every retry so that a receiver can recognise a repeat. Made up
    #: when the message is queued if the application did not give one.
    message_id: str | None = None

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc + self.bcc


@attrs.frozen(kw_only=True)
class Envelope:
    """A message as it is queued: fixed bytes, fixed Message-ID, SMTP envelope."""

    message_id: str
    sender: str
    recipients: tuple[str, ...]
    content: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")


@attrs.frozen(kw_only=True)
class ClaimedMessage:
    """A queued message that this agent holds a lease on and may send now."""

    id: int
    envelope: Envelope
    #: Attempts made before this claim (all outcomes but throttles count).
    attempts: int
    #: Throttled attempts before this claim; kept apart so that a provider's
    #: congestion cannot use up a message's retry budget.
    throttles: int
    #: When the message was queued; past ``[retry] max_age_s`` a failure is its last.
    queued_at: dt.datetime | None = None


@attrs.frozen(kw_only=True)
class AttemptRecord:
    """One try of one message: what happened and what the agent knew then.

    A recipient refused inside an otherwise accepted transaction gets its own
    record with ``recipient`` set.

    ``rule`` names what decided ``outcome``: a classifier rule (``permanent``,
    ``site-throttle: <pattern>``), or the transport's own verdict
    (``no-final-reply``, ``transport``); see docs/replies.md. None only for
    attempts recorded before rules were kept.
    """

    message_pk: int
    started_at: dt.datetime
    duration_s: float
    outcome: Outcome
    reply: Reply
    cap: int
    in_flight: int
    recipient: str | None = None
    rule: str | None = None


@attrs.frozen(kw_only=True)
class Decision:
    """What the store must do with a claimed message after an attempt.

    ``status`` is the new status; ``next_attempt_at`` is set for ``retry``;
    ``recipients`` narrows the envelope when only some recipients are left to try.
    """

    message_pk: int
    status: Status
    attempts: int
    throttles: int
    next_attempt_at: dt.datetime | None = None
    recipients: tuple[str, ...] | None = None
    last_reply: Reply | None = None
