"""Judging one attempt: the message's next state and the signal for the run."""

from __future__ import annotations

import datetime as dt
import random

from adaptsend._models import ClaimedMessage, Envelope, Outcome, Reply, Stage, Status
from adaptsend.classify._classifier import Classifier
from adaptsend.config._settings import RetryConfig
from adaptsend.engine._judge import AttemptContext, Judge
from adaptsend.transports._contract import SendResult

NOW = dt.datetime(2026, 11, 29, 12, 0, 0)
CONTEXT = AttemptContext(started_at=NOW, duration_s=0.5, cap=3, in_flight=2)
#: An attempt made at min_cap (1 by default), where no cut is left to back off.
AT_FLOOR = AttemptContext(started_at=NOW, duration_s=0.5, cap=1, in_flight=1)
OK = Reply(code=250, enhanced="2.0.0", text="Queued", stage=Stage.DATA)
THROTTLE = Reply(code=432, enhanced="4.3.2", text="Concurrent connections limit exceeded")
UNKNOWN_USER = Reply(code=550, enhanced="5.1.1", text="User unknown", stage=Stage.RCPT)
TOO_FAST = Reply(code=454, text="Throttling failure: Maximum sending rate exceeded.")
MAILBOX_BUSY = Reply(code=450, enhanced="4.2.1", text="Mailbox busy", stage=Stage.RCPT)


def judge(**retry: int) -> Judge:
    return Judge(
        classify=Classifier().classify,
        retry=RetryConfig(base_delay_s=2, max_delay_s=60, **retry),
        rng=random.Random(7),
    )


def claimed(*recipients: str, attempts: int = 0, throttles: int = 0) -> ClaimedMessage:
    envelope = Envelope(
        message_id="<m@example.com>",
        sender="r@example.com",
        recipients=recipients or ("a@example.com",),
        content=b"x",
    )
    return ClaimedMessage(id=7, envelope=envelope, attempts=attempts, throttles=throttles)


def test_sent_counts_an_attempt_and_is_final() -> None:
    result = judge().judge(claimed(), SendResult(reply=OK), CONTEXT)
    assert result.signal is Outcome.SENT
    assert (result.decision.status, result.decision.attempts) == (Status.SENT, 1)
    assert [a.outcome for a in result.attempts] == [Outcome.SENT]
    assert (result.attempts[0].cap, result.attempts[0].in_flight) == (3, 2)


def test_a_first_throttle_is_due_at_once_without_using_the_attempt_budget() -> None:
    result = judge().judge(claimed(attempts=2), SendResult(reply=THROTTLE), CONTEXT)
    decision = result.decision
    assert result.signal is Outcome.THROTTLED
    assert (decision.status, decision.attempts, decision.throttles) == (Status.RETRY, 2, 1)
    assert decision.next_attempt_at == NOW


def test_a_repeated_throttle_is_due_at_once_while_the_cap_can_still_be_cut() -> None:
    decision = judge().judge(claimed(throttles=3), SendResult(reply=THROTTLE), CONTEXT).decision
    assert (decision.status, decision.throttles) == (Status.RETRY, 4)
    assert decision.next_attempt_at == NOW


def test_a_second_throttle_at_the_floor_waits_half_to_one_and_a_half_base_delays() -> None:
    one_judge = judge()
    decisions = [
        one_judge.judge(claimed(throttles=1), SendResult(reply=THROTTLE), AT_FLOOR).decision
        for _ in range(200)
    ]
    assert {(d.status, d.throttles) for d in decisions} == {(Status.RETRY, 2)}
    waits = [(d.next_attempt_at - NOW).total_seconds() for d in decisions if d.next_attempt_at]
    # base_delay_s is 2: the documented 1 to 3 seconds, spread over the range.
    assert len(waits) == 200
    assert 1.0 <= min(waits) < 1.2
    assert 2.8 < max(waits) <= 3.0


def test_a_third_throttle_at_the_floor_waits_longer() -> None:
    decision = judge().judge(claimed(throttles=2), SendResult(reply=THROTTLE), AT_FLOOR).decision
    assert decision.next_attempt_at is not None
    assert NOW + dt.timedelta(seconds=2) <= decision.next_attempt_at
    assert decision.next_attempt_at <= NOW + dt.timedelta(seconds=6)


def test_throttles_past_max_throttles_make_the_message_dead() -> None:
    result = judge(max_throttles=5).judge(claimed(throttles=4), SendResult(reply=THROTTLE), CONTEXT)
    assert (result.decision.status, result.decision.throttles) == (Status.DEAD, 5)


def test_a_too_fast_reply_is_a_throttle_due_at_once_even_at_the_floor() -> None:
    # The message rate's cut paces the retry, whatever the connection cap.
    for context in (CONTEXT, AT_FLOOR):
        message = claimed(attempts=2, throttles=3)
        result = judge().judge(message, SendResult(reply=TOO_FAST), context)
        decision = result.decision
        assert result.signal is Outcome.RATE
        assert [a.outcome for a in result.attempts] == [Outcome.RATE]
        assert (decision.status, decision.attempts, decision.throttles) == (Status.RETRY, 2, 4)
        assert decision.next_attempt_at == NOW
    dead = judge(max_throttles=5).judge(claimed(throttles=4), SendResult(reply=TOO_FAST), CONTEXT)
    assert (dead.decision.status, dead.decision.throttles) == (Status.DEAD, 5)


