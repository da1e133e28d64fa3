"""What a reply means is the transport's word: the SMTP transport judges its
replies (refused recipients too) with the classifier made from
``[classifier]``; a transport that returns plain replies is judged by that
same classifier, as before transports could judge their own. Real runs over
loopback SMTP into a real SQLite file, and small transports of a third
party's kind."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import pytest
import trio

from adaptsend import (
    Agent,
    ClassifierConfig,
    ConfigError,
    Envelope,
    Message,
    Outcome,
    Reply,
    SendResult,
    Stage,
    Status,
    config_from_dict,
    hookimpl,
    send_batch_async,
)
from adaptsend.classify._classifier import Classifier, Verdict
from adaptsend.config._settings import Config, SMTPConfig
from adaptsend.engine._judge import reply_classifier
from adaptsend.plugins._manager import load_plugins
from adaptsend.testing import ThrottlingSMTPServer
from adaptsend.transports._contract import ClassifiesReplies
from adaptsend.transports.smtp._transport import SMTPTransport
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows

OK = "ok@example.com"
HELD = "held@example.com"
GONE = "gone@example.com"
#: Transient by the built-in rules (rule ``temporary``); permanent by the pattern.
HELD_REPLY = "451 4.7.999 Held by policy"
HELD_PATTERN = r"4\.7\.999"
SITE_RULE = r"site-permanent: 4\.7\.999"


def _to(*recipients: str) -> Message:
    return Message(
        sender="reports@example.com",
        to=recipients,
        text="t",
        message_id=f"<to-{len(recipients)}@example.com>",
    )


def _judged(db_url: str) -> list[tuple[str, str | None, str | None]]:
    """(outcome, rule, recipient) of every attempt, sorted."""
    return sorted(rows(db_url, "SELECT outcome, rule, recipient FROM attempts"), key=str)


def _site_config(db_url: str, **sections: dict[str, object]) -> Config:
    raw: dict[str, object] = {
        "store": {"url": db_url},
        "classifier": {"permanent": [HELD_PATTERN]},
        "retry": {"base_delay_s": 0.05, "max_delay_s": 0.5},
        **sections,
    }
    return config_from_dict(raw)


class _StrictSMTP:
    """Registers ``strict-smtp``: the SMTP transport with a classifier of its
    own, apart from the configuration's ``[classifier]``."""

    @hookimpl
    def adaptsend_register_transports(self, register: Callable[[str, object], None]) -> None:
        def make(config: Config, threads: trio.CapacityLimiter) -> SMTPTransport:
            strict = Classifier.from_patterns(permanent=[HELD_PATTERN])
            return SMTPTransport(config.smtp, threads=threads, classifier=strict)

        register("strict-smtp", make)


