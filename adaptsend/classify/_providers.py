"""Rules for replies that name one provider's limit or policy.

Three groups, each placed in :data:`adaptsend.classify._classifier.DEFAULT_RULES`
ahead of the general rule that would otherwise take the reply:

- :data:`HINTED_FATAL_RULES`: Exchange Online replies that no retry can
  cure. Each carries a hint, the one sentence a person needs to fix it.
- :data:`QUOTA_RULE`: a daily sending limit, which clears with time.
- :data:`RATE_RULE`: "too many messages, too fast": outcome ``rate``, which
  cuts the adaptive message rate (see ``limits._rate_adapt``), not the connection cap.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from adaptsend._models import Outcome, Reply
from adaptsend.classify._rules import Rule, enhanced_status, reply_class

# --- Exchange Online: a person must act ----------------------------------------

# Microsoft retires Basic authentication for SMTP AUTH with 5.7.30; a tenant
# that switched it off earlier answers 5.7.139 with these words.
_BASIC_AUTH_OFF = re.compile(r"basic authentication is disabled", re.IGNORECASE)
_SMTP_AUTH_OFF = re.compile(r"SmtpClientAuthentication is disabled", re.IGNORECASE)

# Only the submission of the sender's own copy: not a recipient's full store
# ("STOREDRV.Deliver"), and not the daily "SubmissionQuotaExceededException".
_SENDER_STORE_FULL = re.compile(r"Submission\.Exception:QuotaExceededException", re.IGNORECASE)


def _is_basic_auth_refused(reply: Reply) -> bool:
    status = enhanced_status(reply)
    return status == "5.7.30" or (
        status == "5.7.139" and _BASIC_AUTH_OFF.search(reply.text) is not None
    )


def _is_smtp_auth_disabled(reply: Reply) -> bool:
    return enhanced_status(reply) == "5.7.139" and _SMTP_AUTH_OFF.search(reply.text) is not None


def _is_sender_mailbox_full(reply: Reply) -> bool:
    return enhanced_status(reply) == "5.2.251" or (
        reply_class(reply) == 5 and _SENDER_STORE_FULL.search(reply.text) is not None
    )


def _has_status(status: str) -> Callable[[Reply], bool]:
    def matches(reply: Reply) -> bool:
        return enhanced_status(reply) == status

    return matches


#: Exchange Online's continuous-error throttling of SMTP AUTH (5.2.251 to
#: 5.2.255) stops the mailbox from sending for a while after repeated errors
#: of one kind; sending on only prolongs it, and the cause is the mailbox's or
#: the configuration's, never the message's. 5.2.251 is with the mailbox-full rule.
_CONTINUOUS_ERRORS = (
    (
        "sender-send-as-denied",
        "5.2.252",
        "repeated refusals to send as the From address",
        "The account may not send as the messages' From address: an administrator "
        "must grant it Send As on that address, or the messages must come from the "
        "account's own address; then run again later.",
    ),
    (
        "sender-unlicensed",
        "5.2.253",
        "repeated invalid-licence errors",
        "The sending mailbox has no valid Exchange Online licence: an administrator "
        "must assign one; then run again later.",
    ),
    (
        "sender-too-many-recipients",
        "5.2.254",
        "repeated too-many-recipients errors",
        "Messages had more recipients than the account may address at once: set "
        "[smtp] max_recipients at or below the account's recipient limit, then run "
        "again later.",
    ),
    (
        "sender-invalid-recipients",
        "5.2.255",
        "repeated invalid recipients",
        "Many messages went to addresses that do not exist: remove them where the "
        "messages come from (adaptsend status lists the recent failures), then run "
        "again later.",
    ),
)

#: Fatal replies with a hint, tried before the general authentication rules.
HINTED_FATAL_RULES: tuple[Rule, ...] = (
    Rule(
        name="basic-auth-refused",
        outcome=Outcome.FATAL,
        matches=_is_basic_auth_refused,
        description="Exchange Online 5.7.30, or 5.7.139 saying basic authentication "
        "is disabled: a password is no longer accepted for SMTP AUTH.",
        hint="Exchange Online refuses Basic authentication (a password) for SMTP "
        'AUTH: set [smtp] auth = "xoauth2" and its [smtp.oauth] settings '
        "(see docs/oauth.md).",
    ),
    Rule(
        name="smtp-auth-disabled",
        outcome=Outcome.FATAL,
        matches=_is_smtp_auth_disabled,
        description="Exchange Online 5.7.139 saying SmtpClientAuthentication is "
        "disabled for the tenant or the mailbox.",
        hint="SMTP AUTH is disabled for the tenant or mailbox: an administrator must "
        "enable it for this mailbox (Set-CASMailbox -Identity <mailbox> "
        "-SmtpClientAuthenticationDisabled $false), which overrides the tenant setting.",
    ),
    Rule(
        name="sender-mailbox-full",
        outcome=Outcome.FATAL,
        matches=_is_sender_mailbox_full,
        description="Exchange Online 5.2.251 (sender throttled after repeated "
        "mailbox-full errors) or a 5xx with "
        "'Submission.Exception:QuotaExceededException': the sending mailbox is full.",
        hint="The sending mailbox is full (Exchange Online keeps a copy of every "
        "message sent with SMTP AUTH in Sent Items): empty Sent Items or raise the "
        "mailbox's quota, then run again later.",
    ),
    *(
        Rule(
            name=name,
            outcome=Outcome.FATAL,
            matches=_has_status(status),
            description=f"Exchange Online {status}: sender throttled after {cause}.",
            hint=hint,
        )
        for name, status, cause, hint in _CONTINUOUS_ERRORS
    ),
)

# --- Quotas that clear with time -----------------------------------------------

# Exchange Online's submission quota, and "daily ... limit/quota" as Exchange
# Online (recipients, external recipients), Gmail (user, SMTP relay) and
# Amazon SES (message quota) word it.
_QUOTA_TEXT = re.compile(
    r"SubmissionQuotaExceeded|\bdaily\b[\w ]{0,40}?\b(limit|quota)\b", re.IGNORECASE
)

#: Exchange Online: 5.1.90 daily recipient limit, 5.7.233 the tenant's daily
#: limit for external recipients.
_QUOTA_STATUSES = frozenset({"5.1.90", "5.7.233"})


def _is_quota(reply: Reply) -> bool:
    return reply_class(reply) in (4, 5) and (
        enhanced_status(reply) in _QUOTA_STATUSES or _QUOTA_TEXT.search(reply.text) is not None
    )


QUOTA_RULE = Rule(
    name="quota",
    outcome=Outcome.QUOTA,
    matches=_is_quota,
    description="A 4xx or 5xx about a daily sending quota: Exchange Online "
    "SubmissionQuotaExceeded, 5.1.90 or 5.7.233; any text with 'daily ... limit' "
    "or 'daily ... quota' (Gmail 5.4.5, Amazon SES 454).",
)

# --- Message rate --------------------------------------------------------------

# Messages per unit of time, as opposed to open connections. A connection
# rate stays with the connection throttles.
_RATE_TEXT = re.compile(
    r"\b(sending|submission|message|send) rate\b"
    r"|rate[- ]?limit"
    r"|peak smtp relay limit"
    r"|too much mail from",
    re.IGNORECASE,
)
_CONNECTION_RATE = re.compile(r"connection rate|rate of connections", re.IGNORECASE)


def _is_rate(reply: Reply) -> bool:
    return (
        reply.code in (421, 450, 451, 452, 454)
        and _RATE_TEXT.search(reply.text) is not None
        and _CONNECTION_RATE.search(reply.text) is None
    )


RATE_RULE = Rule(
    name="rate",
    outcome=Outcome.RATE,
    matches=_is_rate,
    description="421, 450, 451, 452 or 454 whose text speaks of a sending, "
    "submission or message rate, a rate limit, Gmail's peak SMTP relay limit or "
    "Postfix's 'too much mail from' (not a connection rate). Cuts the message "
    "rate, not the connection cap.",
)
