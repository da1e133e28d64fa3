"""End to end: real SMTP over TCP on 127.0.0.1, a real SQLite file, the real
dispatcher. Each test asserts what arrived at the server and what was recorded."""

from __future__ import annotations

from adaptsend import Agent, Message, Status, send_batch_async
from adaptsend.limits._policy import SEARCH_TRIALS
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows
from tests.helpers.messages import batch
from tests.helpers.observers import StopAfter


async def test_200_messages_through_a_hidden_limit_of_3(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer(limit=3, latency_s=0.005) as server:
        report = await send_batch_async(batch(200), config=make_config(server))

    assert report.ok
    assert len(server.deliveries) == 200
    assert set(server.deliveries.values()) == {1}
    # Finding the limit costs one over-shoot (two connections on trial at
    # most), not a saw-tooth: one cut, and every later refusal is a probe of
    # the ceiling it learned. (How many probes come due depends on how fast
    # this machine sends, so the test counts them rather than fixing them.)
    assert server.max_concurrent in (4, 5)
    changes = rows(db_url, "SELECT reason, ceiling FROM cap_changes WHERE reason <> 'growth'")
    assert [c for c in changes if c[0] == "throttle"] == [("throttle", 4.0)]
    probes = sum(1 for reason, _ in changes if reason == "probe")
    assert 1 <= server.rejections <= SEARCH_TRIALS + probes
    attempts = rows(db_url, "SELECT outcome, count(*) FROM attempts GROUP BY outcome")
    outcomes = dict(attempts)
    assert outcomes["sent"] == 200
    assert outcomes.get("throttled", 0) == server.rejections
    assert report.run.attempts == 200 + server.rejections
    assert rows(db_url, "SELECT status, count(*) FROM messages GROUP BY status") == [("sent", 200)]
    assert {r.status for r in report.results} == {Status.SENT}
    # Each attempt records the cap and the sends in flight (itself included) as it began.
    [(low, high, top_cap)] = rows(
        db_url, "SELECT min(in_flight), max(in_flight), max(cap) FROM attempts"
    )
    assert low >= 1
    assert high <= top_cap <= 5


async def test_the_limit_drops_from_6_to_2_mid_run(make_config: MakeConfig, db_url: str) -> None:
    with ThrottlingSMTPServer(schedule=[(0, 6), (0.3, 2)], latency_s=0.01) as server:
        config = make_config(server, limiter={"initial_cap": 6, "max_cap": 8})
        report = await send_batch_async(batch(150), config=config)

    assert report.ok
    assert len(server.deliveries) == 150
    assert set(server.deliveries.values()) == {1}
    assert server.rejections >= 1
    assert report.run.final_cap <= 3
    assert rows(db_url, "SELECT count(*) FROM attempts WHERE outcome = 'throttled'") == [
        (server.rejections,)
    ]


async def test_a_refused_recipient_fails_only_its_message(make_config: MakeConfig) -> None:
    refused = {"nobody@example.com": "550 5.1.1 User unknown"}
    messages = batch(5) + batch(1, to="nobody@example.com")
    messages[-1] = Message(
        sender="reports@example.com", to=("nobody@example.com",), subject="x", text="y"
    )
    with ThrottlingSMTPServer(rcpt_replies=refused) as server:
        report = await send_batch_async(messages, config=make_config(server))

    assert [r.status for r in report.results] == [Status.SENT] * 5 + [Status.FAILED]
    failed = report.results[-1]
    assert failed.last_reply is not None
    assert (failed.last_reply.code, failed.last_reply.enhanced) == (550, "5.1.1")
    assert server.delivered == 5
    assert report.run.failed == 1


async def test_partial_refusal_sends_once_and_keeps_the_refused_recipient(
    make_config: MakeConfig, db_url: str
) -> None:
    refused = {"nobody@example.com": "550 5.1.1 User unknown"}
    message = Message(
        sender="reports@example.com",
        to=("team@example.com", "nobody@example.com"),
        subject="x",
        text="y",
    )
    with ThrottlingSMTPServer(rcpt_replies=refused) as server:
        report = await send_batch_async([message], config=make_config(server))

    assert server.delivered == 1
    assert list(server.received[0].rcpt_tos) == ["team@example.com"]
    assert report.results[0].status is Status.FAILED
    assert rows(db_url, "SELECT recipients FROM messages") == [('["nobody@example.com"]',)]
    assert rows(
        db_url, "SELECT recipient, reply_code FROM attempts WHERE recipient IS NOT NULL"
    ) == [("nobody@example.com", 550)]


async def test_a_temporary_recipient_refusal_is_retried_for_that_recipient_only(
    make_config: MakeConfig,
) -> None:
    with ThrottlingSMTPServer(rcpt_replies={"later@example.com": "451 4.3.0 Try later"}) as server:
        message = Message(
            sender="reports@example.com",
            to=("team@example.com", "later@example.com"),
            subject="x",
            text="y",
        )
        report = await send_batch_async(
            [message], config=make_config(server, retry={"max_attempts": 3})
        )

    # The accepted recipient got it once; the refused one was tried until dead.
    assert [list(m.rcpt_tos) for m in server.received] == [["team@example.com"]]
    assert report.results[0].status is Status.DEAD
    assert report.results[0].attempts == 3


async def test_authentication_failure_stops_the_run_and_keeps_everything_queued(
    make_config: MakeConfig, db_url: str
) -> None:
    reply = (
        "535 5.7.139 Authentication unsuccessful, the request did not meet the "
        "criteria to be authenticated successfully."
    )
    with ThrottlingSMTPServer(auth_reply=reply) as server:
        config = make_config(server, smtp={"username": "reports@example.com", "password": "s3cret"})
        report = await send_batch_async(batch(20), config=config)

    assert report.run.fatal is not None
    assert (report.run.fatal.code, report.run.fatal.enhanced) == (535, "5.7.139")
    assert server.delivered == 0
    assert {r.status for r in report.results} == {Status.QUEUED}
    assert {r.attempts for r in report.results} == {0}
    assert rows(db_url, "SELECT count(*) FROM messages WHERE lease_owner IS NOT NULL") == [(0,)]
    # The fatal attempts are on record (one per connection already opening,
    # at most the initial cap of 2); nothing was tried after them.
    attempts = rows(db_url, "SELECT outcome, stage FROM attempts")
    assert set(attempts) == {("fatal", "auth")}
    assert 1 <= len(attempts) <= 2


async def test_dropped_connections_are_retried_without_loss(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer(drop_after_data=7) as server:
        report = await send_batch_async(batch(40), config=make_config(server))

    assert report.ok
    assert server.drops >= 5
    assert len(server.deliveries) == 40
    assert set(server.deliveries.values()) == {1}


async def test_a_transient_data_reply_makes_the_message_dead_after_max_attempts(
    make_config: MakeConfig, db_url: str
) -> None:
    with ThrottlingSMTPServer(data_reply="451 4.3.0 Temporary server error") as server:
        config = make_config(server, retry={"max_attempts": 4})
        report = await send_batch_async(batch(3), config=config)

    assert [r.status for r in report.results] == [Status.DEAD] * 3
    assert [r.attempts for r in report.results] == [4, 4, 4]
    assert rows(db_url, "SELECT count(*) FROM attempts WHERE outcome = 'transient'") == [(12,)]


async def test_a_permanent_data_reply_fails_at_once(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer(data_reply="554 5.6.0 Message content rejected") as server:
        report = await send_batch_async(batch(2), config=make_config(server))

    assert [(r.status, r.attempts) for r in report.results] == [(Status.FAILED, 1)] * 2


async def test_retries_keep_the_message_id(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer(limit=1, latency_s=0.01) as server:
        config = make_config(server, limiter={"initial_cap": 4})
        report = await send_batch_async(batch(12), config=config)

    assert report.ok
    assert server.rejections >= 1
    assert sorted(server.deliveries) == sorted(f"<report-{n}@example.com>" for n in range(12))


async def test_stop_finishes_sends_in_progress_and_releases_the_rest(
    make_config: MakeConfig, db_url: str
) -> None:
    stopper = StopAfter(10)
    with ThrottlingSMTPServer(latency_s=0.02) as server:
        config = make_config(server, limiter={"initial_cap": 2, "max_cap": 2})
        with Agent(config, plugins=load_plugins(entry_points=False, extra=[stopper])) as agent:
            agent.enqueue(compose(m) for m in batch(100))
            stopper.dispatcher = agent.dispatcher()
            first = await stopper.dispatcher.run()
            stopper.dispatcher = None
            # Every message not sent is queued again, none left leased; the
            # feeder had leased only some of them (a page ahead of the workers).
            waiting = rows(
                db_url,
                "SELECT count(*) FROM messages WHERE status = 'queued' AND lease_owner IS NULL",
            )
            second = await agent.run()

    assert first.interrupted
    assert 10 <= first.sent < 100
    assert waiting == [(100 - first.sent,)]
    assert first.released <= 100 - first.sent
    assert first.sent + second.sent == 100
    assert len(server.deliveries) == 100
    assert set(server.deliveries.values()) == {1}
    assert rows(db_url, "SELECT count(*) FROM messages WHERE status != 'sent'") == [(0,)]


async def test_connections_are_reused(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer() as server:
        config = make_config(server, limiter={"initial_cap": 2, "max_cap": 2})
        report = await send_batch_async(batch(60), config=config)

    assert report.ok
    assert server.connections <= 4
