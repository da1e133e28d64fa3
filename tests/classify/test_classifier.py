from __future__ import annotations

import pytest

from adaptsend._models import Outcome, Reply, Stage
from adaptsend.classify._classifier import (
    DEFAULT_RULES,
    UNMATCHED,
    Classifier,
    Rule,
    Verdict,
    hint_for,
    parse_reply,
)

CONNECT, TLS, AUTH, MAIL, RCPT, DATA = (
    Stage.CONNECT,
    Stage.TLS,
    Stage.AUTH,
    Stage.MAIL,
    Stage.RCPT,
    Stage.DATA,
)

# (code, raw text as a client library gives it, stage, outcome, rule)
CASES = [
    (250, "2.0.0 OK <id@example> Queued mail for delivery", DATA, Outcome.SENT, "sent"),
    (235, "2.7.0 Authentication successful", AUTH, Outcome.SENT, "sent"),
    # Fatal: authentication and configuration.
    (
        535,
        "5.7.8 Username and Password not accepted. Learn more at\n5.7.8  https://x.test/p",
        AUTH,
        Outcome.FATAL,
        "auth-failed",
    ),
    (
        535,
        "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
        AUTH,
        Outcome.FATAL,
        "smtp-auth-disabled",
    ),
    (535, "5.7.3 Authentication unsuccessful", AUTH, Outcome.FATAL, "auth-failed"),
    (534, "5.7.9 Application-specific password required.", AUTH, Outcome.FATAL, "auth-failed"),
    (530, "5.7.57 Client not authenticated to send mail.", MAIL, Outcome.FATAL, "auth-failed"),
    (530, "5.7.0 Must issue a STARTTLS command first.", MAIL, Outcome.FATAL, "auth-failed"),
    (
        550,
        "5.7.60 SMTP; Client does not have permissions to send as this sender",
        DATA,
        Outcome.FATAL,
        "account-not-permitted",
    ),
    (554, "5.7.139 Authentication unsuccessful", MAIL, Outcome.FATAL, "account-not-permitted"),
    (504, "5.7.4 Unrecognized authentication type", AUTH, Outcome.FATAL, "auth-rejected"),
    (454, "4.7.0 Temporary authentication failure", AUTH, Outcome.TRANSIENT, "temporary"),
    (
        None,
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate "
        "in certificate chain (_ssl.c:1006)",
        TLS,
        Outcome.FATAL,
        "tls-failure",
    ),
    (None, "[SSL: WRONG_VERSION_NUMBER] wrong version number", TLS, Outcome.FATAL, "tls-failure"),
    (None, "STARTTLS extension not supported by server.", TLS, Outcome.FATAL, "tls-failure"),
    (None, "The read operation timed out", TLS, Outcome.TRANSIENT, "no-reply"),
    (None, "[Errno 104] Connection reset by peer", TLS, Outcome.TRANSIENT, "no-reply"),
    (502, "5.5.1 Command not implemented", TLS, Outcome.FATAL, "tls-refused"),
    (454, "4.7.0 TLS not available due to temporary reason", TLS, Outcome.TRANSIENT, "temporary"),
    (554, "5.7.1 Client host blocked using zen.example", CONNECT, Outcome.FATAL, "client-refused"),
    (None, "[Errno -2] Name or service not known", CONNECT, Outcome.FATAL, "host-unknown"),
    (
        None,
        "[Errno 8] nodename nor servname provided, or not known",
        CONNECT,
        Outcome.FATAL,
        "host-unknown",
    ),
    (
        None,
        "[Errno -3] Temporary failure in name resolution",
        CONNECT,
        Outcome.TRANSIENT,
        "no-reply",
    ),
    (None, "[Errno 111] Connection refused", CONNECT, Outcome.TRANSIENT, "no-reply"),
    # Throttled.
    (
        432,
        "4.3.2 Concurrent connections limit exceeded",
        DATA,
        Outcome.THROTTLED,
        "concurrency-status",
    ),
    (432, "Concurrent connections limit exceeded", DATA, Outcome.THROTTLED, "concurrency-status"),
    (
        421,
        "4.3.2 The maximum number of concurrent server connections has exceeded a limit, "
        "closing transmission channel",
        CONNECT,
        Outcome.THROTTLED,
        "concurrency-status",
    ),
    (
        451,
        "4.3.2 System not accepting network messages",
        DATA,
        Outcome.THROTTLED,
        "concurrency-status",
    ),
    (
        421,
        "4.7.0 Try again later, closing connection. (EHLO) x-y.z - gsmtp",
        CONNECT,
        Outcome.THROTTLED,
        "closing-try-later",
    ),
    (
        421,
        "4.7.28 Our system has detected an unusual rate of unsolicited mail originating\n"
        "4.7.28 from your IP address. To protect our users from spam, mail sent from your\n"
        "4.7.28 IP address has been temporarily rate limited.",
        DATA,
        Outcome.RATE,
        "rate",
    ),
    (
        421,
        "4.4.2 Message submission rate for this client has exceeded the configured limit",
        DATA,
        Outcome.RATE,
        "rate",
    ),
    (
        421,
        "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume "
        "or user complaints - 4.16.55.1",
        MAIL,
        Outcome.THROTTLED,
        "throttle-text",
    ),
    (
        421,
        "TOO MANY CONCURRENT SMTP CONNECTIONS FROM THIS IP",
        CONNECT,
        Outcome.THROTTLED,
        "throttle-text",
    ),
    (450, "4.7.1 Client throttled, slow down", RCPT, Outcome.THROTTLED, "throttle-text"),
    (452, "Too many open connections from this host", MAIL, Outcome.THROTTLED, "throttle-text"),
    (453, "Too many open connections from this host", MAIL, Outcome.TRANSIENT, "temporary"),
    (451, "4.7.500 Server busy. Please try again later", DATA, Outcome.THROTTLED, "throttle-text"),
    # Transient: other 4xx and local errors.
    (
        451,
        "4.7.1 Greylisting in action, please try again later",
        RCPT,
        Outcome.TRANSIENT,
        "greylisting",
    ),
    (
        450,
        "4.2.0 Recipient address rejected: Greylisted, too many connections",
        RCPT,
        Outcome.TRANSIENT,
        "greylisting",
    ),
    (451, "4.7.1 Please try again later", RCPT, Outcome.TRANSIENT, "temporary"),
    (452, "4.5.3 Too many recipients", RCPT, Outcome.TRANSIENT, "temporary"),
    (452, "4.2.2 Recipient has exceeded their storage limit", RCPT, Outcome.TRANSIENT, "temporary"),
    (421, "4.4.2 Connection dropped due to timeout", DATA, Outcome.TRANSIENT, "temporary"),
    (
        450,
        "4.2.1 The user you are trying to contact is receiving mail at a rate that prevents "
        "additional messages from being delivered.",
        RCPT,
        Outcome.TRANSIENT,
        "temporary",
    ),
    (None, "Connection unexpectedly closed", DATA, Outcome.TRANSIENT, "no-reply"),
    (None, "timed out", MAIL, Outcome.TRANSIENT, "no-reply"),
    # Permanent: other 5xx.
    (550, "5.1.1 <nobody@example.test>: user unknown", RCPT, Outcome.PERMANENT, "permanent"),
    (554, "5.6.0 Corrupt message content", DATA, Outcome.PERMANENT, "permanent"),
    (552, "5.2.2 Mailbox size limit exceeded", DATA, Outcome.PERMANENT, "permanent"),
    # Anything else.
    (354, "Start mail input", DATA, Outcome.TRANSIENT, "unexpected"),
]