async def test_a_site_pattern_decides_a_refused_recipient_of_an_smtp_run(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer(rcpt_replies={HELD: HELD_REPLY}) as server:
        config = make_config(server, classifier={"permanent": [HELD_PATTERN]})
        report = await send_batch_async([_to(OK, HELD)], config=config)

    assert [r.status for r in report.results] == [Status.FAILED]
    assert server.delivered == 1
    assert _judged(db_url) == [("permanent", SITE_RULE, HELD), ("sent", "sent", None)]


async def test_the_engine_asks_the_transport_what_a_refused_recipient_means(
    make_config: MakeConfig, db_url: str
) -> None:
    # No [classifier] patterns: only the transport's own classifier knows the
    # pattern, so only it can make the refusal permanent.
    plugins = load_plugins(entry_points=False, extra=[_StrictSMTP()])
    with ThrottlingSMTPServer(rcpt_replies={HELD: HELD_REPLY}) as server:
        config = make_config(server, run={"transport": "strict-smtp"})
        report = await send_batch_async([_to(OK, HELD)], config=config, plugins=plugins)

    assert [r.status for r in report.results] == [Status.FAILED]
    assert _judged(db_url) == [("permanent", SITE_RULE, HELD), ("sent", "sent", None)]


async def test_without_the_pattern_the_same_refusal_is_retried(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer(rcpt_replies={HELD: HELD_REPLY}) as server:
        config = make_config(server, retry={"max_attempts": 2})
        report = await send_batch_async([_to(OK, HELD)], config=config)

    # Tried twice for the held recipient alone, then given up.
    assert [r.status for r in report.results] == [Status.DEAD]
    judged = _judged(db_url)
    assert judged.count(("transient", "temporary", HELD)) == 2
    assert ("sent", "sent", None) in judged


@attrs.define(eq=False)
class _PlainReplies:
    """A transport of a third party's kind: it answers with SMTP-like replies
    and leaves their meaning to adaptsend. The first send is told to wait
    (a concurrency throttle); then every message is accepted except for the
    recipients in ``refusals``."""

    refusals: dict[str, Reply]
    sending_key: str = "plain@test"
    sends: int = 0

    async def connect(self) -> _PlainReplies:
        await trio.lowlevel.checkpoint()
        return self

    async def send(self, envelope: Envelope) -> SendResult:
        await trio.lowlevel.checkpoint()
        self.sends += 1
        if self.sends == 1:
            busy = Reply(code=432, enhanced="4.3.2", text="Too many concurrent connections")
            return SendResult(reply=busy, connection_usable=False)
        refused = {r: self.refusals[r] for r in envelope.recipients if r in self.refusals}
        accepted = Reply(code=250, enhanced="2.0.0", text="accepted", stage=Stage.DATA)
        return SendResult(reply=accepted, refused=refused)

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()

    @hookimpl
    def adaptsend_register_transports(self, register: Callable[[str, object], None]) -> None:
        register("plain", lambda _config, _threads: self)


async def test_plain_replies_of_a_transport_are_judged_by_the_site_classifier(
    db_url: str,
) -> None:
    transport = _PlainReplies(
        refusals={
            GONE: Reply(code=550, enhanced="5.1.1", text="User unknown", stage=Stage.RCPT),
            HELD: Reply(code=451, enhanced="4.7.999", text="Held by policy", stage=Stage.RCPT),
        }
    )
    plugins = load_plugins(entry_points=False, extra=[transport])
    config = _site_config(db_url, run={"transport": "plain"})
    report = await send_batch_async([_to(OK, GONE, HELD)], config=config, plugins=plugins)

    assert [r.status for r in report.results] == [Status.FAILED]
    assert _judged(db_url) == [
        ("permanent", "permanent", GONE),
        ("permanent", SITE_RULE, HELD),
        ("sent", "sent", None),
        ("throttled", "concurrency-status", None),
    ]


@attrs.define(eq=False)
class _OwnWords:
    """A transport that judges its own replies: every refusal is permanent
    under a rule of its own, whatever the reply says."""

    sending_key: str = "own-words@test"
    asked: list[Reply] = attrs.field(factory=list)

    def classify(self, reply: Reply) -> Verdict:
        self.asked.append(reply)
        if reply.code == 250:
            return Verdict(outcome=Outcome.SENT, rule="own-accepted")
        return Verdict(outcome=Outcome.PERMANENT, rule="own-refusal")

    async def connect(self) -> _OwnWords:
        await trio.lowlevel.checkpoint()
        return self

    async def send(self, envelope: Envelope) -> SendResult:
        await trio.lowlevel.checkpoint()
        # Transient by the built-in rules: only this transport's word fails it.
        refused = {HELD: Reply(code=450, text="mailbox busy", stage=Stage.RCPT)}
        return SendResult(reply=Reply(code=250, text="accepted", stage=Stage.DATA), refused=refused)

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()

    @hookimpl
    def adaptsend_register_transports(self, register: Callable[[str, object], None]) -> None:
        register("own-words", lambda _config, _threads: self)


async def test_a_transport_that_classifies_is_asked_for_each_reply(db_url: str) -> None:
    transport = _OwnWords()
    plugins = load_plugins(entry_points=False, extra=[transport])
    config = _site_config(db_url, run={"transport": "own-words"})
    report = await send_batch_async([_to(OK, HELD)], config=config, plugins=plugins)

    assert [r.status for r in report.results] == [Status.FAILED]
    assert _judged(db_url) == [("permanent", "own-refusal", HELD), ("sent", "own-accepted", None)]
    assert [(r.code, r.text) for r in transport.asked] == [(250, "accepted"), (450, "mailbox busy")]


def _smtp(classifier: Classifier | None = None) -> SMTPTransport:
    return SMTPTransport(SMTPConfig(), threads=trio.CapacityLimiter(1), classifier=classifier)


def _default(reply: Reply) -> Verdict:
    return Verdict(outcome=Outcome.TRANSIENT, rule="the-default")


HELD_451 = Reply(code=451, enhanced="4.7.999", text="Held by policy", stage=Stage.RCPT)


def test_the_smtp_transport_judges_with_its_classifier_not_the_default() -> None:
    transport = _smtp(Classifier.from_patterns(permanent=[HELD_PATTERN]))
    assert isinstance(transport, ClassifiesReplies)
    classify = reply_classifier(transport, default=_default)
    assert classify(HELD_451) == Verdict(outcome=Outcome.PERMANENT, rule=SITE_RULE)


def test_the_smtp_transport_alone_judges_by_the_built_in_rules() -> None:
    classify = reply_classifier(_smtp(), default=_default)
    assert classify(HELD_451) == Verdict(outcome=Outcome.TRANSIENT, rule="temporary")


def test_a_transport_without_classify_is_judged_by_the_default() -> None:
    plain = _PlainReplies(refusals={})
    assert not isinstance(plain, ClassifiesReplies)
    classify = reply_classifier(plain, default=_default)
    assert classify(HELD_451) == Verdict(outcome=Outcome.TRANSIENT, rule="the-default")


@pytest.mark.parametrize(
    ("patterns", "outcome"),
    [((), Outcome.TRANSIENT), ((HELD_PATTERN,), Outcome.PERMANENT)],
)
def test_the_agent_classifies_as_its_smtp_transport_does(
    db_url: str, patterns: Sequence[str], outcome: Outcome
) -> None:
    config = config_from_dict(
        {"store": {"url": db_url}, "classifier": {"permanent": list(patterns)}}
    )
    with Agent(config) as agent:
        transport = agent.transport
        assert isinstance(transport, ClassifiesReplies)
        assert agent.classify(HELD_451) is outcome
        assert transport.classify(HELD_451).outcome is outcome


def test_a_bad_site_pattern_stops_the_agent_at_start(db_url: str) -> None:
    # The configuration's own check is bypassed, as code that builds a
    # config without it could: the agent still refuses with one sentence.
    with attrs.validators.disabled():
        patterns = ClassifierConfig(throttle=("(busy",))
    config = attrs.evolve(config_from_dict({"store": {"url": db_url}}), classifier=patterns)
    with pytest.raises(ConfigError) as caught:
        Agent(config)
    assert str(caught.value).startswith(
        "[classifier]: The site throttle pattern '(busy' is not a valid regular expression ("
    )
