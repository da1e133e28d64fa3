"""What one attempt means: the rows to write, the message's next state, and the
signal for the limiter and the run. Pure functions, no I/O."""

from __future__ import annotations

import datetime as dt
import random

import attrs

from adaptsend._models import AttemptRecord, ClaimedMessage, Decision, Outcome, Reply, Status
from adaptsend.config._redact import Redactor
from adaptsend.config._settings import RetryConfig
from adaptsend.engine._backoff import retry_delay
from adaptsend.transports._contract import (
    TRANSPORT_RULE,
    ClassifiesReplies,
    Classify,
    SendResult,
    Transport,
)


def reply_classifier(transport: Transport, *, default: Classify) -> Classify:
    """What the replies of ``transport`` mean: its own ``classify`` when it
    has one (:class:`ClassifiesReplies`), else ``default``, the reply
    classifier that judged every transport's replies before transports
    could judge their own. Asked once per run: the check is not cheap."""
    if isinstance(transport, ClassifiesReplies):
        return transport.classify
    return default


_RETRYABLE = frozenset({Outcome.THROTTLED, Outcome.RATE, Outcome.TRANSIENT, Outcome.UNKNOWN})
#: Refusals for the provider's load, not the message's fault: counted as
#: throttles, never as attempts.
_THROTTLES = frozenset({Outcome.THROTTLED, Outcome.RATE})


@attrs.frozen(kw_only=True)
class AttemptContext:
    """What the agent knew when the attempt started."""

    started_at: dt.datetime
    duration_s: float
    cap: int
    in_flight: int


@attrs.frozen(kw_only=True)
class Judgement:
    """The result of judging one attempt.

    ``signal`` is the transaction's outcome as the limiter and the run see it:
    THROTTLED cuts the cap, RATE the message rate, SENT counts as a success,
    FATAL stops the run.
    """

    attempts: tuple[AttemptRecord, ...]
    decision: Decision
    signal: Outcome
    #: The transaction's reply, secrets redacted: what a fatal stop reports.
    reply: Reply | None = None