@pytest.mark.parametrize(("code", "text", "stage", "outcome", "rule"), CASES)
def test_default_rules(
    code: int | None, text: str, stage: Stage, outcome: Outcome, rule: str
) -> None:
    verdict = Classifier().classify(parse_reply(code, text, stage))
    assert (verdict.outcome, verdict.rule) == (outcome, rule)


def test_enhanced_code_is_read_from_the_text_when_nobody_parsed_it() -> None:
    reply = Reply(code=451, text="4.3.2 Concurrent connections limit exceeded", stage=DATA)
    assert Classifier().classify(reply) == Verdict(
        outcome=Outcome.THROTTLED, rule="concurrency-status"
    )


def test_default_rule_names_are_unique_and_documented() -> None:
    names = [rule.name for rule in DEFAULT_RULES]
    assert len(names) == len(set(names))
    assert all(rule.description for rule in DEFAULT_RULES)
    assert names[0] == "sent"
    assert names[-1] == "unexpected"


def test_no_matching_rule_is_transient() -> None:
    never = Rule(name="never", outcome=Outcome.FATAL, matches=lambda reply: False)
    verdict = Classifier([never]).classify(Reply(code=550, text="x"))
    assert verdict == UNMATCHED
    assert verdict.outcome is Outcome.TRANSIENT


