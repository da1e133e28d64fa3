"""What a server's reply (or a local error) means: an :class:`Outcome`.

A :class:`Classifier` tries its rules in order; the first that matches decides.
The built-in rules, :data:`DEFAULT_RULES`, go from the most specific to the
most general:

1. ``sent``: any 2xx.
2. Fatal, because every message of the run would fail the same way until a
   person changes the configuration: TLS that cannot be set up; Exchange
   Online replies that say what to change (each with a hint, see
   :mod:`adaptsend.classify._providers`); failed or missing
   authentication, an account that may not send, a server that refuses this
   client at its greeting, a host name that does not exist.
3. Quota: a daily sending limit reached, which clears with time.
4. Throttled, because the provider is over a concurrency budget: the
   enhanced status 4.3.2, the code 432, and 421/450/451/452 replies whose text
   says so; ``rate`` for replies about a message rate (rule ``rate``, which
   cuts the message rate instead of the connection cap). Greylisting is
   recognised first and kept transient, since it is about one sender and
   recipient, not about load.
5. Transient: every other 4xx, and every local error (no reply code).
6. Permanent: every other 5xx.
7. Anything else (a 1xx or 3xx where a final reply was due): transient.

Site rules from configuration (:meth:`Classifier.from_patterns`) come before
the built-ins but never apply to a 2xx reply: calling an accepted message
anything but sent would send it twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from adaptsend._models import Outcome, Reply, Stage
from adaptsend.classify._providers import HINTED_FATAL_RULES, QUOTA_RULE, RATE_RULE
from adaptsend.classify._rules import (
    Rule,
    Verdict,
    enhanced_status,
    parse_reply,
    reply_class,
)

__all__ = ["DEFAULT_RULES", "UNMATCHED", "Classifier", "Rule", "Verdict", "hint_for", "parse_reply"]

#: Texts that mean "you are over your concurrency or rate budget".
_THROTTLE_TEXT = re.compile(
    r"concurrent (smtp )?connections"
    r"|too many (\w+ ){0,2}(connections|sessions)"
    r"|connection limit"
    r"|rate[- ]?limit"
    r"|exceeded the (configured |allowed )?limit"
    r"|throttl"
    r"|temporarily deferred due to"
    r"|server (is )?(too )?busy",
    re.IGNORECASE,
)

# "Try again later" also ends many greylisting and mailbox replies, which are
# about one recipient; only when the server is closing the connection (421)
# is it a statement about load.
_TRY_LATER = re.compile(r"try (again )?later", re.IGNORECASE)

_GREYLIST = re.compile(r"gr[ae]y-?list", re.IGNORECASE)

# A broken or slow network during the handshake is not a TLS configuration
# problem; retrying is right.
_NETWORK_TROUBLE = re.compile(
    r"timed? ?out|connection (\w+ )?(reset|aborted|closed)|broken pipe|eof|disconnected"
    r"|not connected",
    re.IGNORECASE,
)

# The resolver says the name does not exist (as opposed to "temporary failure
# in name resolution", which is a resolver outage and stays transient).
_HOST_UNKNOWN = re.compile(
    r"name or service not known|nodename nor servname|no address associated with hostname"
    r"|errno 11001",
    re.IGNORECASE,
)

#: Exchange Online statuses that mean the account may not send this way:
#: 5.7.139 basic or SMTP AUTH disabled / authentication unsuccessful,
#: 5.7.57 client not authenticated to send mail, 5.7.60 the account may not
#: send as this sender.
_ACCOUNT_NOT_PERMITTED = frozenset({"5.7.139", "5.7.57", "5.7.60"})


def _is_sent(reply: Reply) -> bool:
    return reply_class(reply) == 2


def _is_tls_failure(reply: Reply) -> bool:
    return (
        reply.stage is Stage.TLS and reply.code is None and not _NETWORK_TROUBLE.search(reply.text)
    )


def _is_tls_refused(reply: Reply) -> bool:
    return reply.stage is Stage.TLS and reply_class(reply) == 5


def _is_auth_code(reply: Reply) -> bool:
    return reply.code in (530, 534, 535)


def _is_account_not_permitted(reply: Reply) -> bool:
    return enhanced_status(reply) in _ACCOUNT_NOT_PERMITTED


def _is_auth_rejected(reply: Reply) -> bool:
    return reply.stage is Stage.AUTH and reply_class(reply) == 5


def _is_client_refused(reply: Reply) -> bool:
    return reply.stage is Stage.CONNECT and reply_class(reply) == 5


def _is_host_unknown(reply: Reply) -> bool:
    return (
        reply.stage is Stage.CONNECT
        and reply.code is None
        and _HOST_UNKNOWN.search(reply.text) is not None
    )


def _is_concurrency_status(reply: Reply) -> bool:
    return enhanced_status(reply) == "4.3.2" or reply.code == 432


def _is_greylisting(reply: Reply) -> bool:
    return reply_class(reply) == 4 and _GREYLIST.search(reply.text) is not None


def _is_throttle_text(reply: Reply) -> bool:
    return reply.code in (421, 450, 451, 452) and _THROTTLE_TEXT.search(reply.text) is not None


def _is_closing_try_later(reply: Reply) -> bool:
    return reply.code == 421 and _TRY_LATER.search(reply.text) is not None


def _is_temporary(reply: Reply) -> bool:
    return reply_class(reply) == 4


def _is_no_reply(reply: Reply) -> bool:
    return reply.code is None


def _is_permanent(reply: Reply) -> bool:
    return reply_class(reply) == 5


def _always(reply: Reply) -> bool:
    return True


#: The built-in rules, in the order they are tried.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(name="sent", outcome=Outcome.SENT, matches=_is_sent, description="Any 2xx reply."),
    Rule(
        name="tls-failure",
        outcome=Outcome.FATAL,
        matches=_is_tls_failure,
        description="A local error while setting up TLS (certificate verification, "
        "handshake, protocol version), unless it is a timeout or dropped connection.",
    ),
    Rule(
        name="tls-refused",
        outcome=Outcome.FATAL,
        matches=_is_tls_refused,
        description="A 5xx to STARTTLS: the server does not offer the TLS we require.",
    ),
    *HINTED_FATAL_RULES,
    Rule(
        name="auth-failed",
        outcome=Outcome.FATAL,
        matches=_is_auth_code,
        description="530 (authentication or TLS required), 534 (mechanism too weak "
        "or app password required) or 535 (credentials invalid), at any stage.",
    ),
    Rule(
        name="account-not-permitted",
        outcome=Outcome.FATAL,
        matches=_is_account_not_permitted,
        description="Exchange Online 5.7.139, 5.7.57 or 5.7.60: SMTP AUTH disabled, "
        "client not authenticated, or no permission to send as this sender.",
    ),
    Rule(
        name="auth-rejected",
        outcome=Outcome.FATAL,
        matches=_is_auth_rejected,
        description="Any 5xx during AUTH (such as 535 5.7.3 or 504 for an unknown "
        "mechanism); a 4xx such as 454 4.7.0 stays transient.",
    ),
    Rule(
        name="client-refused",
        outcome=Outcome.FATAL,
        matches=_is_client_refused,
        description="A 5xx greeting: the server refuses this client (blocked address, "
        "no service), so every message would fail the same way.",
    ),
    Rule(
        name="host-unknown",
        outcome=Outcome.FATAL,
        matches=_is_host_unknown,
        description="The server's host name does not resolve (a configuration error); "
        "a temporary resolver failure or a refused connection stays transient.",
    ),
    QUOTA_RULE,
    Rule(
        name="concurrency-status",
        outcome=Outcome.THROTTLED,
        matches=_is_concurrency_status,
        description="Enhanced status 4.3.2 or reply code 432: too many connections.",
    ),
    Rule(
        name="greylisting",
        outcome=Outcome.TRANSIENT,
        matches=_is_greylisting,
        description="A 4xx that mentions greylisting: about one sender and recipient, "
        "not about load.",
    ),
    RATE_RULE,
    Rule(
        name="throttle-text",
        outcome=Outcome.THROTTLED,
        matches=_is_throttle_text,
        description="421, 450, 451 or 452 whose text speaks of concurrent or too many "
        "connections, rate limits, an exceeded configured limit, throttling, "
        "deferral due to volume, or a busy server (case-insensitive).",
    ),
    Rule(
        name="closing-try-later",
        outcome=Outcome.THROTTLED,
        matches=_is_closing_try_later,
        description="421 with 'try again later': the server sheds the connection for load.",
    ),
    Rule(
        name="temporary",
        outcome=Outcome.TRANSIENT,
        matches=_is_temporary,
        description="Every other 4xx.",
    ),
    Rule(
        name="no-reply",
        outcome=Outcome.TRANSIENT,
        matches=_is_no_reply,
        description="A local error without a reply: socket error, refused or dropped "
        "connection, timeout.",
    ),
    Rule(
        name="permanent",
        outcome=Outcome.PERMANENT,
        matches=_is_permanent,
        description="Every other 5xx, such as 550 5.1.1 (no such user).",
    ),
    Rule(
        name="unexpected",
        outcome=Outcome.TRANSIENT,
        matches=_always,
        description="Any other code where a final reply was due; retrying is the safe side.",
    ),
)

#: The verdict when no rule matches (only possible with a custom rule list).
UNMATCHED = Verdict(outcome=Outcome.TRANSIENT, rule="unmatched")


class Classifier:
    """Decides the :class:`Outcome` of replies by trying rules in order."""

    def __init__(self, rules: Iterable[Rule] = DEFAULT_RULES) -> None:
        self._rules = tuple(rules)
        # Each rule's test and verdict, looked up once: this loop runs for
        # every reply of every message.
        self._tests = tuple((rule.matches, rule.verdict()) for rule in self._rules)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, in the order they are tried."""
        return self._rules

    @classmethod
    def from_patterns(
        cls,
        *,
        throttle: Sequence[str] = (),
        transient: Sequence[str] = (),
        permanent: Sequence[str] = (),
        fatal: Sequence[str] = (),
        base: Iterable[Rule] = DEFAULT_RULES,
    ) -> Classifier:
        """Site rules from regular expressions, tried before ``base``.

        Each pattern is searched case-insensitively in ``reply.describe()``
        (``"432 4.3.2 text"``). Site rules are tried fatal first, then throttle,
        transient and permanent (when unsure, retrying beats giving up), and
        never apply to a 2xx reply.
        """
        site: list[Rule] = []
        for outcome, patterns in (
            (Outcome.FATAL, fatal),
            (Outcome.THROTTLED, throttle),
            (Outcome.TRANSIENT, transient),
            (Outcome.PERMANENT, permanent),
        ):
            site.extend(_site_rule(outcome, pattern) for pattern in patterns)
        return cls([*site, *base])

    def classify(self, reply: Reply) -> Verdict:
        """The verdict of the first rule that matches ``reply``."""
        for matches, verdict in self._tests:
            if matches(reply):
                return verdict
        return UNMATCHED


def hint_for(reply: Reply) -> str | None:
    """What a person should do about ``reply``, as the built-in rules know it.

    Site patterns carry no hint, so the built-in rules are asked even when a
    site pattern decided the reply's outcome.
    """
    return _BUILT_IN.classify(reply).hint


_BUILT_IN = Classifier()


def _site_rule(outcome: Outcome, pattern: str) -> Rule:
    kind = "throttle" if outcome is Outcome.THROTTLED else outcome.value
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(
            f"The site {kind} pattern {pattern!r} is not a valid regular expression ({exc})."
        ) from None

    def matches(reply: Reply) -> bool:
        return not _is_sent(reply) and compiled.search(reply.describe()) is not None

    return Rule(
        name=f"site-{kind}: {pattern}",
        outcome=outcome,
        matches=matches,
        description=f"Site pattern {pattern!r} in the reply.",
    )