@attrs.frozen(kw_only=True)
class Judge:
    #: What a reply without a verdict means: the transport's word
    #: (:func:`reply_classifier`), for a transaction and for each refused recipient.
    classify: Classify
    retry: RetryConfig
    #: The limiter's floor: below it no cut can back off for a throttle.
    min_cap: int = 1
    rng: random.Random = attrs.field(factory=random.Random)
    #: Configured secrets, hidden in every reply before it is recorded or shown.
    redactor: Redactor = attrs.field(factory=Redactor)
    #: How long a quota reply pauses the sending key (``[limiter] quota_pause_s``).
    quota_pause_s: float = 3600.0

    def clean(self, reply: Reply) -> Reply:
        """``reply`` with every configured secret redacted."""
        return self.redactor.reply(reply)

    def judge(
        self,
        message: ClaimedMessage,
        result: SendResult,
        context: AttemptContext,
    ) -> Judgement:
        """Judge one transaction (or failed connection) for one message: by
        the verdict on the result when it has one, else by what the reply
        means (:attr:`classify`). Every reply in the judgement has its
        secrets redacted, before it is classified."""
        if self.redactor:
            result = self._cleaned(result)
        if result.outcome is None:
            verdict = self.classify(result.reply)
            signal, rule = verdict.outcome, verdict.rule
        else:
            signal, rule = result.outcome, result.rule or TRANSPORT_RULE
        refused = result.refused
        all_refused = bool(refused) and len(refused) >= len(message.envelope.recipients)
        per_recipient = refused and (
            signal is Outcome.SENT or (all_refused and signal not in _STOPPING)
        )
        if per_recipient:
            return self._judge_recipients(message, result, signal, rule, context)
        record = self._record(message, result.reply, signal, rule, context)
        return Judgement(
            attempts=(record,),
            decision=self._decision(message, signal, result.reply, context),
            signal=signal,
            reply=result.reply,
        )

    def _cleaned(self, result: SendResult) -> SendResult:
        clean = self.redactor.reply
        refused = {rcpt: clean(reply) for rcpt, reply in result.refused.items()}
        return attrs.evolve(result, reply=clean(result.reply), refused=refused)

    def _judge_recipients(
        self,
        message: ClaimedMessage,
        result: SendResult,
        signal: Outcome,
        rule: str,
        context: AttemptContext,
    ) -> Judgement:
        verdicts = {rcpt: self.classify(reply) for rcpt, reply in result.refused.items()}
        records = [
            self._record(
                message, reply, verdicts[rcpt].outcome, verdicts[rcpt].rule, context, recipient=rcpt
            )
            for rcpt, reply in result.refused.items()
        ]
        if signal is Outcome.SENT:
            records.insert(0, self._record(message, result.reply, signal, rule, context))
        retry = tuple(r for r, v in verdicts.items() if v.outcome in _RETRYABLE)
        failed = tuple(r for r, v in verdicts.items() if v.outcome not in _RETRYABLE)
        if retry:
            outcome, left = Outcome.TRANSIENT, retry
        elif failed:
            outcome, left = Outcome.PERMANENT, failed
        else:
            outcome, left = Outcome.SENT, ()
        last = result.refused[left[0]] if left else result.reply
        decision = self._decision(message, outcome, last, context)
        narrowed = attrs.evolve(decision, recipients=left or None)
        return Judgement(
            attempts=tuple(records), decision=narrowed, signal=signal, reply=result.reply
        )

    def _decision(
        self, message: ClaimedMessage, outcome: Outcome, reply: Reply, context: AttemptContext
    ) -> Decision:
        attempts, throttles = message.attempts, message.throttles
        now = context.started_at
        if outcome in _RETRYABLE and self._too_old(message, now):
            # Five days by default: as long as a mail server keeps mail.
            attempts += outcome not in _THROTTLES
            throttles += outcome in _THROTTLES
            return _decide(message, Status.DEAD, attempts, throttles, reply)
        if outcome is Outcome.FATAL or outcome is Outcome.QUOTA:
            # Not the message's fault: back to the queue untouched, after a
            # quota's pause.
            status = Status.RETRY if attempts or throttles else Status.QUEUED
            if outcome is Outcome.QUOTA:
                now += dt.timedelta(seconds=self.quota_pause_s)
            return _decide(message, status, attempts, throttles, reply, next_at=now)
        if outcome is Outcome.SENT:
            return _decide(message, Status.SENT, attempts + 1, throttles, reply)
        if outcome is Outcome.PERMANENT:
            return _decide(message, Status.FAILED, attempts + 1, throttles, reply)
        if outcome in _THROTTLES:
            throttles += 1
            if throttles >= self.retry.max_throttles:
                return _decide(message, Status.DEAD, attempts, throttles, reply)
            if outcome is Outcome.RATE or context.cap > self.min_cap:
                # The limiter can still cut for this refusal, and that cut is
                # the back-off: fewer connections, not a later try. The
                # message rate has no floor that matters here: its pacing is
                # the back-off of a "too fast" reply.
                return _decide(message, Status.RETRY, attempts, throttles, reply, next_at=now)
            tries = throttles
        else:
            # A transient failure, or an unknown outcome: the message may have
            # been delivered, and is sent again (same Message-ID) after a wait.
            attempts += 1
            if attempts >= self.retry.max_attempts:
                return _decide(message, Status.DEAD, attempts, throttles, reply)
            tries = attempts
        delay = retry_delay(
            Outcome.THROTTLED if outcome in _THROTTLES else Outcome.TRANSIENT,
            tries,
            base_delay_s=self.retry.base_delay_s,
            max_delay_s=self.retry.max_delay_s,
            rng=self.rng,
        )
        next_at = now + dt.timedelta(seconds=delay)
        return _decide(message, Status.RETRY, attempts, throttles, reply, next_at=next_at)

    def _too_old(self, message: ClaimedMessage, now: dt.datetime) -> bool:
        queued_at = message.queued_at
        if queued_at is None:
            return False
        return (now - queued_at).total_seconds() >= self.retry.max_age_s

    @staticmethod
    def _record(
        message: ClaimedMessage,
        reply: Reply,
        outcome: Outcome,
        rule: str,
        context: AttemptContext,
        *,
        recipient: str | None = None,
    ) -> AttemptRecord:
        return AttemptRecord(
            message_pk=message.id,
            started_at=context.started_at,
            duration_s=context.duration_s,
            outcome=outcome,
            reply=reply,
            cap=context.cap,
            in_flight=context.in_flight,
            recipient=recipient,
            rule=rule,
        )


_STOPPING = frozenset({Outcome.THROTTLED, Outcome.RATE, Outcome.FATAL, Outcome.QUOTA})


def _decide(
    message: ClaimedMessage,
    status: Status,
    attempts: int,
    throttles: int,
    reply: Reply,
    *,
    next_at: dt.datetime | None = None,
) -> Decision:
    return Decision(
        message_pk=message.id,
        status=status,
        attempts=attempts,
        throttles=throttles,
        next_attempt_at=next_at,
        last_reply=reply,
    )