# --- site patterns ----------------------------------------------------------


def test_site_patterns_win_over_the_built_ins() -> None:
    classifier = Classifier.from_patterns(
        throttle=[r"slow down"],
        transient=[r"^550 5\.7\.1 .*spam"],
        permanent=[r"4\.2\.2 .*over quota"],
        fatal=[r"relay access denied"],
    )
    cases = [
        (
            Reply(code=451, text="Please slow down", stage=DATA),
            Outcome.THROTTLED,
            "site-throttle: slow down",
        ),
        (
            Reply(code=550, enhanced="5.7.1", text="Looks like spam"),
            Outcome.TRANSIENT,
            r"site-transient: ^550 5\.7\.1 .*spam",
        ),
        (
            Reply(code=452, enhanced="4.2.2", text="Mailbox over quota"),
            Outcome.PERMANENT,
            r"site-permanent: 4\.2\.2 .*over quota",
        ),
        (
            Reply(code=554, enhanced="5.7.1", text="Relay access denied"),
            Outcome.FATAL,
            "site-fatal: relay access denied",
        ),
    ]
    for reply, outcome, rule in cases:
        assert classifier.classify(reply) == Verdict(outcome=outcome, rule=rule)
    # Replies the site rules do not mention still get the built-in verdicts.
    assert classifier.classify(Reply(code=550, enhanced="5.1.1", text="unknown")) == Verdict(
        outcome=Outcome.PERMANENT, rule="permanent"
    )


def test_site_patterns_ignore_case() -> None:
    classifier = Classifier.from_patterns(throttle=["SLOW DOWN"])
    verdict = classifier.classify(Reply(code=451, text="please slow down"))
    assert verdict.outcome is Outcome.THROTTLED


def test_site_patterns_never_touch_an_accepted_message() -> None:
    classifier = Classifier.from_patterns(fatal=["ok"], transient=["."])
    assert classifier.classify(Reply(code=250, text="OK queued")) == Verdict(
        outcome=Outcome.SENT, rule="sent"
    )


def test_site_rule_order_prefers_fatal_then_throttle_then_transient() -> None:
    classifier = Classifier.from_patterns(
        permanent=["blocked"], transient=["blocked"], throttle=["blocked"], fatal=["blocked"]
    )
    assert [rule.name for rule in classifier.rules[:4]] == [
        "site-fatal: blocked",
        "site-throttle: blocked",
        "site-transient: blocked",
        "site-permanent: blocked",
    ]
    assert classifier.rules[4:] == DEFAULT_RULES
    classifier = Classifier.from_patterns(permanent=["blocked"], transient=["blocked"])
    assert classifier.classify(Reply(code=554, text="blocked")).outcome is Outcome.TRANSIENT


def test_a_bad_pattern_names_itself() -> None:
    with pytest.raises(ValueError, match=r"The site throttle pattern '\(oops' is not a valid") as e:
        Classifier.from_patterns(transient=["fine"], throttle=["(oops"])
    assert str(e.value).endswith(").")
    assert str(e.value).count(". ") == 0