def test_transient_failures_back_off_and_die_at_max_attempts() -> None:
    busy = Reply(code=451, enhanced="4.3.0", text="Temporary failure")
    first = judge(max_attempts=3).judge(claimed(), SendResult(reply=busy), CONTEXT)
    last = judge(max_attempts=3).judge(claimed(attempts=2), SendResult(reply=busy), CONTEXT)
    assert (first.decision.status, first.decision.attempts) == (Status.RETRY, 1)
    assert (last.decision.status, last.decision.attempts) == (Status.DEAD, 3)
    assert last.decision.next_attempt_at is None


def test_a_fatal_reply_puts_the_message_back_untouched() -> None:
    denied = Reply(
        code=535, enhanced="5.7.139", text="Authentication unsuccessful", stage=Stage.AUTH
    )
    result = judge().judge(claimed(attempts=1), SendResult(reply=denied), CONTEXT)
    assert result.signal is Outcome.FATAL
    assert (result.decision.status, result.decision.attempts) == (Status.RETRY, 1)
    fresh = judge().judge(claimed(), SendResult(reply=denied), CONTEXT)
    assert (fresh.decision.status, fresh.decision.attempts) == (Status.QUEUED, 0)


def test_partial_refusal_fails_only_the_refused_recipient() -> None:
    result = judge().judge(
        claimed("a@example.com", "nobody@example.com"),
        SendResult(reply=OK, refused={"nobody@example.com": UNKNOWN_USER}),
        CONTEXT,
    )
    assert result.signal is Outcome.SENT
    assert result.decision.status is Status.FAILED
    assert result.decision.recipients == ("nobody@example.com",)
    assert [(a.outcome, a.recipient, a.rule) for a in result.attempts] == [
        (Outcome.SENT, None, "sent"),
        (Outcome.PERMANENT, "nobody@example.com", "permanent"),
    ]


def test_a_temporary_recipient_refusal_is_retried_for_that_recipient_only() -> None:
    result = judge().judge(
        claimed("a@example.com", "busy@example.com", "nobody@example.com"),
        SendResult(
            reply=OK,
            refused={"busy@example.com": MAILBOX_BUSY, "nobody@example.com": UNKNOWN_USER},
        ),
        CONTEXT,
    )
    assert result.decision.status is Status.RETRY
    assert result.decision.recipients == ("busy@example.com",)
    assert [a.rule for a in result.attempts] == ["sent", "temporary", "permanent"]


def test_every_recipient_throttled_is_a_throttle_of_the_whole_message() -> None:
    throttled = Reply(code=432, enhanced="4.3.2", text="Concurrent connections", stage=Stage.RCPT)
    result = judge().judge(
        claimed("a@example.com", "b@example.com"),
        SendResult(
            reply=throttled, refused={"a@example.com": throttled, "b@example.com": throttled}
        ),
        CONTEXT,
    )
    assert result.signal is Outcome.THROTTLED
    assert (result.decision.status, result.decision.throttles) == (Status.RETRY, 1)
    assert result.decision.recipients is None


def test_every_recipient_unknown_fails_the_message() -> None:
    result = judge().judge(
        claimed("x@example.com"),
        SendResult(reply=UNKNOWN_USER, refused={"x@example.com": UNKNOWN_USER}),
        CONTEXT,
    )
    assert result.signal is Outcome.PERMANENT
    assert result.decision.status is Status.FAILED
    assert [a.recipient for a in result.attempts] == ["x@example.com"]


def test_each_record_names_the_rule_that_judged_its_reply() -> None:
    for reply, rule in ((THROTTLE, "concurrency-status"), (TOO_FAST, "rate"), (OK, "sent")):
        [record] = judge().judge(claimed(), SendResult(reply=reply), CONTEXT).attempts
        assert record.rule == rule


def test_the_transports_verdict_wins_over_the_classifier_and_keeps_its_name() -> None:
    # The classifier would call a timeout at TLS transient (rule no-reply).
    odd = Reply(code=None, text="timed out", stage=Stage.TLS)
    assert judge().judge(claimed(), SendResult(reply=odd), CONTEXT).attempts[0].rule == "no-reply"
    forced = SendResult(reply=odd, outcome=Outcome.FATAL, rule="configuration")
    result = judge().judge(claimed(), forced, CONTEXT)
    assert result.signal is Outcome.FATAL
    assert result.decision.status is Status.QUEUED
    assert [a.rule for a in result.attempts] == ["configuration"]


def test_a_transports_verdict_without_a_name_is_recorded_as_the_transports() -> None:
    lost = SendResult(
        reply=Reply(code=None, text="gone", stage=Stage.DATA), outcome=Outcome.UNKNOWN
    )
    [record] = judge().judge(claimed(), lost, CONTEXT).attempts
    assert (record.outcome, record.rule) == (Outcome.UNKNOWN, "transport")
