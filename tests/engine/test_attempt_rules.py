"""Every attempt's row names the rule that decided its outcome: a classifier
rule, a site pattern, or the transport's own verdict. Real runs over
loopback SMTP into a real SQLite file, and once into each server database."""

from __future__ import annotations

from typing import Any

from adaptsend import AttemptRecord, Message, Status, config_from_dict, hookimpl, send_batch_async
from adaptsend.plugins._manager import load_plugins
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows
from tests.helpers.messages import batch

NOBODY = "nobody@example.com"
REFUSAL = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"


def _to(address: str, n: int = 0, *, text: str = "t") -> Message:
    return Message(
        sender="reports@example.com",
        to=(address,),
        text=text,
        message_id=f"<to-{n}-{address}>",
    )


def _judged(db_url: str) -> list[tuple[str, str | None]]:
    """(outcome, rule) of every attempt, in the order written."""
    return [(o, r) for o, r in rows(db_url, "SELECT outcome, rule FROM attempts ORDER BY id")]


async def test_throttles_refusals_and_deliveries_name_their_rules(db_ready: str) -> None:
    # One connection allowed and three opened: 4.3.2 at DATA for the extra ones.
    with ThrottlingSMTPServer(limit=1, latency_s=0.02, rcpt_replies={NOBODY: REFUSAL}) as server:
        raw: dict[str, Any] = {
            "store": {"url": db_ready},
            "smtp": {"host": server.host, "port": server.port, "timeout_s": 10},
            "limiter": {"initial_cap": 3, "min_cap": 1, "max_cap": 3},
            "retry": {"base_delay_s": 0.05, "max_delay_s": 0.5},
        }
        report = await send_batch_async([*batch(8), _to(NOBODY)], config=config_from_dict(raw))

    assert server.rejections > 0
    judged = _judged(db_ready)
    assert judged.count(("throttled", "concurrency-status")) == server.rejections
    assert judged.count(("sent", "sent")) == server.delivered == 8
    assert judged.count(("permanent", "permanent")) == 1
    assert len(judged) == server.rejections + 9
    assert report.run.failed == 1


async def test_a_lost_final_reply_is_recorded_as_no_final_reply(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer(lose_reply_every=3) as server:
        config = make_config(server, limiter={"initial_cap": 1, "min_cap": 1, "max_cap": 1})
        report = await send_batch_async(batch(6), config=config)

    assert report.ok and server.replies_lost >= 2
    judged = _judged(db_url)
    assert judged.count(("unknown", "no-final-reply")) == server.replies_lost
    assert {rule for _, rule in judged} == {"sent", "no-final-reply"}


async def test_a_site_pattern_is_recorded_with_its_kind_and_pattern(
    make_config: MakeConfig, db_url: str
) -> None:
    held = "policy@example.com"
    with ThrottlingSMTPServer(rcpt_replies={held: "451 4.7.999 Held by policy"}) as server:
        config = make_config(server, classifier={"permanent": [r"4\.7\.999"]})
        report = await send_batch_async([_to(held), *batch(1)], config=config)

    # Without the pattern a 451 is transient (rule temporary) and retried.
    assert [r.status for r in report.results] == [Status.FAILED, Status.SENT]
    # The two messages go on two connections at once: either may be written first.
    site_rule = r"site-permanent: 4\.7\.999"
    assert sorted(_judged(db_url)) == [("permanent", site_rule), ("sent", "sent")]


async def test_a_message_refused_before_sending_names_that_check(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer() as server:
        config = make_config(server, smtp={"max_message_bytes": 2000})
        report = await send_batch_async([_to("a@example.com", text="x" * 5000)], config=config)

    assert [r.status for r in report.results] == [Status.FAILED]
    assert server.delivered == 0
    assert _judged(db_url) == [("permanent", "refused-before-sending")]


async def test_a_server_without_what_the_configuration_asks_is_fatal_by_configuration(
    make_config: MakeConfig, db_url: str
) -> None:
    # The test server offers no STARTTLS unless it is given a certificate.
    with ThrottlingSMTPServer() as server:
        config = make_config(server, smtp={"tls": "starttls"})
        report = await send_batch_async(batch(2), config=config)

    assert report.run.fatal is not None
    assert server.delivered == 0
    # Each connection opened before the stop met the same refusal.
    judged = _judged(db_url)
    assert judged and set(judged) == {("fatal", "configuration")}


class _Heard:
    """An observer plugin that keeps (outcome, rule) of every recorded attempt."""

    def __init__(self) -> None:
        self.judged: list[tuple[str, str | None]] = []

    @hookimpl
    def adaptsend_attempt_recorded(self, attempt: AttemptRecord) -> None:
        self.judged.append((attempt.outcome.value, attempt.rule))


async def test_observers_hear_each_attempt_with_the_rule_its_row_keeps(
    make_config: MakeConfig, db_url: str
) -> None:
    heard = _Heard()
    plugins = load_plugins(entry_points=False, extra=[heard])
    with ThrottlingSMTPServer(rcpt_replies={NOBODY: REFUSAL}) as server:
        config = make_config(server)
        await send_batch_async([*batch(3), _to(NOBODY)], config=config, plugins=plugins)

    assert sorted(heard.judged) == sorted(_judged(db_url))
    assert sorted(heard.judged) == [("permanent", "permanent"), *[("sent", "sent")] * 3]