# --- parse_reply ------------------------------------------------------------


def test_parse_splits_the_enhanced_code_from_bytes() -> None:
    reply = parse_reply(432, b"4.3.2 Concurrent connections limit exceeded", DATA)
    assert reply == Reply(
        code=432, enhanced="4.3.2", text="Concurrent connections limit exceeded", stage=DATA
    )
    assert reply.describe() == "432 4.3.2 Concurrent connections limit exceeded"


def test_parse_joins_multi_line_replies_and_drops_repeated_codes() -> None:
    raw = (
        b"5.7.8 Username and Password not accepted. Learn more at\n"
        b"5.7.8  https://support.example/p=BadCredentials x-y.z - gsmtp"
    )
    reply = parse_reply(535, raw, AUTH)
    assert reply.enhanced == "5.7.8"
    assert reply.text == (
        "Username and Password not accepted. Learn more at "
        "https://support.example/p=BadCredentials x-y.z - gsmtp"
    )
    assert reply.stage is AUTH


def test_parse_decodes_bad_bytes_with_replacement() -> None:
    reply = parse_reply(550, b"5.1.1 Unbekannter Empf\xe4nger", RCPT)
    assert reply.text == "Unbekannter Empf\ufffdnger"
    assert reply.enhanced == "5.1.1"


def test_parse_keeps_a_code_that_disagrees_with_the_reply_class() -> None:
    reply = parse_reply(250, "4.3.2 odd but accepted", DATA)
    assert (reply.enhanced, reply.text) == (None, "4.3.2 odd but accepted")


@pytest.mark.parametrize(
    ("code", "text", "enhanced", "clean"),
    [
        (None, "4.3.2 local error text", None, "4.3.2 local error text"),
        (421, b"", None, ""),
        (535, "5.7.139 Authentication unsuccessful", "5.7.139", "Authentication unsuccessful"),
        (421, "4.3.2.1 not a status", None, "4.3.2.1 not a status"),
        (451, "4.3.0", "4.3.0", ""),
        (550, "line one\r\n\r\n  line two  ", None, "line one line two"),
        (451, "4.4.1 first\n4.4.2 second", "4.4.1", "first 4.4.2 second"),
    ],
)
def test_parse_edge_cases(
    code: int | None, text: bytes | str, enhanced: str | None, clean: str
) -> None:
    reply = parse_reply(code, text, DATA)
    assert (reply.enhanced, reply.text) == (enhanced, clean)


# --- hints -------------------------------------------------------------------


def test_a_hinted_rule_puts_its_hint_in_the_verdict() -> None:
    reply = parse_reply(
        550, "5.2.253 Sender throttled due to continuous invalid license errors.", MAIL
    )
    verdict = Classifier().classify(reply)
    assert (verdict.outcome, verdict.rule) == (Outcome.FATAL, "sender-unlicensed")
    assert verdict.hint is not None and "licence" in verdict.hint
    assert hint_for(reply) == verdict.hint


def test_a_site_pattern_has_no_hint_but_hint_for_asks_the_built_in_rules() -> None:
    reply = parse_reply(
        550, "5.7.30 Basic authentication is not supported for Client Submission.", AUTH
    )
    classifier = Classifier.from_patterns(fatal=["basic authentication"])
    verdict = classifier.classify(reply)
    assert verdict == Verdict(outcome=Outcome.FATAL, rule="site-fatal: basic authentication")
    hint = hint_for(reply)
    assert hint is not None and "xoauth2" in hint


def test_replies_the_rules_know_no_remedy_for_have_no_hint() -> None:
    assert hint_for(parse_reply(535, "5.7.8 Username and Password not accepted.", AUTH)) is None
    assert hint_for(parse_reply(250, "2.0.0 OK", DATA)) is None
    # The daily submission quota is not the sender's full mailbox.
    quota = parse_reply(
        554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException", DATA
    )
    assert Classifier().classify(quota) == Verdict(outcome=Outcome.QUOTA, rule="quota")
